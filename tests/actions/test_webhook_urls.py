"""WEBHOOK_ALLOWED_URLS is compared part by part: scheme, host, port, path; never as text."""

from __future__ import annotations

import pytest

from app.actions.webhook import url_allowed

ALLOWED = ("https://chat.example/hooks", "http://127.0.0.1:", "https://pager.example:8443/")


@pytest.mark.parametrize(
    "url",
    [
        "https://chat.example/hooks",
        "https://chat.example/hooks/ops",
        "https://CHAT.example/hooks/ops?x=1",
        "https://chat.example:443/hooks/ops",
        "http://127.0.0.1:5000/events",
        "http://127.0.0.1/anything",
        "https://pager.example:8443/v1/alert",
    ],
)
def test_admitted(url):
    assert url_allowed(url, ALLOWED)


@pytest.mark.parametrize(
    "url",
    [
        "https://chat.example.evil.net/hooks/ops",  # a text prefix would let this through
        "http://127.0.0.1:@evil.net/",  # and this: the host is evil.net
        "https://user:pw@chat.example/hooks/ops",
        "https://chat.example/hooksevil",
        "https://chat.example/other",
        "http://chat.example/hooks/ops",  # the scheme must match
        "https://chat.example:8443/hooks/ops",  # so must the port
        "https://pager.example/v1/alert",
        "http://127.0.0.2:5000/",
        "ftp://127.0.0.1/x",
        "http://127.0.0.1:99999/",
        "",
        "not a url",
        "//chat.example/hooks",
    ],
)
def test_refused(url):
    assert not url_allowed(url, ALLOWED)


def test_nothing_is_admitted_by_an_empty_list():
    assert not url_allowed("https://chat.example/hooks", ())


def test_an_entry_without_a_host_admits_its_scheme():
    assert url_allowed("http://anything.example/x", ("http://",))
    assert not url_allowed("https://anything.example/x", ("http://",))
