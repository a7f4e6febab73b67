"""Load a rules file: read, parse, validate; refuse it whole with every problem."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from app.rules.errors import RuleProblem, RulesError
from app.rules.model import RuleSet
from app.rules.schema import parse_windows
from app.rules.yamlsource import MAX_BYTES, decode, parse


def load_rules(text: str, source: str = "<rules>") -> RuleSet:
    """Return the rule set in `text`, or raise `RulesError` listing every problem."""
    doc, problems = parse(text)
    if doc is None:
        raise RulesError(problems, source)
    rules, check, windows = parse_windows(doc)
    problems += check.problems
    if problems:
        raise RulesError(problems, source)
    return RuleSet(
        rules,
        text=text,
        source=source,
        warnings=check.warnings,
        loaded_at=datetime.now(UTC),
        maintenance=windows,
    )


def read_rules_bytes(path: str | os.PathLike[str]) -> bytes:
    """Return the bytes of the rules file at `path`, refusing one over the size limit."""
    source = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise RulesError(
            [RuleProblem(None, "", f"cannot read: {exc.strerror or exc}")], source
        ) from None
    if len(data) > MAX_BYTES:
        raise RulesError([RuleProblem(None, "", "file is larger than the 1 MiB limit")], source)
    return data


def load_rules_bytes(data: bytes, source: str) -> RuleSet:
    """Return the rule set in the UTF-8 `data`, or raise `RulesError`."""
    text, problems = decode(data)
    if text is None:
        raise RulesError(problems, source)
    return load_rules(text, source)


def load_rules_file(path: str | os.PathLike[str]) -> RuleSet:
    """Return the rule set in the file at `path`, or raise `RulesError`."""
    return load_rules_bytes(read_rules_bytes(path), os.fspath(path))
