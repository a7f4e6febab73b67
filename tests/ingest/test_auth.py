"""The ingest token, the allow-list, the flood limit and the webhook signature, without HTTP."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest

from app.ingest import auth
from tests.ingest.golden import WEBHOOK_BODY, WEBHOOK_DATE, WEBHOOK_KEY, WEBHOOK_SIGNATURE

BODY = WEBHOOK_BODY.encode()
NOW = datetime(2017, 4, 11, 11, 1, 30, tzinfo=UTC)
TOKEN = "s3cr3t-token"


# --- the ingest token -----------------------------------------------------------------------


def test_the_configured_token_passes():
    auth.check_ingest_token(TOKEN, TOKEN)


@pytest.mark.parametrize(
    ("expected", "presented", "error"),
    [
        (None, TOKEN, auth.IngestNotConfigured),
        ("", TOKEN, auth.IngestNotConfigured),
        (TOKEN, None, auth.MissingToken),
        (TOKEN, "nope", auth.BadToken),
        (TOKEN, TOKEN[:-1], auth.BadToken),
        (TOKEN, TOKEN + "x", auth.BadToken),
        (TOKEN, "", auth.BadToken),
        (TOKEN, "s3cr3t-tokén", auth.BadToken),
    ],
    ids=["unset", "empty", "missing", "wrong", "prefix", "longer", "blank", "non-ascii"],
)
def test_token_refusals(expected, presented, error):
    with pytest.raises(error):
        auth.check_ingest_token(expected, presented)


def test_presented_token_prefers_the_bearer_header():
    query = {"token": ["from-query"]}
    assert auth.presented_token(query, "Bearer from-header") == "from-header"
    assert auth.presented_token(query, None) == "from-query"
    assert auth.presented_token(query, "Basic abc") == "from-query"
    assert auth.presented_token({}, None) is None
    assert auth.presented_token({"token": [""]}, None) == ""


# --- the allow-list and the flood limit -----------------------------------------------------

NETS = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32"))


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("10.1.2.3", True),
        ("11.1.2.3", False),
        ("::ffff:10.1.2.3", True),
        ("2001:db8::1", True),
        ("2001:db9::1", False),
        ("not-an-address", False),
        ("", False),
        (None, False),
    ],
)
def test_address_allowed(address, allowed):
    assert auth.address_allowed(address, NETS) is allowed


def test_no_allow_list_lets_everyone_in():
    assert auth.address_allowed(None, ()) and auth.address_allowed("6.6.6.6", [])


def test_admit_refuses_an_address_outside_the_list_and_counts_nothing():
    with pytest.raises(auth.AddressNotAllowed) as refused:
        auth.admit("6.6.6.6", NETS)
    assert refused.value.address == "6.6.6.6"
    assert str(refused.value) == "Posts from 6.6.6.6 are not allowed."
    for _ in range(5):
        auth.admit("10.0.0.1", NETS)  # admitted posts are never counted


def test_only_failed_authentication_is_counted_and_limited():
    limiter = auth.FloodLimiter(1, clock=lambda: 20.0)
    bad = auth.BadToken("The ingest token is not valid.")
    assert auth.counted_refusal("10.0.0.1", limiter, bad) is bad
    flooded = auth.counted_refusal("10.0.0.1", limiter, bad)
    assert isinstance(flooded, auth.Flooded) and flooded.retry_after == 40
    assert auth.counted_refusal("10.0.0.2", limiter, bad) is bad


def test_shared_counts_hold_across_limiters_of_one_file(tmp_path):
    # Two limiters over one file stand for two gunicorn workers of one machine.
    path = tmp_path / "failures.bin"
    one = auth.FloodLimiter(3, clock=lambda: 120.0, path=path)
    two = auth.FloodLimiter(3, clock=lambda: 120.0, path=path)
    assert [one.allow("a")[0], two.allow("a")[0], one.allow("a")[0]] == [True, True, True]
    assert two.allow("a")[0] is False and one.allow("a")[0] is False
    assert two.allow("b")[0] is True
    later = auth.FloodLimiter(3, clock=lambda: 185.0, path=path)
    assert later.allow("a") == (True, 55)  # a new minute starts from zero


def test_flood_limiter_counts_per_address_and_forgets_each_minute():
    now = [120.0]
    limiter = auth.FloodLimiter(2, clock=lambda: now[0])
    assert [limiter.allow("a")[0] for _ in range(3)] == [True, True, False]
    assert limiter.allow("b") == (True, 60)
    now[0] = 185.5
    assert limiter.allow("a") == (True, 54)


def test_flood_limiter_off_when_zero():
    limiter = auth.FloodLimiter(0)
    assert all(limiter.allow("a")[0] for _ in range(100))


# --- the 5.x webhook signature (scalr-protocol.md 2.4, golden example 6.6) ------------------


def check(**kw):
    args = {
        "key": WEBHOOK_KEY,
        "body": BODY,
        "date_header": WEBHOOK_DATE,
        "signature": WEBHOOK_SIGNATURE,
        "max_skew": 300,
        "now": NOW,
    }
    args.update(kw)
    auth.check_webhook_signature(**args)


def test_golden_signature_is_what_we_compute():
    assert auth.webhook_signature(WEBHOOK_KEY, BODY, WEBHOOK_DATE) == WEBHOOK_SIGNATURE


def test_golden_delivery_passes():
    check()


def test_signature_is_read_case_and_blank_insensitively():
    check(signature=f"  {WEBHOOK_SIGNATURE.upper()} ")


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"key": None}, auth.WebhooksDisabled),
        ({"key": ""}, auth.WebhooksDisabled),
        ({"date_header": None}, auth.MissingDate),
        ({"date_header": ""}, auth.MissingDate),
        ({"signature": None}, auth.MissingSignature),
        ({"signature": ""}, auth.MissingSignature),
        ({"date_header": None, "signature": None}, auth.MissingDate),
        ({"date_header": "yesterday-ish"}, auth.BadDate),
        ({"date_header": "Tue, 11 Apr 2017 11:01:11"}, auth.BadDate),  # no zone
        ({"signature": "0" * 40}, auth.BadSignature),
        ({"signature": WEBHOOK_SIGNATURE[:-1]}, auth.BadSignature),
        ({"signature": "é" * 40}, auth.BadSignature),
        ({"body": BODY.replace(b'"1439"', b'"1440"')}, auth.BadSignature),
        ({"key": WEBHOOK_KEY[:-1]}, auth.BadSignature),
        ({"body": BODY + b" "}, auth.BadSignature),
    ],
    ids=[
        "no-key",
        "empty-key",
        "no-date",
        "empty-date",
        "no-signature",
        "empty-signature",
        "date-checked-first",
        "unreadable-date",
        "naive-date",
        "zeros",
        "short",
        "non-ascii",
        "tampered-body",
        "other-key",
        "reserialised-body",
    ],
)
def test_webhook_refusals(kw, error):
    with pytest.raises(error):
        check(**kw)


def test_a_stale_date_is_refused_either_way():
    for offset in (301, -301, 86400):
        with pytest.raises(auth.StaleDate) as refused:
            check(now=NOW.replace(second=11) + timedelta(seconds=offset))
        assert refused.value.max_skew == 300
        assert str(refused.value).endswith("away from now (at most 300 s).")


def test_the_skew_limit_itself_is_allowed():
    check(now=NOW.replace(second=11) + timedelta(seconds=300))
    check(now=NOW.replace(second=11) - timedelta(seconds=300))


def test_a_stale_date_is_refused_before_the_signature_is_compared():
    with pytest.raises(auth.StaleDate):
        check(now=NOW + timedelta(hours=1), signature="0" * 40)


def test_an_rfc_1123_date_is_read_too():
    date = "Tue, 11 Apr 2017 11:01:11 GMT"
    check(date_header=date, signature=auth.webhook_signature(WEBHOOK_KEY, BODY, date))
    assert auth.parse_webhook_date(date) == datetime(2017, 4, 11, 11, 1, 11, tzinfo=UTC)
    assert auth.parse_webhook_date(WEBHOOK_DATE) == auth.parse_webhook_date(date)
    assert auth.parse_webhook_date("") is None
