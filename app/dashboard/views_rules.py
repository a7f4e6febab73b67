"""The rules pages: state, activity, pause and dry-run switches, a test bench and a backtest."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.audit import audit
from app.dashboard import bp
from app.dashboard.auth import require_control
from app.jobs.control import set_rule_dry_run, set_rule_paused
from app.queries.backtest import backtest
from app.queries.backtest_loop import LoopLimits
from app.queries.jobs import JobFilters, list_jobs, waiting_jobs
from app.queries.rules import (
    PastedEventError,
    condition_lines,
    event_from_json,
    rule_row,
    rule_rows,
    stored_event_fields,
    try_rule,
)
from app.rules.model import Rule, RuleSet
from app.web import get_clock, get_config, get_rules_store, get_session

MAX_BACKTEST_DAYS = 90
RECENT_JOBS = 20
DRY_RUN_MODES: dict[str, bool | None] = {"on": True, "off": False, "file": None}


def running_rules() -> tuple[RuleSet | None, Any]:
    """Return the rules in force and the store's status."""
    store = get_rules_store()
    return store.current, store.status()


def _rule_or_404(name: str) -> Rule:
    ruleset, _ = running_rules()
    rule = ruleset.get(name) if ruleset is not None else None
    if rule is None:
        abort(404, f"No rule {name!r} in the rules running now.")
    return rule


@bp.get("/rules")
def rules() -> str:
    """List every rule with its switches, activity and the rules file's health."""
    ruleset, status = running_rules()
    now = get_clock()()
    rows = rule_rows(get_session(), ruleset, now - timedelta(days=1)) if ruleset else []
    return render_template("dashboard/rules.html", rows=rows, status=status)


def _render_rule(name: str, **extra: Any) -> str:
    rule = _rule_or_404(name)
    session = get_session()
    now = get_clock()()
    row = rule_row(session, rule, now - timedelta(days=1))
    jobs = list_jobs(session, JobFilters(rule=name), None, RECENT_JOBS).items
    extra.setdefault("days", 7)
    return render_template(
        "dashboard/rule.html",
        row=row,
        rule=rule,
        conditions=condition_lines(rule.where),
        jobs=jobs,
        scheduled_count=waiting_jobs(session, name),
        max_days=MAX_BACKTEST_DAYS,
        **extra,
    )


@bp.get("/rules/<name>")
def rule(name: str) -> str:
    """Show one rule: definition, switches, activity, test and backtest forms."""
    return _render_rule(name)


@bp.post("/rules/<name>/<any(pause, resume):operation>")
def pause_rule(name: str, operation: str) -> Response:
    """Pause or resume a rule."""
    control, target = f"rule.{operation}", f"rule:{name}"
    actor = require_control(control, target)
    _rule_or_404(name)
    reason = request.form.get("reason", "").strip()
    if operation == "pause" and not reason:
        flash("Say why: pausing a rule needs a reason.", "error")
        return redirect(url_for("dashboard.rule", name=name), code=303)
    session = get_session()
    set_rule_paused(session, name, operation == "pause", actor.label, reason or None)
    audit(session, actor, control, target, reason=reason)
    session.commit()
    flash(f"Rule {name} {'paused' if operation == 'pause' else 'resumed'}.", "ok")
    return redirect(url_for("dashboard.rule", name=name), code=303)


@bp.post("/rules/<name>/dry-run")
def dry_run_rule(name: str) -> Response:
    """Force a rule into or out of dry run, or hand it back to its file's setting."""
    actor = require_control("rule.dry_run", f"rule:{name}")
    _rule_or_404(name)
    mode = request.form.get("mode", "")
    if mode not in DRY_RUN_MODES:
        abort(400, "mode must be on, off or file.")
    session = get_session()
    set_rule_dry_run(session, name, DRY_RUN_MODES[mode], actor.label)
    audit(session, actor, "rule.dry_run", f"rule:{name}", detail={"mode": mode})
    session.commit()
    flash(f"Rule {name}: dry run {mode}.", "ok")
    return redirect(url_for("dashboard.rule", name=name), code=303)


@bp.post("/rules/<name>/test")
def test_rule_view(name: str) -> str | tuple[str, int]:
    """Show what the rule would do for a stored or pasted event, changing nothing."""
    rule = _rule_or_404(name)
    event_id = request.form.get("event_id", "").strip()
    pasted = request.form.get("event_json", "").strip()
    fields: dict[str, Any] | None = None
    error = None
    if event_id:
        if event_id.isdigit():
            fields = stored_event_fields(get_session(), int(event_id))
        if fields is None:
            error = f"No stored event {event_id[:20]!r}."
    elif pasted:
        try:
            fields = event_from_json(pasted)
        except PastedEventError as exc:
            error = str(exc)
    else:
        error = "Give a stored event id or paste an event as JSON."
    if error or fields is None:
        page = _render_rule(name, test_error=error, event_id=event_id, pasted=pasted)
        return page, 400
    return _render_rule(
        rule.name, test=try_rule(rule, fields), test_fields=fields, event_id=event_id, pasted=pasted
    )


@bp.post("/rules/<name>/backtest")
def backtest_rule(name: str) -> str | tuple[str, int]:
    """Replay the rule, with its throttle, over the last N days of stored events."""
    rule = _rule_or_404(name)
    raw = request.form.get("days", "").strip()
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_BACKTEST_DAYS:
        message = f"Days must be a whole number from 1 to {MAX_BACKTEST_DAYS}."
        return _render_rule(name, backtest_error=message, days=raw[:10]), 400
    days = int(raw)
    now = get_clock()()
    limits = LoopLimits.of(rule, get_config())
    result = backtest(get_session(), rule, now - timedelta(days=days), now, limits=limits)
    return _render_rule(name, result=result, days=days)
