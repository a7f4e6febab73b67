"""GET /api/v1/rules[/<name>]; POST /api/v1/rules/<name>/pause|resume|backtest."""

from __future__ import annotations

from datetime import timedelta

from flask import Response, jsonify, request

from app.api import bp, request_reason, require_control
from app.audit import audit
from app.errors import APIError
from app.jobs.control import set_rule_paused
from app.queries.backtest import backtest
from app.queries.backtest_loop import LoopLimits
from app.queries.rules import RuleRow, rule_row, rule_rows
from app.rules.model import Rule, RuleSet
from app.web import get_clock, get_config, get_rules_store, get_session

MAX_BACKTEST_DAYS = 90


def _ruleset() -> RuleSet:
    store = get_rules_store()
    if store.status().loaded_at is None:
        raise APIError(503, "rules_not_loaded", "No good rules file was ever loaded.")
    ruleset: RuleSet = store.current
    return ruleset


def _rule(name: str) -> Rule:
    rule = _ruleset().get(name)
    if rule is None:
        raise APIError(404, "not_found", f"No rule {name!r} in the rules running now.")
    return rule


def _row(rule: Rule) -> RuleRow:
    return rule_row(get_session(), rule, get_clock()() - timedelta(days=1))


@bp.get("/rules")
def list_rules() -> Response:
    """List every running rule with its switches and last day's activity."""
    since = get_clock()() - timedelta(days=1)
    rows = rule_rows(get_session(), _ruleset(), since)
    return jsonify(items=[row.to_dict() for row in rows], next_cursor=None)


@bp.get("/rules/<name>")
def get_rule(name: str) -> Response:
    """Return one rule with its switches and activity."""
    return jsonify(_row(_rule(name)).to_dict())


@bp.post("/rules/<name>/<any(pause, resume):operation>")
def pause_rule(name: str, operation: str) -> Response:
    """Pause or resume a rule."""
    control, target = f"rule.{operation}", f"rule:{name}"
    actor = require_control(control, target)
    rule = _rule(name)
    session = get_session()
    set_rule_paused(session, rule.name, operation == "pause", actor.label)
    audit(session, actor, control, target, reason=request_reason())
    session.commit()
    return jsonify(_row(rule).to_dict())


@bp.post("/rules/<name>/backtest")
def backtest_rule(name: str) -> Response:
    """Replay the rule with its throttle over the stored events of the last `days` days."""
    rule = _rule(name)
    body = request.get_json(silent=True)
    days = body.get("days") if isinstance(body, dict) else None
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_BACKTEST_DAYS:
        raise APIError(
            400, "invalid_days", f'Send JSON {{"days": N}} with N from 1 to {MAX_BACKTEST_DAYS}.'
        )
    now = get_clock()()
    limits = LoopLimits.of(rule, get_config())
    result = backtest(get_session(), rule, now - timedelta(days=days), now, limits=limits)
    return jsonify({"days": days, **result.to_dict()})
