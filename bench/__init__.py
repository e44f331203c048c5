"""`make bench`: the shop with and without the shelf under a shopper-like load (see run.py)."""
