"""Use cases: plain functions over a SQLAlchemy Session that take data and return data (no Flask)."""
