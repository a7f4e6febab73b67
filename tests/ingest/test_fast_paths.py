"""The hot path's shortcuts give exactly the answers of the plain code they skip."""

from __future__ import annotations

import ipaddress
import itertools
import random

import pytest

from app.ingest import store
from app.ingest.parsing import parse_ip


def by_ipaddress(text: str) -> str | None:
    """parse_ip's answer without its dotted-quad shortcut."""
    text = text.strip()
    if not text or len(text) > 64 or "%" in text:
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def candidates() -> list[str]:
    octets = ["0", "00", "01", "1", "9", "10", "99", "100", "199", "200", "249", "250", "255"]
    octets += ["256", "300", "999", "1000", "-1", "+1", " 1", "1 ", "a", "", "\u0661", "٣"]
    rng = random.Random(15)
    found = [".".join(rng.choice(octets) for _ in range(4)) for _ in range(3000)]
    found += [".".join(p) for p in itertools.product(["0", "255", "256", "01"], repeat=4)]
    found += ["1.2.3", "1.2.3.4.5", "1.2.3.4.", ".1.2.3.4", "1..2.3", "1.2.3.4\n", "::1"]
    found += ["::ffff:1.2.3.4", "fe80::1", "2001:db8::1", "1.2.3.4/32", "\uff10.1.2.3"]
    return found


@pytest.mark.parametrize("text", candidates())
def test_parse_ip_answers_as_ipaddress_does(text):
    assert parse_ip(text) == by_ipaddress(text)


def full_walk(value):
    if isinstance(value, str):
        return value.replace("\x00", "\u2400")
    if isinstance(value, dict):
        return {full_walk(k): full_walk(v) for k, v in value.items()}
    if isinstance(value, list):
        return [full_walk(v) for v in value]
    return value


@pytest.mark.parametrize(
    "value",
    [
        {"body": "event=OnHostDown", "query": {"token": ["[REDACTED]"]}, "headers": {}},
        {"body": "a\x00b", "query": {}},
        {"k\x00": ["x", {"y": "z\x00"}]},
        {"literal": "back\\x00slash"},
        ["\x00"],
        [1, None, True, 2.5, {"n": "\u2400"}],
        {},
        [],
        "plain",
        "nul\x00",
    ],
)
def test_scrub_answers_as_the_full_walk(value):
    assert store.scrub(value) == full_walk(value)
