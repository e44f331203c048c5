"""Developer scripts. A package so that bench/ and the tests import them (`from scripts import
services`); services.py and the others still run as plain scripts (`python scripts/...`)."""
