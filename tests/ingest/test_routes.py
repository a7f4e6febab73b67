"""The one place ingest's typed refusals become HTTP answers."""

from __future__ import annotations

import inspect

import pytest

from app.ingest import auth, parsing, routes, store, wire


def refusal_classes() -> list[type[Exception]]:
    found = []
    for module in (auth, wire, store, parsing):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and issubclass(cls, routes.REFUSALS):
                found.append(cls)
    return found


ABSTRACT = {auth.AuthError, auth.SignatureError, wire.WireError}


@pytest.mark.parametrize("cls", refusal_classes(), ids=lambda c: c.__name__)
def test_every_refusal_has_its_own_answer(cls):
    if cls in ABSTRACT:
        assert cls not in routes.ANSWERS
    else:
        assert cls in routes.ANSWERS


def test_the_answer_carries_the_errors_message():
    error = routes.api_error(wire.DuplicateField("The field 'event' appears 2 times."))
    assert (error.status, error.code, error.message) == (
        400,
        "duplicate_field",
        "The field 'event' appears 2 times.",
    )
    assert error.headers == {}


def test_a_flood_answer_says_when_to_come_back():
    error = routes.api_error(auth.Flooded(17))
    assert (error.status, error.code, error.headers) == (
        429,
        "too_many_requests",
        {"Retry-After": "17"},
    )
    assert error.message == "Too many posts from this address; slow down."


def test_a_stale_date_answer():
    error = routes.api_error(auth.StaleDate(301.7, 300))
    assert (error.status, error.code) == (401, "stale_date")
    assert error.message == "The Date header is 301 s away from now (at most 300 s)."


def test_an_unknown_error_is_not_answered_as_a_refusal():
    with pytest.raises(TypeError):
        routes.api_error(RuntimeError("boom"))
