"""GET /metrics with a Scalr environment configured, on the real stack: answered at once,
and ingest is not held up while it is collected."""

from __future__ import annotations

import time

import requests


def test_metrics_answers_quickly_with_scalr_configured(make_stack):
    stack = make_stack("rules: []\n")
    started = time.monotonic()
    answer = requests.get(f"http://127.0.0.1:{stack.web.port}/metrics", timeout=20)
    assert answer.status_code == 200
    assert "lifeguard_scalr_budget_left" in answer.text
    assert time.monotonic() - started < 5, "the budget lookup waited for the collector's lock"
    post = requests.post(stack.web.events_url, data={"event": "OnHostUp"}, timeout=5)
    assert post.status_code == 202
