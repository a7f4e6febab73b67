"""The guards' decisions: plain values in, a verdict (or None: go on) out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.jobs import policy
from app.jobs.policy import Verdict

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_paused_skips_with_who_paused():
    assert policy.paused(True, "oncall") == Verdict("skipped", "rule paused by oncall")


def test_paused_without_a_name_says_an_operator():
    assert policy.paused(True, None) == Verdict("skipped", "rule paused by an operator")


@pytest.mark.parametrize(("is_paused", "manual"), [(False, False), (False, True), (True, True)])
def test_not_paused_or_queued_by_hand_goes_on(is_paused, manual):
    assert policy.paused(is_paused, "oncall", manual) is None


def test_rule_gone_skips():
    verdict = policy.rule_gone("replace", in_rules=False)
    assert verdict == Verdict("skipped", "rule 'replace' is no longer in the rules file")


@pytest.mark.parametrize(("in_rules", "manual"), [(True, False), (False, True), (True, True)])
def test_rule_present_or_manual_goes_on(in_rules, manual):
    assert policy.rule_gone("replace", in_rules, manual) is None


def test_cancelled_by_names_the_event():
    verdict = policy.cancelled_by("HostUp", 42)
    assert verdict == Verdict("cancelled", "cancelled by HostUp event #42 for the same server")


def test_throttle_window_is_per_seconds_before_now():
    assert policy.throttle_since(NOW, 3600) == NOW - timedelta(hours=1)


@pytest.mark.parametrize("fired", [0, 1, 2])
def test_throttle_below_max_goes_on(fired):
    assert policy.throttled(fired, 3, 3600, "1978") is None


@pytest.mark.parametrize("fired", [3, 4])
def test_throttle_at_or_over_max_skips(fired):
    verdict = policy.throttled(fired, 3, 3600, "1978")
    assert verdict == Verdict(
        "skipped", f"throttled: rule fired {fired} times in the last 1h for key '1978' (max 3)"
    )


def test_throttle_text_writes_the_period_as_a_rules_file_would():
    verdict = policy.throttled(1, 1, 90, "")
    assert verdict is not None
    assert verdict.reason == "throttled: rule fired 1 times in the last 1m30s for key '' (max 1)"


def test_throttle_of_zero_always_skips():
    assert policy.throttled(0, 0, 60, "k") is not None


def test_global_dry_run_wins_over_everything():
    expected = Verdict("dry_run", "DRY_RUN is set; nothing was called")
    assert policy.dry_run(True, False, False) == expected
    assert policy.dry_run(True, None, True) == expected


@pytest.mark.parametrize(
    ("override", "in_file", "dry"),
    [(None, False, False), (None, True, True), (True, False, True), (False, True, False)],
)
def test_rule_switch_overrides_the_file(override, in_file, dry):
    verdict = policy.dry_run(False, override, in_file)
    if dry:
        assert verdict == Verdict("dry_run", "rule is in dry run; nothing was called")
    else:
        assert verdict is None


def test_open_breaker_skips_with_its_reason():
    verdict = policy.breaker_open("prod", "budget spent")
    assert verdict == Verdict(
        "skipped", "remediation breaker of environment 'prod' is open: budget spent"
    )


def test_budget_window_is_the_configured_period():
    assert policy.budget_since(NOW, 3600, None) == NOW - timedelta(hours=1)


def test_budget_window_starts_afresh_when_a_person_closed_the_breaker():
    closed = NOW - timedelta(minutes=5)
    assert policy.budget_since(NOW, 3600, closed) == closed


def test_budget_window_ignores_a_close_older_than_the_window():
    assert policy.budget_since(NOW, 3600, NOW - timedelta(hours=2)) == NOW - timedelta(hours=1)


@pytest.mark.parametrize("used", [0, 19])
def test_budget_with_room_goes_on(used):
    assert policy.over_budget(used, 20, 3600, "default") is None


@pytest.mark.parametrize("used", [20, 21])
def test_budget_spent_skips(used):
    verdict = policy.over_budget(used, 20, 3600, "default")
    assert verdict == Verdict(
        "skipped",
        f"budget spent: {used} Scalr actions in 1h in environment 'default' "
        "(at most 20); the breaker stays open until a person closes it",
    )


@pytest.mark.parametrize(
    ("status", "on_failure", "releases"),
    [
        ("succeeded", "stop", True),
        ("dry_run", "stop", True),
        ("dead", "stop", False),
        ("skipped", "stop", False),
        ("cancelled", "stop", False),
        ("dead", "continue", True),
        ("cancelled", "continue", True),
    ],
)
def test_the_chain_releases_after_good_endings_or_on_continue(status, on_failure, releases):
    assert policy.releases_next(status, on_failure) is releases


def test_chain_stop_texts():
    assert policy.chain_stopped(0, "ServerReboot", "dead") == Verdict(
        "skipped", "action 1 (ServerReboot) ended dead; on_failure is stop"
    )
    assert policy.chain_stopped_at_creation("skipped", "template: x") == Verdict(
        "skipped", "an earlier action of the rule ended skipped: template: x"
    )


@pytest.mark.parametrize(
    ("status", "reason", "by_chain"),
    [
        ("skipped", "action 0 (ServerReboot) ended dead; on_failure is stop", True),
        ("skipped", "an earlier action of the rule ended skipped: template: x", True),
        ("skipped", "rule paused by oncall", False),
        ("skipped", None, False),
        ("cancelled", "action 0 (x) ended dead; on_failure is stop", False),
    ],
)
def test_stopped_by_chain_knows_its_own_texts(status, reason, by_chain):
    assert policy.stopped_by_chain(status, reason) is by_chain


@pytest.mark.parametrize(
    "configured,timeout,expected",
    [
        (120, None, 120),
        (120, 10, 120),
        (120, 300, 630),
        (60, 45, 120),
        (120, True, 120),
        (120, "9", 120),
    ],
)
def test_the_lease_outlasts_the_action_timeout(configured, timeout, expected):
    assert policy.lease_seconds(configured, timeout) == expected
