"""Inter-annotator agreement (being split into modules: see kappa.py)."""
from annotator.stats.agreement.kappa import *  # noqa: F401,F403
from annotator.stats.agreement.kappa import __all__  # noqa: F401
