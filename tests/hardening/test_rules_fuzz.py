"""The rules loader under random YAML and random rule trees: a valid rule set, or a
RulesError whose every problem says where it is; never another exception.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import given
from hypothesis import strategies as st

from app.rules.errors import RulesError
from app.rules.loader import load_rules, load_rules_bytes
from app.rules.model import RuleSet
from tests.hardening.settings import bounded

EXAMPLE = (Path(__file__).resolve().parents[2] / "rules.example.yml").read_text()
RULE_KEYS = [
    "name", "description", "enabled", "events", "where", "delay", "cancel_on",
    "throttle", "dry_run", "on_failure", "actions", "on", "evnts",
]  # fmt: skip
ACTION_KEYS = [
    "scalr", "params", "webhook", "body", "headers", "method", "timeout", "email",
    "subject", "env", "guard", "approve", "expect", "max_attempts", "retry_on_error",
]  # fmt: skip
WHERE_KEYS = ["farm_id", "role_name", "server_id", "message", "data", "nope"]
TEMPLATES = [
    "{{ event.farm_role_id }}",
    "{{ event.nope }}",
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{% set x = 1 %}",
    "{{ range(10**9) | list }}",
    "{{ event.message | attr('__class__') }}",
    "{{ unclosed",
    "{% for %}",
    "https://chat.example/hooks/{{ event.server_id }}",
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=30)
    | st.sampled_from(TEMPLATES)
    | st.sampled_from(["2m", "30s", "8d", "1h", "HostDown", "OnHostUp", "ServerLaunch", "x-y"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=10) | st.sampled_from(WHERE_KEYS), inner, max_size=4),
    max_leaves=10,
)


def check(result: RuleSet | RulesError, text: str) -> None:
    """Assert the loader's answer is a rule set, or an error list whose problems are placed."""
    if isinstance(result, RuleSet):
        return
    assert result.errors, "a RulesError with no problem"
    lines = text.count("\n") + 2
    for problem in result.errors:
        assert problem.message
        if problem.line is None:
            # Only a problem with the whole file has no line (size, encoding, nesting).
            assert problem.path == "", problem
        else:
            assert 1 <= problem.line <= lines, (problem, lines)
        assert problem.format("<rules>")


def outcome(text: str) -> RuleSet | RulesError:
    try:
        return load_rules(text)
    except RulesError as exc:
        return exc


@st.composite
def rule_trees(draw):
    """Draw a document shaped like a rules file, with random keys and values at every level."""
    rules = []
    for _ in range(draw(st.integers(0, 3))):
        rule = {
            key: draw(VALUES)
            for key in draw(st.lists(st.sampled_from(RULE_KEYS), max_size=6, unique=True))
        }
        rule.setdefault("name", draw(st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)))
        if draw(st.booleans()):
            rule["events"] = draw(
                st.lists(st.sampled_from(["HostDown", "OnHostUp", "x y"]), max_size=2)
            )
        if draw(st.booleans()):
            rule["where"] = draw(st.dictionaries(st.sampled_from(WHERE_KEYS), VALUES, max_size=3))
        actions = []
        for _ in range(draw(st.integers(0, 2))):
            keys = draw(st.lists(st.sampled_from(ACTION_KEYS), max_size=4, unique=True))
            actions.append({key: draw(VALUES) for key in keys})
        rule["actions"] = actions if draw(st.booleans()) else draw(VALUES)
        rules.append(rule)
    doc = {"rules": rules}
    if draw(st.integers(0, 5)) == 0:
        doc[draw(st.text(max_size=8))] = draw(VALUES)
    return doc


@bounded(150)
@given(rule_trees())
def test_random_rule_trees(tree):
    text = yaml.safe_dump(tree, allow_unicode=True, sort_keys=False)
    check(outcome(text), text)


@bounded(200)
@given(st.text(max_size=400))
def test_random_text(text):
    check(outcome(text), text)


@bounded(150)
@given(st.binary(max_size=400))
def test_random_bytes(data):
    try:
        result: RuleSet | RulesError = load_rules_bytes(data, "<rules>")
    except RulesError as exc:
        result = exc
    check(result, data.decode("utf-8", "replace"))


YAML_PIECES = [
    "rules:\n", "  - ", "name: a\n", "events: [HostDown]\n", "actions:\n", "    - ", "scalr: ServerLaunch\n",
    "&a ", "*a\n", "<<: *a\n", "!!python/object/apply:os.system ['true']\n", "!!binary aGk=\n",
    "? [a, b]\n: c\n", "{", "}", "[", "]", "'", '"', "\t", "---\n", "...\n", "%YAML 1.1\n",
    "key: value\n", "key: value\n", ": \n", "- - - -\n", "\\", "#", "|\n", ">-\n", "\x00", "\ufeff",
    "on: [HostDown]\n", "delay: 2m\n", "where: {farm_id: 1439}\n",
]  # fmt: skip


@bounded(300)
@given(st.lists(st.sampled_from(YAML_PIECES) | st.text(max_size=6), max_size=40))
def test_random_yaml_token_soup(pieces):
    text = "".join(pieces)
    check(outcome(text), text)


@bounded(200)
@given(st.data())
def test_mutated_example_rules_file(data):
    lines = EXAMPLE.splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(lines) - 1))
        how = data.draw(st.sampled_from(["drop", "duplicate", "dedent", "indent", "insert"]))
        if how == "drop":
            del lines[at]
        elif how == "duplicate":
            lines.insert(at, lines[at])
        elif how == "dedent":
            lines[at] = lines[at].lstrip(" ")
        elif how == "indent":
            lines[at] = "  " + lines[at]
        else:
            lines.insert(at, data.draw(st.sampled_from(YAML_PIECES) | st.text(max_size=20)))
        if not lines:
            break
    text = "".join(lines)
    check(outcome(text), text)


def test_the_example_rules_file_is_valid():
    assert isinstance(outcome(EXAMPLE), RuleSet)
