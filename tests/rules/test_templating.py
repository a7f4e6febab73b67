"""Templating: rendering actions, undefined and null fields, the sandbox and its limits."""

from __future__ import annotations

from typing import Any

import pytest

from app.actions.scalr import ScalrAction
from app.actions.webhook import WebhookAction
from app.rules.errors import (
    TemplateError,
    TemplateLimitError,
    TemplateSecurityError,
    TemplateUndefinedError,
)
from app.rules.model import Throttle
from app.rules.templating import (
    render_action,
    render_string,
    render_throttle_key,
    template_context,
    template_problems,
)
from tests.rules.helpers import event, load


def render(source: str, **changes: Any) -> str:
    return render_string(source, template_context(event(**changes)))


def test_render_scalr_action_keeps_shape_and_non_strings() -> None:
    action = ScalrAction(
        "ScriptExecute",
        {"FarmID": "{{ event.farm_id }}", "Timeout": 300, "ConfigVariables": {"ip": "{{ event.public_ip }}"},
         "Targets": ["{{ event.server_id[:4] }}", 1]},
        env="prod",
    )  # fmt: skip
    rendered = render_action(action, event())
    assert (rendered.kind, rendered.action, rendered.env, rendered.mutating) == (
        "scalr", "ScriptExecute", "prod", True,
    )  # fmt: skip
    assert rendered.params == {
        "FarmID": "1439",
        "Timeout": 300,
        "ConfigVariables": {"ip": "54.211.17.89"},
        "Targets": ["5bbd", 1],
    }
    assert rendered.to_dict()["params"] == rendered.params


def test_render_webhook_and_email_from_a_rule() -> None:
    ruleset = load(
        """\
        rules:
          - name: notify
            events: [HostDown]
            actions:
              - webhook: "https://chat.example/hooks/{{ event.farm_id }}"
                headers: {X-Server: "{{ event.server_id }}"}
                body: {text: "{{ event.message }}", farm: "{{ event.farm_id }}"}
              - webhook: https://chat.example/raw
                body: '{"text": {{ event.message | tojson }}}'
              - email: ops@example.com
        """
    )
    rule = ruleset.rules[0]
    hook, raw, mail = (render_action(a, event(message='say "hi"'), rule=rule) for a in rule.actions)
    assert hook.params == {
        "url": "https://chat.example/hooks/1439",
        "method": "POST",
        "headers": {"X-Server": "5bbd72c5-908c-4535-a7ec-2fbf56486ff3"},
        "timeout": 10,
        "json": {"text": 'say "hi"', "farm": "1439"},
    }
    assert raw.params["body"] == '{"text": "say \\"hi\\""}'
    assert mail.params["to"] == ["ops@example.com"]
    assert (
        mail.params["subject"]
        == "[Lifeguard] HostDown on 5bbd72c5-908c-4535-a7ec-2fbf56486ff3 (notify)"
    )
    assert "Rule notify matched HostDown (event 7)." in mail.params["body"]
    assert "farm role: 1978 (web-nginx)" in mail.params["body"]


def test_default_email_renders_for_an_event_without_server() -> None:
    rule = load(
        "rules:\n  - {name: r, events: [FarmTerminated], actions: [{email: a@b.c}]}\n"
    ).rules[0]
    bare = {"id": 1, "name": "FarmTerminated", "farm_id": 1439, "data": {}, "enriched_fields": []}
    rendered = render_action(rule.actions[0], bare, rule=rule)
    assert rendered.params["subject"] == "[Lifeguard] FarmTerminated (r)"
    assert "server:    -" in rendered.params["body"]


@pytest.mark.parametrize(
    ("source", "changes", "field", "message"),
    [
        ("{{ event.farm_role_id }}", {"farm_role_id": None}, "event.farm_role_id",
         "event.farm_role_id is null for this event"),
        ("{{ event.data.MISSING }}", {}, "event.data.MISSING", "event.data has no key 'MISSING'"),
        ("{{ event.data.X }}", {"data": {"X": None}}, "event.data.X", "event.data.X is null for this event"),
        ("{{ event.nope }}", {}, "event.nope", "event has no field 'nope'"),
        ("{{ event['farm_role_id'] }}", {"farm_role_id": None}, "event.farm_role_id", "is null"),
        ("{{ event.farm_role_id + 1 }}", {"farm_role_id": None}, "event.farm_role_id", "is null"),
        ("{{ event.farm_role_id | tojson }}", {"farm_role_id": None}, "event.farm_role_id", "is null"),
        ("{{ event.data.get('MISSING') }}", {}, "?", "rendered null"),
    ],
)  # fmt: skip
def test_undefined_or_null_is_an_error(
    source: str, changes: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(TemplateUndefinedError) as info:
        render(source, **changes)
    assert info.value.field == field
    assert message in info.value.message


def test_null_never_renders_as_none_or_empty_in_an_action() -> None:
    action = ScalrAction("ServerLaunch", {"FarmRoleID": "{{ event.farm_role_id }}"})
    with pytest.raises(TemplateUndefinedError) as info:
        render_action(action, event(farm_role_id=None))
    assert str(info.value) == "params.FarmRoleID: event.farm_role_id is null for this event"
    assert info.value.path == "params.FarmRoleID"


def test_defaults_and_tests_work_on_null_fields() -> None:
    assert render("{{ event.public_ip | default('none') }}", public_ip=None) == "none"
    assert (
        render("{% if event.public_ip is defined %}x{% else %}y{% endif %}", public_ip=None) == "y"
    )
    assert render("{{ event.enriched_fields | join(',') }}") == "farm_role_id,role_name"


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("{{ ''.__class__ }}", TemplateSecurityError),
        ("{{ ''.__class__.__mro__ }}", TemplateSecurityError),
        ("{{ event.__class__ }}", TemplateSecurityError),
        ("{{ event._lg_path }}", TemplateSecurityError),
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", TemplateSecurityError),
        ("{{ event.items.__self__ }}", TemplateSecurityError),
        ("{{ event.items.__globals__ }}", TemplateUndefinedError),  # no such attribute
        ("{{ event.data.update({'a': 1}) }}", TemplateSecurityError),  # immutable sandbox
        ("{{ cycler }}", TemplateUndefinedError),  # removed from the globals
    ],
)
def test_sandbox_escapes_are_refused(source: str, error: type[TemplateError]) -> None:
    with pytest.raises(error) as info:
        render(source)
    if error is TemplateSecurityError:
        assert "refused by the sandbox" in str(info.value)


@pytest.mark.parametrize(
    "source",
    [
        "{{ range(10**9) | list }}",
        "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
        "{{ 'x' * 10**9 }}",
        "{{ [1] * 10**9 }}",
        "{{ 10 ** (10 ** 10) }}",
        "{{ 2 ** 100000 }}",
        "{{ '%999999999d' % 1 }}",
        "{{ '%*d' % (10, 1) }}",
        "{{ '{:999999999}'.format(1) }}",
        "{{ '%999999999s' | format(1) }}",
        "{{ 'x' | center(10**9) }}",
        "{{ 'x'.ljust(10**9) }}",
        "{{ ('x' * 60000) | replace('x', 'yyyy') }}",
        "{{ ('x' * 60000).replace('x', 'yyyy') }}",
        "{{ range(1000) | join('x' * 1000) }}",
        "{{ ('x' * 1000).join(range(1000)) }}",
        "{{ ('a\\n' * 30000) | indent(100) }}",
        "{% for i in range(1000) %}{{ 'x' * 1000 }}{% endfor %}",
    ],
)
def test_expensive_templates_are_capped(source: str) -> None:
    with pytest.raises(TemplateLimitError):
        render(source)


def test_small_uses_of_limited_features_still_work() -> None:
    assert render("{{ range(3) | join('-') }}") == "0-1-2"
    assert render("{{ 'ab' * 2 }}|{{ 2 ** 8 }}|{{ '%05d' % 42 }}|{{ '{:>4}'.format('x') }}") == (
        "abab|256|00042|   x"
    )
    assert render("{{ event.role_name | replace('-', '_') | upper }}") == "WEB_NGINX"
    assert render("{{ event.farm_id % 100 }}") == "39"


def test_template_runtime_error_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match="ZeroDivisionError"):
        render("{{ 1 / 0 }}")


def test_rendered_webhook_url_must_stay_http() -> None:
    action = WebhookAction(url="{{ event.message }}")
    with pytest.raises(TemplateError, match="not http"):
        render_action(action, event(message="file:///etc/passwd"))


def test_throttle_key_renders_the_same_way() -> None:
    throttle = Throttle("{{ event.farm_role_id }}", 3, 3600)
    assert render_throttle_key(throttle, event()) == "1978"
    assert render_throttle_key(Throttle("", 3, 3600), event()) == ""
    with pytest.raises(TemplateUndefinedError) as info:
        render_throttle_key(throttle, event(farm_role_id=None))
    assert info.value.path == "throttle.key"


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("plain text", None),
        ("{{ event.data.ANYTHING }} {{ rule.name }} {{ range(2) | list }}", None),
        ("{{ event.farm }}", "event has no field 'farm'"),
        ("{{ event['srever_id'] }}", "did you mean 'server_id'"),
        ("{{ rule.title }}", "rule has no field 'title'"),
        ("{{ now() }}", "unknown name 'now'"),
        ("{% macro m() %}{% endmacro %}", "`macro` is not allowed"),
        ("{% include 'x' %}", "`include` is not allowed"),
        ("{{ event.name ", "template syntax error"),
        ("{{ lipsum(10**6) }}", "unknown name 'lipsum'"),
        ("{{ ''.__class__.__mro__ }}", "attributes starting with `_` are not allowed"),
    ],
)
def test_static_template_checks(source: str, problem: str | None) -> None:
    found = template_problems(source)
    if problem is None:
        assert found == ()
    else:
        assert any(problem in p for p in found), found
