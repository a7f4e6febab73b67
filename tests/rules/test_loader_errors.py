"""Every kind of rules-file error is reported, with its line, and all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.rules.errors import RulesError
from app.rules.loader import load_rules, load_rules_file
from tests.rules.helpers import only_problem, problems, rule_yaml


@pytest.mark.parametrize(
    ("body", "line", "path", "fragment"),
    [
        ("evnts: [HostUp]\n", 4, "rules[0].evnts", "did you mean 'events'"),
        ("on: [HostDown]\n", 4, "rules[0].on", "write `events:`"),
        ("conditions: {farm_id: 1}\n", 4, "rules[0].conditions", "`where:`"),
        ("enabled: 'yes'\n", 4, "rules[0].enabled", "expected true/false, got a string"),
        ("description: 3\n", 4, "rules[0].description", "expected a string, got an integer"),
        ("dry_run: 1\n", 4, "rules[0].dry_run", "expected true/false"),
        ("delay: 2 minutes\n", 4, "rules[0].delay", "bad duration '2 minutes'"),
        ("delay: 8d\n", 4, "rules[0].delay", "above the maximum of 7d"),
        ("delay: 1.5\n", 4, "rules[0].delay", "expected a duration"),
        ("on_failure: retry\n", 4, "rules[0].on_failure", "must be one of continue, stop"),
        ("throttle: {max: 0, per: 1h}\n", 4, "rules[0].throttle.max", "between 1 and"),
        ("throttle: {max: 3, per: 0}\n", 4, "rules[0].throttle.per", "below the minimum"),
        ("throttle: {max: 3}\n", 4, "rules[0].throttle", "missing required key 'per'"),
        ("throttle: {max: 3, per: 1h, key: '{{ event.x }}'}\n", 4, "rules[0].throttle.key",
         "event has no field 'x'"),
        ("cancel_on: [On-Up]\n", 4, "rules[0].cancel_on[0]", "bad event name"),
    ],
)  # fmt: skip
def test_rule_level_error_names_its_line(body: str, line: int, path: str, fragment: str) -> None:
    problem = only_problem(rule_yaml(body))
    assert (problem.line, problem.path) == (line, path)
    assert fragment in problem.message


@pytest.mark.parametrize(
    ("where", "path", "fragment"),
    [
        ("farm_idd: 1", "farm_idd", "did you mean 'farm_id'"),
        ("server_id: {regex: '(unclosed'}", "server_id.regex", "bad regex"),
        ("farm_id: {gtt: 3}", "farm_id.gtt", "did you mean 'gt'"),
        ("farm_id: {gt: 'three'}", "farm_id.gt", "expected a number"),
        ("farm_id: [1, 2]", "farm_id", "write {in: [...]}"),
        ("farm_id: {in: []}", "farm_id.in", "non-empty list"),
        ("role_name.x: web", "role_name.x", "only `data` has sub-fields"),
        ("not: [{farm_id: 1}]", "not", "`not` takes a non-empty mapping"),
        ("any: {farm_id: 1}", "any", "non-empty list of mappings"),
        ("any: [{farm_idd: 1}]", "any[0].farm_idd", "did you mean 'farm_id'"),
        ("farm_id: {exists: 1}", "farm_id.exists", "expected true or false"),
    ],
)
def test_where_error_names_its_line(where: str, path: str, fragment: str) -> None:
    problem = only_problem(rule_yaml(f"where:\n  {where}\n"))
    assert problem.line == 5
    assert problem.path == f"rules[0].where.{path}"
    assert fragment in problem.message


@pytest.mark.parametrize(
    ("action", "path", "fragment"),
    [
        ("scalr: ServerLanch", "scalr", "unknown Scalr action 'ServerLanch' (did you mean 'ServerLaunch'?)"),
        ("scalr: serverreboot", "scalr", "did you mean 'ServerReboot'"),
        ("scalr: Hello\nguard: below_min_instances", "guard", "only valid on ServerLaunch"),
        ("scalr: ServerLaunch\nparams: {FarmRoleID: 1}\nguard: below_min", "guard", "unknown guard"),
        ("scalr: Hello\nparms: {ServerID: x}", "parms", "did you mean 'params'"),
        ("scalr: Hello\nparams: {EnvID: 3}", "params.EnvID", "use env:"),
        ("scalr: Hello\nmax_attempts: 50", "max_attempts", "between 1 and 20"),
        ("scalr: Hello\nretry_on_error: 'no'", "retry_on_error", "expected true/false"),
        ("scalr: FarmTerminate\nparams: {FarmID: 1, KeepEBS: 0}", "params", "FarmTerminate needs KeepEIP, KeepDNSZone"),
        ("scalr: ServerLaunch\nguard: below_min_instances", "scalr", "ServerLaunch needs FarmRoleID"),
        ("scalr: ServerReboot\nparams: {ServerID: '{{ event.server_id }'}", "params.ServerID",
         "template syntax error: unexpected '}'"),
        ("scalr: ServerReboot\nparams: {ServerID: '{{ event.server }}'}", "params.ServerID",
         "event has no field 'server' (did you mean 'server_id'?)"),
        ("scalr: ServerReboot\nparams: {ServerID: '{{ evnt.server_id }}'}", "params.ServerID",
         "unknown name 'evnt' in template (did you mean 'event'?)"),
        ("scalr: ServerReboot\nparams: {ServerID: \"{% set x = 1 %}\"}", "params.ServerID",
         "`set` is not allowed"),
        ("webhook: ftp://x.example/", "webhook", "must start with http"),
        ("webhook: https://x.example/\nmethod: FETCH", "method", "method must be one of"),
        ("webhook: https://x.example/\ntimeout: 10 minutes", "timeout", "bad duration"),
        ("webhook: https://x.example/\nbody: 3", "body", "expected a string, mapping or list"),
        ("email: not-an-address", "email[0]", "not an e-mail address"),
        ("email: []", "email", "at least one address"),
        ("email: ops@example.com\nsubject: '{{ event.name'", "subject", "template syntax error"),
        ("params: {a: 1}", "", "exactly one of scalr, webhook, email"),
        ("scalr: Hello\nemail: ops@example.com", "", "(found scalr, email)"),
    ],
)  # fmt: skip
def test_action_error_names_its_line(action: str, path: str, fragment: str) -> None:
    indented = action.replace("\n", "\n        ")
    problem = only_problem(rule_yaml(actions=f"      - {indented}\n"))
    assert problem.path == "rules[0].actions[0]" + (f".{path}" if path else "")
    key = path.split(".")[0].split("[")[0]
    offset = next(
        (i for i, text in enumerate(action.splitlines()) if text.strip().startswith(f"{key}:")), 0
    )
    assert problem.line == 5 + offset  # the action starts on line 5
    assert fragment in problem.message


def test_several_errors_are_all_reported_in_line_order() -> None:
    text = """\
        rules:
          - name: first
            events: []
            actions:
              - scalr: ServerLanch
          - name: first
            events: [HostUp]
            delay: soon
            where:
              server_id: {regex: "["}
            actions:
              - email: ops@example.com
          - name: Bad Name
            events: [HostUp]
            actions:
              - email: ops@example.com
        """
    found = problems(text)
    assert [(p.line, p.path) for p in found] == [
        (3, "rules[0].events"),
        (5, "rules[0].actions[0].scalr"),
        (6, "rules[1].name"),
        (8, "rules[1].delay"),
        (10, "rules[1].where.server_id.regex"),
        (13, "rules[2].name"),
    ]
    assert "duplicate rule name 'first' (first at line 2)" in found[2].message


def test_duplicate_yaml_keys_are_refused_with_the_second_line() -> None:
    problem = only_problem(rule_yaml("delay: 1m\ndelay: 2m\n"))
    assert (problem.line, problem.path) == (5, "rules[0].delay")
    assert problem.message == "duplicate key 'delay' (first at line 4)"


def test_yaml_syntax_error_has_its_line() -> None:
    problem = only_problem("rules:\n  - name: r1\n    events: [HostDown\n    actions: []\n")
    assert problem.line == 4
    assert problem.message.startswith("YAML syntax error")


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("", 1, "the rules file is empty"),
        ("# nothing but a comment\n", 1, "the rules file is empty"),
        ("- name: r1\n", 1, "top level must be a mapping"),
        ("rulez: []\n", 1, "unknown top-level key 'rulez' (did you mean 'rules'?)"),
        ("rules: {name: r1}\n", 1, "`rules` must be a list"),
        ("rules:\n  - name: r1\n", 2, "missing required key 'events'"),
        ("rules:\n  - 3\n", 2, "expected a mapping, got an integer"),
        ("rules: []\nextra: !!python/object:os.system {}\n", 2, "tag"),
        ("rules: []\nextra: !!python/name:os.system ''\n", 2, "cannot read value"),
    ],
)
def test_file_level_problems(text: str, line: int, fragment: str) -> None:
    found = problems(text)
    assert any(p.line == line and fragment in p.message for p in found), found


def test_missing_rules_key_is_an_error() -> None:
    problem = problems("x-defaults: {}\n")[0]
    assert "missing required key 'rules'" in problem.message


def test_billion_laughs_is_refused() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    text = "\n".join(lines) + "\nrules: []\n"
    problem = only_problem(text)
    assert "expands to more than" in problem.message


def test_recursive_alias_is_refused() -> None:
    problem = only_problem("x-loop: &loop [*loop]\nrules: []\n")
    assert "recursive alias" in problem.message
    assert problem.line == 1


def test_file_over_one_mebibyte_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text("rules: []\n" + "# padding\n" * 110_000)
    with pytest.raises(RulesError) as info:
        load_rules_file(path)
    assert "1 MiB" in info.value.errors[0].message
    with pytest.raises(RulesError):
        load_rules(path.read_text())


def test_non_utf8_file_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_bytes(b"rules:\n  - name: caf\xe9\n")
    with pytest.raises(RulesError) as info:
        load_rules_file(path)
    assert info.value.errors[0].line == 2
    assert "not UTF-8" in info.value.errors[0].message


def test_missing_file_is_a_rules_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError) as info:
        load_rules_file(tmp_path / "absent.yml")
    assert "cannot read" in info.value.errors[0].message


def test_error_formats_like_a_compiler() -> None:
    with pytest.raises(RulesError) as info:
        load_rules(rule_yaml("delay: soon\n"), source="rules.yml")
    assert info.value.formatted() == [
        "rules.yml:4: rules[0].delay: bad duration 'soon': "
        "use seconds or 30s, 2m, 1h, 1d (combinable: 1h30m)"
    ]
    assert str(info.value).startswith("rules.yml:4:")


def test_yaml_boolean_where_a_name_was_meant_gets_a_hint() -> None:
    problem = only_problem(rule_yaml().replace("name: r1", "name: off"))
    assert problem.message == (
        "expected a string, got true/false (YAML reads yes/no/on/off as booleans: quote it)"
    )
    assert problem.line == 2


@pytest.mark.parametrize(
    "text",
    ["[" * 500, "rules: " + "{a: " * 500, "[" * 100_000, "rules: " + "{a: " * 100_000],
    ids=["list", "map", "huge-list", "huge-map"],
)
def test_deeply_nested_document_is_refused_without_crashing(text: str) -> None:
    assert "nested" in only_problem(text).message
