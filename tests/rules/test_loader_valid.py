"""Valid rules files load into the expected model, defaults and all."""

from __future__ import annotations

from pathlib import Path

from app.actions.email import EmailAction
from app.actions.scalr import ScalrAction
from app.actions.webhook import WebhookAction
from app.rules.loader import load_rules, load_rules_file
from app.rules.model import Throttle
from tests.rules.helpers import load, rule_yaml

EXAMPLE = Path(__file__).resolve().parents[2] / "rules.example.yml"


def test_example_file_validates_without_warnings() -> None:
    ruleset = load_rules_file(EXAMPLE)
    assert len(ruleset) >= 4
    assert ruleset.warnings == ()
    replace = ruleset.get("replace-terminated-web")
    assert replace is not None
    assert replace.events == ("HostDown", "HostCrash")
    assert replace.delay == 120
    assert replace.cancel_on == ("HostUp",)
    assert replace.throttle == Throttle("{{ event.farm_role_id }}", 3, 3600)
    launch = replace.actions[0]
    assert isinstance(launch, ScalrAction)
    assert (launch.action, launch.guard, launch.mutating) == (
        "ServerLaunch",
        "below_min_instances",
        True,
    )
    assert isinstance(replace.actions[1], EmailAction)  # shared through a YAML alias


def test_full_spec_rule_loads() -> None:
    ruleset = load(
        """\
        rules:
          - name: replace-terminated-web
            description: Launch a replacement when a web server terminates.
            enabled: true
            events: [OnHostDown, HostCrash]
            where:
              farm_id: 1439
              role_name: "web-*"
              server_id: {regex: "^5bbd"}
              farm_role_id: {in: [1978, 1979]}
              data.SCALR_FARM_NAME: "prod*"
              public_ip: null
              any: [{farm_id: 1}, {farm_id: 2}]
              not: {env_id: 9}
              env_id: {gt: 3, lte: 10}
            delay: 2m
            cancel_on: [HostUp]
            throttle: {key: "{{ event.farm_role_id }}", max: 3, per: 1h}
            dry_run: false
            on_failure: continue
            actions:
              - scalr: ServerLaunch
                env: default
                params: {FarmRoleID: "{{ event.farm_role_id }}", IncreaseMaxInstances: 0}
                guard: below_min_instances
                retry_on_error: true
                max_attempts: 7
              - webhook: https://chat.example/hooks/ops
                method: put
                headers: {X-Team: ops, X-Count: 3}
                body: '{"text": "replacing {{ event.server_id }}"}'
                timeout: 1m30s
              - email: [ops@example.com, oncall@example.com]
                subject: "{{ event.name }} on {{ event.server_id }}"
                body: "..."
        """
    )
    rule = ruleset.rules[0]
    assert rule.events == ("HostDown", "HostCrash")
    assert rule.on_failure == "continue"
    assert rule.line == 2
    ops = [(c.path, getattr(c, "op", None)) for c in rule.where.children]
    assert ops == [
        ("where.farm_id", "eq"),
        ("where.role_name", "glob"),
        ("where.server_id.regex", "regex"),
        ("where.farm_role_id.in", "in"),
        ("where.data.SCALR_FARM_NAME", "glob"),
        ("where.public_ip", "eq"),
        ("where.any", "any"),
        ("where.not", "not"),
        ("where.env_id.gt", "gt"),
        ("where.env_id.lte", "lte"),
    ]
    scalr, webhook, email = rule.actions
    assert isinstance(scalr, ScalrAction) and scalr.env == "default" and scalr.max_attempts == 7
    assert scalr.retry_on_error is True
    assert isinstance(webhook, WebhookAction)
    assert (webhook.method, webhook.timeout, webhook.headers["X-Count"]) == ("PUT", 90, "3")
    assert isinstance(email, EmailAction) and email.to == ("ops@example.com", "oncall@example.com")


def test_defaults() -> None:
    rule = load(rule_yaml()).rules[0]
    assert (rule.enabled, rule.delay, rule.cancel_on, rule.throttle) == (True, 0, (), None)
    assert (rule.dry_run, rule.on_failure, rule.description) == (False, "stop", "")
    assert rule.where.children == ()
    email = rule.actions[0]
    assert isinstance(email, EmailAction)
    assert "event.name" in email.subject and "event.server_id" in email.body
    assert email.max_attempts == 5


def test_empty_rules_list_and_null_rules_are_valid() -> None:
    assert len(load_rules("rules: []\n")) == 0
    assert len(load_rules("rules:\n")) == 0


def test_x_keys_anchors_and_merge_keys() -> None:
    ruleset = load(
        """\
        x-base: &base
          events: [HostDown]
          delay: 30s
          actions:
            - email: ops@example.com
        rules:
          - <<: *base
            name: one
          - <<: *base
            name: two
            delay: 1m
        """
    )
    one, two = ruleset.rules
    assert (one.delay, two.delay) == (30, 60)
    assert one.actions == two.actions


def test_single_event_name_is_accepted() -> None:
    text = rule_yaml().replace("events: [HostDown]", "events: OnHostUp")
    assert load(text).rules[0].events == ("HostUp",)


def test_warnings_do_not_refuse_the_file() -> None:
    ruleset = load(
        rule_yaml(
            "cancel_on: [HostUp]\n",
            actions="      - scalr: ServerLaunch\n        params: {FarmRoleID: 1}\n",
        ).replace("events: [HostDown]", "events: [HostDwn]")
    )
    messages = [(w.line, w.message) for w in ruleset.warnings]
    assert (3, "'HostDwn' is not an event Scalr sends (did you mean 'HostDown'?) "
            "(fine for a custom event)") in messages  # fmt: skip
    assert any(line == 4 and "no effect without a delay" in m for line, m in messages)
    assert any(line == 6 and "may double-launch" in m for line, m in messages)


def test_version_is_a_content_hash() -> None:
    first, same = load(rule_yaml()), load(rule_yaml())
    other = load(rule_yaml("delay: 1m\n"))
    assert first.version == same.version
    assert first.version != other.version
    assert len(first.version) == 12 and first.sha256.startswith(first.version)


def test_utf8_bom_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_bytes(b"\xef\xbb\xbf" + rule_yaml().encode())
    assert len(load_rules_file(path)) == 1
