"""Gunicorn settings for Lifeguard's web process."""

import glob
import os
import shutil
import tempfile

bind = os.environ.get("BIND", f"0.0.0.0:{os.environ.get('PORT', '5000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = 30
accesslog = "-"
# The access log must never hold the ingest token that Scalr puts in the URL.
logger_class = "app.logging_setup.RedactingGunicornLogger"

# Several processes answer /metrics: prometheus_client's multiprocess mode keeps
# each one's counters in a file of this directory, and /metrics adds them up.
# It must be set before a worker imports prometheus_client, so here, in the master.
_own_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _own_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="lifeguard-metrics-")


def on_starting(server):
    """Start from zero: files of an earlier master would be added to this one's counts."""
    for path in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")):
        os.remove(path)


def child_exit(server, worker):
    """Drop a dead worker's live gauges (its counters stay counted)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics directory this master made."""
    if _own_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
