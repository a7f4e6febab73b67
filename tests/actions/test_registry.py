"""The action-kind registry: exactly three kinds, each validated, rendered and performed by it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
import requests

import app.actions
from app.actions import JobView, Kind, Outcome, Runtime, UnknownKindError, get_kind, kinds
from app.actions.email import EmailAction
from app.actions.scalr import ClientCache, ScalrAction
from app.actions.webhook import WebhookAction
from app.config import Config
from app.rules.checker import Checker
from app.rules.model import Rule
from app.rules.templating import RenderedAction, render_action, render_value, template_context
from app.rules.yamlsource import child
from app.scalr.client import ScalrClient
from app.scalr.environments import ScalrEnvironment
from app.worker import execute
from simulator import SimState
from tests.mailbox import Mailbox, smtp  # noqa: F401  (fixture)
from tests.rules.helpers import event, load, problems, rule_yaml
from tests.scalr.conftest import Receiver, receiver, scalr_env, sim, sim_state  # noqa: F401


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def only_rule(text: str) -> Rule:
    [rule] = load(text).rules
    return rule


def job_of(rendered: RenderedAction, farm_id: int | None = 1439) -> JobView:
    """Return the job the worker would see for `rendered` (as processing stores it)."""
    return JobView(
        id=1,
        kind=rendered.kind,
        action=rendered.action,
        environment=(rendered.env or "default") if rendered.kind == "scalr" else None,
        params=rendered.params,
        spec=rendered.to_dict(),
        farm_id=farm_id,
    )


def no_clients(name: str) -> ScalrClient:
    raise AssertionError(f"no Scalr client should be built (asked for {name!r})")


def test_the_registry_holds_exactly_the_three_kinds() -> None:
    assert [kind.name for kind in kinds()] == ["scalr", "webhook", "email"]
    for kind in kinds():
        assert isinstance(kind, Kind)
        assert get_kind(kind.name) is kind
        assert kind.keys[0] == kind.name
    with pytest.raises(UnknownKindError, match="unknown action kind 'slack'"):
        get_kind("slack")


def test_a_kind_registers_once() -> None:
    with pytest.raises(ValueError, match="already registered"):
        app.actions.register(type(get_kind("email"))())
    assert [kind.name for kind in kinds()] == ["scalr", "webhook", "email"]


def test_an_unknown_kind_in_a_rules_file_is_refused_as_before() -> None:
    found = problems(rule_yaml(actions="      - slack: '#ops'\n        channel: ops\n"))
    assert [(p.line, p.path, p.message) for p in found] == [
        (5, "rules[0].actions[0]", "an action needs exactly one of scalr, webhook, email"),
        (5, "rules[0].actions[0].slack", "unknown key 'slack'"),
        (6, "rules[0].actions[0].channel", "unknown key 'channel'"),
    ]


def test_keys_of_another_kind_are_refused_with_their_line() -> None:
    found = problems(rule_yaml(actions="      - email: ops@example.com\n        params: {a: 1}\n"))
    assert [(p.line, p.path, p.message) for p in found] == [
        (6, "rules[0].actions[0].params", "unknown key 'params'"),
    ]


def test_scalr_kind_against_the_simulator(
    scalr_env: ScalrEnvironment,  # noqa: F811
    sim_state: SimState,  # noqa: F811
    http: requests.Session,
) -> None:
    rule = only_rule("""
        rules:
          - name: replace
            events: [HostDown]
            actions:
              - scalr: ServerLaunch
                params: {FarmRoleID: "{{ event.farm_role_id }}", IncreaseMaxInstances: 0}
                guard: below_min_instances
                max_attempts: 3
        """)
    [action] = rule.actions
    kind = get_kind("scalr")
    assert isinstance(action, ScalrAction) and action.mutating and action.max_attempts == 3
    assert kind.label(action) == "scalr ServerLaunch"
    rendered = kind.render(action, template_context(event(), rule))
    assert rendered == render_action(action, event(), rule=rule)
    assert rendered.params == {"FarmRoleID": "1978", "IncreaseMaxInstances": 0}
    assert rendered.guard == "below_min_instances" and rendered.mutating
    # The demo farm role 1978 is at its minimum: the guard skips the launch.
    clients = ClientCache(lambda name: ScalrClient(scalr_env))
    try:
        skipped = kind.perform(job_of(rendered), Runtime(Config(), clients, http))
        assert skipped.kind == "skipped" and "already has" in (skipped.reason or "")
        assert sim_state.calls("ServerLaunch") == []
        unguarded = job_of(rendered)
        unguarded.spec.pop("guard")
        launched = execute.perform(unguarded, Config(), clients, http)
    finally:
        clients.close()
    assert launched.kind == "succeeded", launched
    assert launched.transaction_id and launched.result is not None
    assert launched.result["ServerID"] in sim_state.servers
    [call] = sim_state.calls("ServerLaunch")
    assert call.params["FarmRoleID"] == "1978"


def test_webhook_kind_against_a_loopback_server(
    receiver: Receiver,  # noqa: F811
    http: requests.Session,
) -> None:
    receiver.answer = b"thanks"
    rule = only_rule(f"""
        rules:
          - name: tell-chat
            events: [HostDown]
            actions:
              - webhook: {receiver.url}/hooks/{{{{ event.farm_id }}}}
                method: post  # read as POST
                headers: {{X-Team: ops}}
                body: {{text: "replacing {{{{ event.server_id }}}}"}}
        """)
    [action] = rule.actions
    kind = get_kind("webhook")
    assert isinstance(action, WebhookAction) and action.method == "POST"
    assert kind.label(action) == f"webhook POST {receiver.url}/hooks/{{{{ event.farm_id }}}}"
    rendered = kind.render(action, template_context(event(), rule))
    assert rendered == render_action(action, event(), rule=rule)
    assert rendered.params["url"] == f"{receiver.url}/hooks/1439"
    assert rendered.params["json"] == {"text": "replacing 5bbd72c5-908c-4535-a7ec-2fbf56486ff3"}
    config = Config(webhook_allowed_urls=(receiver.url,))
    outcome = kind.perform(job_of(rendered), Runtime(config, ClientCache(no_clients), http))
    assert outcome == Outcome("succeeded", result={"status": 200, "body": "thanks"})
    [sent] = receiver.wait_for(1)
    assert (sent.method, sent.path, sent.headers["X-Team"]) == ("POST", "/hooks/1439", "ops")
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.body) == {"text": "replacing 5bbd72c5-908c-4535-a7ec-2fbf56486ff3"}
    refused = execute.perform(job_of(rendered), Config(), ClientCache(no_clients), http)
    assert refused.kind == "dead" and "WEBHOOK_ALLOWED_URLS" in (refused.error or "")
    assert len(receiver.requests) == 1


def test_email_kind_against_a_real_smtp_server(
    smtp: tuple[Mailbox, int],  # noqa: F811
    http: requests.Session,
) -> None:
    box, port = smtp
    rule = only_rule("""
        rules:
          - name: mail-ops
            events: [HostDown]
            actions:
              - email: [ops@example.com, lead@example.com]
                subject: "{{ event.name }} on {{ event.server_id }}"
        """)
    [action] = rule.actions
    kind = get_kind("email")
    assert isinstance(action, EmailAction) and not action.mutating
    assert kind.label(action) == "email ops@example.com, lead@example.com"
    rendered = kind.render(action, template_context(event(), rule))
    assert rendered == render_action(action, event(), rule=rule)
    assert rendered.params["subject"] == "HostDown on 5bbd72c5-908c-4535-a7ec-2fbf56486ff3"
    assert "Rule mail-ops matched HostDown (event 7)." in rendered.params["body"]  # the default
    config = Config(smtp_host="127.0.0.1", smtp_port=port, smtp_from="lifeguard@example.com")
    outcome = kind.perform(job_of(rendered), Runtime(config, ClientCache(no_clients), http))
    assert outcome == Outcome("succeeded", result={"refused": []})
    deadline = time.monotonic() + 5
    while not box.messages and time.monotonic() < deadline:
        time.sleep(0.02)
    [message] = box.messages
    assert message["from"] == "lifeguard@example.com"
    assert message["to"] == ["ops@example.com", "lead@example.com"]
    assert "Subject: HostDown on 5bbd72c5-908c-4535-a7ec-2fbf56486ff3" in message["data"]


def test_perform_answers_an_unknown_kind_and_a_crash_as_dead(http: requests.Session) -> None:
    job = JobView(1, "slack", "slack", None, {}, {}, None)
    unknown = execute.perform(job, Config(), ClientCache(no_clients), http)
    assert unknown == Outcome("dead", error="unknown action kind 'slack'")
    broken = JobView(
        2, "webhook", "webhook", None, {"url": "http://127.0.0.1:9/", "headers": "oops"}, {}, None
    )
    config = Config(webhook_allowed_urls=("http://127.0.0.1:",))
    crashed = execute.perform(broken, config, ClientCache(no_clients), http)
    assert crashed == Outcome("dead", error="internal error: AttributeError")


@dataclass(frozen=True)
class LogAction:
    """Write a line to the log (a made-up kind for the registry's test)."""

    kind: ClassVar[str] = "log"
    line: str
    max_attempts: int = 5
    mutating: ClassVar[bool] = False


class LogKind(Kind):
    """`log: <template>`."""

    name = "log"
    keys = ("log",)

    def parse(
        self, check: Checker, mapping: dict[str, Any], path: str, attempts: int
    ) -> LogAction | None:
        line = check.get(mapping, "log", path, str, "")
        if not line:
            check.error(child(path, "log"), "say something")
        return LogAction(line, attempts) if line else None

    def render(self, action: LogAction, context: Any) -> RenderedAction:
        line = render_value(action.line, context, "log")
        return RenderedAction("log", "log", {"line": line}, max_attempts=action.max_attempts)

    def perform(self, job: JobView, runtime: Runtime) -> Outcome:
        return Outcome("succeeded", result={"logged": job.params["line"]})

    def label(self, action: LogAction) -> str:
        return f"log {action.line}"


def test_a_new_kind_is_one_registration(
    monkeypatch: pytest.MonkeyPatch, http: requests.Session
) -> None:
    """A kind added to the registry is read, rendered and performed with no other change."""
    monkeypatch.setattr(app.actions, "_kinds", dict(app.actions._kinds))
    app.actions.register(LogKind())
    rule = only_rule("""
        rules:
          - name: note
            events: [HostDown]
            actions:
              - log: "{{ event.server_id }} is down"
                max_attempts: 2
        """)
    rendered = render_action(rule.actions[0], event(), rule=rule)
    assert rendered.params == {"line": "5bbd72c5-908c-4535-a7ec-2fbf56486ff3 is down"}
    outcome = execute.perform(job_of(rendered), Config(), ClientCache(no_clients), http)
    assert outcome.result == {"logged": "5bbd72c5-908c-4535-a7ec-2fbf56486ff3 is down"}
    [problem] = problems(rule_yaml(actions="      - log: ''\n"))
    assert (problem.line, problem.message) == (5, "say something")
    [both] = problems(rule_yaml(actions="      - log: x\n        email: a@b\n"))
    assert (
        both.message
        == "an action needs exactly one of scalr, webhook, email, log (found email, log)"
    )
