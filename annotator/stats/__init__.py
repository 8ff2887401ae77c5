"""Pure algorithms: functions that take data and return data.

Nothing here imports Flask, the database or any other part of the app (only
other pure modules such as ``annotator.stats.segment``), so they run the same in a
web worker, a CLI command, a test or a notebook.
"""
