"""gunicorn reads ./gunicorn.conf.py from its working directory: in a checkout, the settings the package
ships (annotator/gunicorn_conf.py), so `gunicorn 'annotator:create_app()'` here runs as deployed."""
from annotator.gunicorn_conf import *  # noqa: F403
