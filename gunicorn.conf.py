"""Gunicorn settings for Lifeguard's web process."""

import os

bind = os.environ.get("BIND", f"0.0.0.0:{os.environ.get('PORT', '5000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = 30
accesslog = "-"
# The access log must never hold the ingest token that Scalr puts in the URL.
logger_class = "app.logging_setup.RedactingGunicornLogger"
