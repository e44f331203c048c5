"""The load tests: `make bench` (run.py: the shop with and without the shelf under a
shopper-like locust load) and `make stack-bench` (stack.py: 3 app processes against 1 through
nginx, with wrk)."""
