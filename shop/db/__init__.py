"""PostgreSQL with a deadline on every wait of a web request (see base.py)."""
