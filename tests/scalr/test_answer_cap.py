"""The client never reads an unbounded answer into memory: past the cap, a typed error."""

from __future__ import annotations

import tracemalloc

import pytest

from app.scalr import client as client_module
from app.scalr.client import ScalrClient
from app.scalr.errors import ScalrTransportError
from simulator import Fault, SimState

LIMIT = 1024 * 1024


def test_an_answer_past_the_cap_is_refused_unread(
    scalr_client: ScalrClient, sim_state: SimState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "MAX_ANSWER_BYTES", LIMIT)
    sim_state.add_fault(Fault("huge", action="FarmsList", size=64 * LIMIT, remaining=1))
    tracemalloc.start()
    try:
        with pytest.raises(ScalrTransportError, match="more than the 1,048,576 bytes") as caught:
            scalr_client.farms_list()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.retryable is False  # the same answer would come again
    assert caught.value.status_code == 200
    # A 64 MiB answer, of which little was held (tracemalloc counts every thread's
    # allocations, other tests' leftovers too, so the bound is generous).
    assert peak < 32 * LIMIT
    # The connection is not reused half-read: the next call is answered normally.
    assert scalr_client.hello()["Result"] == "1"


def test_a_declared_length_past_the_cap_is_refused_before_reading(
    scalr_client: ScalrClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Answer:
        headers = {"Content-Length": str(LIMIT + 1)}
        status_code = 200

        def iter_content(self, chunk_size: int) -> object:
            raise AssertionError("the body was read")

    with pytest.raises(ScalrTransportError, match="1,048,577 bytes"):
        client_module.read_capped(Answer(), "FarmsList", 5.0, limit=LIMIT)  # type: ignore[arg-type]


def test_an_answer_within_the_cap_is_read(
    scalr_client: ScalrClient, sim_state: SimState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "MAX_ANSWER_BYTES", LIMIT)
    assert len(scalr_client.farms_list()["FarmSet"]) == 2
