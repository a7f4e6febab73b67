"""Server-side template injection: the known Jinja sandbox escapes, in rule templates and in
the event text that templates render.

Payloads are the Jinja2 entries of the public SSTI references (PayloadsAllTheThings,
"Server Side Template Injection/Python.md"; HackTricks, "Jinja2 SSTI"), adapted to the
names a rule template has (`event`, `rule`, `range`): object-graph walks to `os` through
`__class__`/`__mro__`/`__subclasses__`/`__globals__`, the helper globals (`cycler`,
`joiner`, `namespace`, `lipsum`), `self._TemplateReference__context`, Flask's `request`
and `config`, the `attr` filter and `[...]` lookups with escaped names, format-string
attribute access, and resource exhaustion.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.actions import get_kind
from app.rules.errors import (
    RulesError,
    TemplateError,
    TemplateLimitError,
    TemplateSecurityError,
    TemplateUndefinedError,
)
from app.rules.loader import load_rules
from app.rules.templating import render_string, template_context, template_problems
from tests.factories import SID
from tests.hardening.settings import bounded

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__.__base__.__subclasses__() }}",
    "{{ [].__class__.__base__.__subclasses__() }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__.os.popen('id').read() }}",
    "{{ namespace.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ lipsum.__globals__.__builtins__.__import__('os') }}",
    "{{ self._TemplateReference__context.cycler.__init__.__globals__.os }}",
    "{{ self.__init__.__globals__.__builtins__ }}",
    "{{ self|attr('_TemplateReference__context') }}",
    "{{ request.application.__globals__.__builtins__.__import__('os').popen('id').read() }}",
    "{{ request|attr('application')|attr('\\x5f\\x5fglobals\\x5f\\x5f') }}",
    "{{ config.items() }}",
    "{{ config.__class__.__init__.__globals__['os'].popen('id').read() }}",
    "{{ url_for.__globals__['current_app'].config }}",
    "{{ get_flashed_messages.__globals__ }}",
    "{{ ''|attr('__class__') }}",
    "{{ ''|attr('__class__')|attr('__mro__') }}",
    "{{ ''|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "{{ ''['__class__'] }}",
    "{{ ''['\\x5f\\x5fclass\\x5f\\x5f'] }}",
    "{{ ''['\\u005f\\u005fclass\\u005f\\u005f'] }}",
    "{{ (''|attr('\\x5f\\x5fclass\\x5f\\x5f')|attr('\\x5f\\x5fbase\\x5f\\x5f')) }}",
    "{{ '{0.__class__}'.format(event) }}",
    "{{ '{0.__class__.__init__.__globals__}'.format(range) }}",
    "{{ '{0[__class__]}'.format(event) }}",
    "{{ '{0.items.__self__}'.format(event) }}",
    "{{ '%s'|format(''.__class__) }}",
    "{{ event.__class__ }}",
    "{{ event.__class__.__init__.__globals__ }}",
    "{{ event.items.__self__ }}",
    "{{ event._lg_path }}",
    "{{ event|attr('_lg_nulls') }}",
    "{{ event.data.update({'a': 1}) }}",
    "{{ event.data.setdefault('a', 1) }}",
    "{{ (event.enriched_fields).append(1) }}",
    "{{ event.enriched_fields.pop() }}",
    "{{ range.__globals__ }}",
    "{{ range.__code__ }}",
    "{{ rule.__class__ }}",
    "{{ dict.mro() }}",
    "{{ __builtins__ }}",
    "{% import 'os' as os %}",
    "{% include '/etc/passwd' %}",
    "{% extends '/etc/passwd' %}",
    "{% set x = ''.__class__ %}{{ x }}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
]
# Refused at render only: the attribute is named inside a format string or is a method
# (mutation, `mro`) that only the sandbox, seeing the object, can judge.
RENDER_ONLY = {
    "{{ '{0.__class__}'.format(event) }}",
    "{{ '{0.__class__.__init__.__globals__}'.format(range) }}",
    "{{ '{0[__class__]}'.format(event) }}",
    "{{ '{0.items.__self__}'.format(event) }}",
    "{{ event.data.update({'a': 1}) }}",
    "{{ event.data.setdefault('a', 1) }}",
    "{{ (event.enriched_fields).append(1) }}",
    "{{ event.enriched_fields.pop() }}",
    "{{ dict.mro() }}",
}
LOAD_REFUSED = [s for s in ESCAPES if s not in RENDER_ONLY]
EXHAUSTION = [
    "{{ range(10**9) }}",
    "{{ range(10**9) | list }}",
    "{{ 'x' * 10**9 }}",
    "{{ event.message * 10**6 }}",
    "{{ [event.message] * 10**7 }}",
    "{{ 9 ** (9 ** 99) }}",
    "{{ '%0999999999d' % 1 }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ 'x'.center(10**9) }}",
    "{{ 'x'.zfill(10**9) }}",
    "{{ ('x' * 60000) | replace('', 'yy') }}",
    "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
    # Nested loops over long strings: no value grows, only time (4e9 empty iterations).
    "{% for a in 'x' * 60000 %}{% for b in 'x' * 60000 %}{% endfor %}{% endfor %}",
    "{% for a in event.message %}{% for b in event.message %}{% for c in event.message %}"
    "{% endfor %}{% endfor %}{% endfor %}",
    "{% for a in range(1000) %}{% for b in 'x' * 60000 %}{% endfor %}{% endfor %}",
    "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}",
    "{% for x in [[[[1] * 30] * 30] * 30] * 30 recursive %}{{ loop(x) if x is iterable }}{% endfor %}",
]
EVIDENCE = ("<class", "<module", "<built-in", "subclasses", "__globals__", "popen", "uid=")


def hostile_event(text: str = "hostile") -> dict:
    return {
        "name": "HostDown",
        "message": text,
        "server_id": SID,
        "role_name": text,
        "farm_id": 1439,
        "data": {"SCALR_ROLE_NAME": text},
        "enriched_fields": ["role_name"],
    }


def attempt(source: str, event: dict | None = None) -> str | TemplateError:
    try:
        return render_string(source, template_context(event or hostile_event()))
    except TemplateError as exc:
        return exc


@pytest.mark.parametrize("source", ESCAPES)
def test_sandbox_escapes_are_refused_at_load_and_at_render(source):
    # At load, where the template spells the escape out, the rules file is refused ...
    if source not in RENDER_ONLY:
        assert template_problems(source), f"loaded without a problem: {source}"
    # ... and at render, always: the sandbox refuses whatever got past the check.
    result = attempt(source)
    assert isinstance(
        result, TemplateSecurityError | TemplateUndefinedError | TemplateLimitError
    ) or (
        # Refused statements do not run; a template whose statement fails at render is fine.
        isinstance(result, TemplateError) and "{%" in source
    ), f"{source!r} rendered {result!r}"
    assert not any(mark in str(result) for mark in ("uid=", "root:x:")), result


@pytest.mark.parametrize("source", LOAD_REFUSED)
def test_sandbox_escapes_in_a_rules_file_are_refused_with_their_line(source):
    text = (
        "rules:\n  - name: r\n    events: [HostDown]\n    actions:\n"
        f"      - webhook: https://chat.example/hooks\n        body: {source!r}\n"
    )
    with pytest.raises(RulesError) as caught:
        load_rules(text)
    assert any(p.line == 6 and p.path.endswith("body") for p in caught.value.errors), (
        caught.value.formatted()
    )


@pytest.mark.parametrize("source", EXHAUSTION)
def test_resource_exhaustion_is_refused_quickly(source):
    started = time.perf_counter()
    result = attempt(source, hostile_event("x" * 60000))
    took = time.perf_counter() - started
    assert isinstance(result, TemplateLimitError), f"{source!r} rendered {str(result)[:200]!r}"
    assert took < 2.0, f"{source!r} took {took:.1f} s"


def test_one_loop_over_a_long_message_is_within_budget():
    source = "{% for c in event.message %}{% endfor %}{{ event.message | length }}"
    assert attempt(source, hostile_event("x" * 60000)) == "60000"


# Event text is data: a template that shows it shows it, never evaluates it.
TEXT_PAYLOADS = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{0.__class__} {0.__init__.__globals__}",
    "%(message)s %s %999999999d",
    "${7*7} #{7*7} <%= 7*7 %> {{7*7}}",
    "{{ self._TemplateReference__context }}",
    "\x00\u2028<script>alert(1)</script>",
]
IDENTITY_TEMPLATES = [
    "{{ event.message }}",
    "{{ event.role_name }}",
    "{{ event.data.SCALR_ROLE_NAME }}",
    "{{ event.data['SCALR_ROLE_NAME'] }}",
    "{{ '%s' % event.message }}",
    "{{ '%s' | format(event.message) }}",
    "{{ '{}'.format(event.message) }}",
    "{{ event.message | string }}",
    "{{ [event.message] | join }}",
    "{{ event.message ~ '' }}",
    "{{ event.message | replace('', '') }}",
]


@pytest.mark.parametrize("template", IDENTITY_TEMPLATES)
@pytest.mark.parametrize("text", TEXT_PAYLOADS, ids=range(len(TEXT_PAYLOADS)))
def test_event_text_renders_as_itself(text, template):
    assert attempt(template, hostile_event(text)) == text


@pytest.mark.parametrize("text", TEXT_PAYLOADS[:4], ids=range(4))
@pytest.mark.parametrize(
    "template", ["{{ event.message.format(event) }}", "{{ event.message.format_map(event) }}",
                 "{{ event.message | format(event) }}", "{{ event.message % event }}"]
)  # fmt: skip
def test_event_text_used_as_a_format_string_reaches_nothing(text, template):
    result = attempt(template, hostile_event(text))
    # Refused, or the text came back with nothing of the object graph added to it.
    assert isinstance(result, TemplateError) or not any(
        m in result and m not in text for m in EVIDENCE
    ), result


def test_hostile_event_text_through_a_whole_action():
    ruleset = load_rules(
        "rules:\n  - name: r\n    events: [HostDown]\n    actions:\n"
        "      - webhook: https://chat.example/hooks/{{ event.server_id }}\n"
        '        body: {text: "{{ event.message }}", role: "{{ event.role_name | upper }}"}\n'
        '      - email: ops@example.com\n        subject: "{{ event.message }}"\n'
    )
    rule = ruleset.rules[0]
    for text in TEXT_PAYLOADS:
        rendered = [
            get_kind(a.kind).render(a, template_context(hostile_event(text), rule))
            for a in rule.actions
        ]
        assert rendered[0].params["json"]["text"] == text
        assert rendered[0].params["json"]["role"] == text.upper()
        assert rendered[1].params["subject"] == text


@bounded(200)
@given(st.text(max_size=300))
def test_any_event_text_renders_as_itself(text):
    event = hostile_event(text)
    assert attempt("{{ event.message }}", event) == text
    assert attempt("{{ event.data.SCALR_ROLE_NAME | tojson }}", event) == __import__("json").dumps(
        text, ensure_ascii=False
    )
