"""gunicorn settings shared by `make run`, `make stack` and the Dockerfile."""

import glob
import os

from prometheus_client import multiprocess

wsgi_app = "config.wsgi"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads per worker: a request waiting for a hung backend (at most its deadline) holds one
# thread, not the whole worker, so pages on the shelf keep being served beside it.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# A request that outlives this is killed; the shelf's Redis timeout keeps pages far below it.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")


def child_exit(server, worker) -> None:
    """Drop a dead worker's live gauges from the /metrics totals (multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)


def on_starting(server) -> None:
    """Start the /metrics totals from zero: an earlier run's files would count twice."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        # Only prometheus-client's own files: the variable might name a folder with others.
        for stale in glob.glob(os.path.join(directory, "*.db")):
            os.unlink(stale)
