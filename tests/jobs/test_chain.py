"""Every way a job ends settles its rule's next action: released, or skipped on `stop`."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.db import utcnow
from app.jobs.claim import reap_expired_leases
from app.jobs.control import apply_control, cancel_job, retry_job, set_rule_dry_run, set_rule_paused
from app.jobs.create import process_event
from tests.jobs.helpers import claim, jobs_of, later_event, matched, record, two_steps

STOPPED = "action 1 (webhook) ended {}; on_failure is stop"


def assert_released(follower) -> None:
    assert (follower.status, follower.blocked, follower.reason) == ("scheduled", False, None)


def assert_skipped_by_chain(follower, ending: str) -> None:
    assert follower.status == "skipped"
    assert follower.reason == STOPPED.format(ending)
    assert follower.finished_at is not None


def test_a_new_chain_waits_for_its_first_action(db_session):
    first, second = matched(db_session, two_steps())
    assert (first.status, first.blocked) == ("scheduled", False)
    assert (second.status, second.blocked) == ("scheduled", True)


def test_success_releases_the_next_action(db_session):
    rules = two_steps()
    first, _ = matched(db_session, rules)
    assert claim(db_session, rules).id == first.id
    record(db_session, first.id, "succeeded")
    first, second = jobs_of(db_session, first.event_id)
    assert first.status == "succeeded"
    assert_released(second)
    assert claim(db_session, rules).id == second.id


@pytest.mark.parametrize("on_failure", ["stop", "continue"])
def test_dead_skips_or_releases_by_on_failure(db_session, on_failure):
    rules = two_steps(on_failure)
    first, _ = matched(db_session, rules)
    claim(db_session, rules)
    record(db_session, first.id, "dead", error="refused")
    first, second = jobs_of(db_session, first.event_id)
    assert first.status == "dead"
    if on_failure == "stop":
        assert_skipped_by_chain(second, "dead")
    else:
        assert_released(second)


def test_dead_after_the_last_retry_skips_the_rest(db_session):
    rules = two_steps()
    first, _ = matched(db_session, rules)
    first.max_attempts = 1
    db_session.commit()
    claim(db_session, rules)
    record(db_session, first.id, "retry", error="503")
    first, second = jobs_of(db_session, first.event_id)
    assert first.status == "dead"
    assert_skipped_by_chain(second, "dead")


def test_a_retry_keeps_the_next_action_waiting(db_session):
    rules = two_steps()
    first, _ = matched(db_session, rules)
    claim(db_session, rules)
    record(db_session, first.id, "retry", error="503")
    first, second = jobs_of(db_session, first.event_id)
    assert first.status == "retrying"
    assert (second.status, second.blocked) == ("scheduled", True)


def test_a_skip_by_the_action_itself_skips_the_rest(db_session):
    rules = two_steps()
    first, _ = matched(db_session, rules)
    claim(db_session, rules)
    record(db_session, first.id, "skipped", reason="farm role already has 2")
    _, second = jobs_of(db_session, first.event_id)
    assert_skipped_by_chain(second, "skipped")


def test_a_guard_skip_at_claim_skips_the_rest(db_session):
    rules = two_steps()
    first, _ = matched(db_session, rules)
    set_rule_paused(db_session, "two-steps", True, "oncall")
    db_session.commit()
    job = claim(db_session, rules)
    assert (job.id, job.status, job.reason) == (first.id, "skipped", "rule paused by oncall")
    _, second = jobs_of(db_session, first.event_id)
    assert_skipped_by_chain(second, "skipped")


def test_dry_run_releases_the_next_action(db_session):
    rules = two_steps()
    first, _ = matched(db_session, rules)
    set_rule_dry_run(db_session, "two-steps", True, "oncall")
    db_session.commit()
    assert claim(db_session, rules).status == "dry_run"
    _, second = jobs_of(db_session, first.event_id)
    assert_released(second)


def test_a_later_event_seen_at_claim_cancels_and_skips_the_rest(db_session):
    rules = two_steps()
    first, _ = matched(db_session, rules)
    up = later_event(db_session)  # stored, not yet matched
    job = claim(db_session, rules)
    assert job.status == "cancelled"
    assert job.reason == f"cancelled by HostUp event #{up.id} for the same server"
    _, second = jobs_of(db_session, first.event_id)
    assert_skipped_by_chain(second, "cancelled")


@pytest.mark.parametrize("on_failure", ["stop", "continue"])
def test_a_later_event_matched_cancels_the_whole_chain(db_session, on_failure):
    rules = two_steps(on_failure)
    first, _ = matched(db_session, rules)
    up = later_event(db_session)
    process_event(db_session, up, rules, utcnow())
    db_session.commit()
    reason = f"cancelled by HostUp event #{up.id} for the same server"
    jobs = jobs_of(db_session, first.event_id)
    assert [(j.status, j.reason) for j in jobs] == [("cancelled", reason)] * 2
    assert claim(db_session, rules) is None


@pytest.mark.parametrize("on_failure", ["stop", "continue"])
def test_a_manual_cancel_settles_the_next_action(db_session, on_failure):
    rules = two_steps(on_failure)
    first, _ = matched(db_session, rules)
    apply_control(db_session, first.id, "cancel", "dashboard:admin")
    first, second = jobs_of(db_session, first.event_id)
    assert (first.status, first.reason) == ("cancelled", "cancelled by dashboard:admin")
    if on_failure == "stop":
        assert_skipped_by_chain(second, "cancelled")
    else:
        assert_released(second)
        assert claim(db_session, rules).id == second.id


def test_a_manual_retry_makes_the_skipped_rest_wait_again(db_session):
    rules = two_steps()
    first, _ = matched(db_session, rules)
    claim(db_session, rules)
    record(db_session, first.id, "dead", error="refused")
    retry_job(db_session, first.id, "oncall")
    db_session.commit()
    first, second = jobs_of(db_session, first.event_id)
    assert (first.status, first.reason) == ("retrying", "retried by oncall")
    assert (second.status, second.blocked, second.reason, second.finished_at) == (
        "scheduled",
        True,
        None,
        None,
    )
    assert claim(db_session, rules).id == first.id
    record(db_session, first.id, "succeeded")
    _, second = jobs_of(db_session, first.event_id)
    assert_released(second)


def test_retry_after_a_manual_cancel_resumes_the_chain(db_session):
    rules = two_steps()
    first, _ = matched(db_session, rules)
    cancel_job(db_session, first.id, "oncall")
    retry_job(db_session, first.id, "oncall")
    db_session.commit()
    claim(db_session, rules)
    record(db_session, first.id, "succeeded")
    _, second = jobs_of(db_session, first.event_id)
    assert_released(second)


def test_a_retry_leaves_a_follower_skipped_by_its_own_guard(db_session):
    rules = two_steps(on_failure="continue")
    first, _ = matched(db_session, rules)
    claim(db_session, rules)
    record(db_session, first.id, "dead", error="refused")
    set_rule_paused(db_session, "two-steps", True, "oncall")
    db_session.commit()
    assert claim(db_session, rules).reason == "rule paused by oncall"
    retry_job(db_session, first.id, "oncall")
    db_session.commit()
    _, second = jobs_of(db_session, first.event_id)
    assert (second.status, second.reason) == ("skipped", "rule paused by oncall")


def test_a_lease_lost_on_the_last_attempt_skips_the_rest(db_session):
    rules = two_steps()
    first, _ = matched(db_session, rules)
    first.max_attempts = 1
    db_session.commit()
    start = utcnow()
    claim(db_session, rules, now=start)
    assert reap_expired_leases(db_session, start + timedelta(hours=1)) == 1
    db_session.commit()
    first, second = jobs_of(db_session, first.event_id)
    assert (first.status, first.reason) == ("dead", "lease of w1 expired on the last attempt")
    assert_skipped_by_chain(second, "dead")
