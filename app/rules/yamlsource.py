"""Read a rules file's YAML into plain values plus the line of every path.

PyYAML's loaders keep the last of two equal keys silently and forget where
values came from, so the document is composed into nodes (SafeLoader, no
Python tags) and walked here: duplicate keys are reported, every mapping key
and list item records its line under a path like `rules[0].where.farm_id`.

Decisions:
- Keys are read as their literal text: `on:` stays "on" (YAML 1.1 would make
  it true) so the schema can say "write `events:`"; `1978:` is the string "1978".
- Anchors, aliases and merge keys (`<<: *defaults`) are allowed, because
  sharing an action list between rules is useful; a recursive alias is
  refused, and so is a document whose aliases expand past MAX_NODES values
  (the "billion laughs" bomb expands exponentially while its text stays small).
- Size and encoding: at most MAX_BYTES of UTF-8 (a BOM is tolerated).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from app.rules.errors import RuleProblem

MAX_BYTES = 1024 * 1024
MAX_NODES = 100_000
MAX_DEPTH = 40
_MERGE_TAG = "tag:yaml.org,2002:merge"
_PLAIN_COLLECTION_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


def child(path: str, key: object) -> str:
    """Return the path of `key` inside the mapping at `path`."""
    return f"{path}.{key}" if path else str(key)


def item(path: str, index: int) -> str:
    """Return the path of item `index` of the list at `path`."""
    return f"{path}[{index}]"


@dataclass
class Document:
    """A parsed YAML document: plain values and the line of each path."""

    data: Any
    lines: dict[str, int] = field(default_factory=dict)

    def line(self, path: str) -> int | None:
        """Return the line of `path`, or of its nearest ancestor that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return self.lines.get("")


def decode(data: bytes) -> tuple[str | None, list[RuleProblem]]:
    """Return `data` as text, or the problem that stops it being read."""
    if len(data) > MAX_BYTES:
        return None, [RuleProblem(None, "", f"file is {len(data)} bytes; the limit is 1 MiB")]
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [RuleProblem(line, "", f"file is not UTF-8 (byte {exc.start}: {exc.reason})")]


def parse(text: str) -> tuple[Document | None, list[RuleProblem]]:
    """Return the document in `text` and the problems found reading it."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        return None, [RuleProblem(None, "", "file is larger than the 1 MiB limit")]
    loader = _loader_for(text)
    if loader is None:
        return None, [RuleProblem(None, "", "document is nested too deeply")]
    try:
        root = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        return None, [RuleProblem(line, "", f"YAML syntax error: {exc.problem or exc}")]
    except yaml.YAMLError as exc:
        return None, [RuleProblem(None, "", f"YAML error: {exc}")]
    except RecursionError:
        return None, [RuleProblem(None, "", "document is nested too deeply")]
    if root is None:
        return Document(None, {"": 1}), []
    walker = _Walker()
    try:
        data = walker.walk(root, "", 0)
    except _Refused as exc:
        return None, [exc.problem]
    walker.doc.data = data
    return walker.doc, walker.problems


_BRACKETS = re.compile(r"[\[\]{}]")
_C_LOADER_MAX_FLOW_DEPTH = 200
_MAX_FLOW_DEPTH = 2000


def _loader_for(text: str) -> type[yaml.SafeLoader] | type[yaml.CSafeLoader] | None:
    """Return libyaml's loader unless flow nesting is deep; None when it is absurdly deep."""
    # libyaml's composer recurses in C: very deep `[[[[...` crashes the process, where
    # PyYAML's pure-Python one raises RecursionError (after quadratic time, hence the
    # outright refusal). Counting brackets overestimates (brackets in strings count too).
    depth = deepest = 0
    for match in _BRACKETS.finditer(text):
        depth = depth + 1 if match.group() in "[{" else max(0, depth - 1)
        deepest = max(deepest, depth)
        if deepest > _MAX_FLOW_DEPTH:
            return None
    if deepest > _C_LOADER_MAX_FLOW_DEPTH or not getattr(yaml, "__with_libyaml__", False):
        return yaml.SafeLoader
    return yaml.CSafeLoader


class _Refused(Exception):
    """Stop walking: the document as a whole is refused."""

    def __init__(self, problem: RuleProblem) -> None:
        self.problem = problem


class _Walker:
    """Turn composed nodes into plain values, recording lines and duplicate keys."""

    def __init__(self) -> None:
        self.doc = Document(None, {"": 1})
        self.problems: list[RuleProblem] = []
        self.constructor = yaml.SafeLoader("")
        self.count = 0
        self.active: set[int] = set()  # ids of collection nodes being walked (cycle check)

    def walk(self, node: Node, path: str, depth: int) -> Any:
        self.count += 1
        line = node.start_mark.line + 1
        if self.count > MAX_NODES:
            raise _Refused(
                RuleProblem(
                    line,
                    path,
                    f"document expands to more than {MAX_NODES} values "
                    "(aliases repeating aliases?); refusing it",
                )
            )
        if depth > MAX_DEPTH:
            raise _Refused(RuleProblem(line, path, f"nested more than {MAX_DEPTH} levels deep"))
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if id(node) in self.active:
            raise _Refused(RuleProblem(line, path, "recursive alias: a value contains itself"))
        if node.tag not in _PLAIN_COLLECTION_TAGS:
            self._problem(node, path, f"YAML tag {node.tag!r} is not supported")
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return self._sequence(node, path, depth)
            assert isinstance(node, MappingNode)
            return self._mapping(node, path, depth)
        finally:
            self.active.discard(id(node))

    def _problem(self, node: Node, path: str, message: str) -> None:
        self.problems.append(RuleProblem(node.start_mark.line + 1, path, message))

    def _scalar(self, node: ScalarNode, path: str) -> Any:
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            self._problem(node, path, f"cannot read value: {exc.problem}")
            return None

    def _sequence(self, node: SequenceNode, path: str, depth: int) -> list[Any]:
        values = []
        for index, sub in enumerate(node.value):
            sub_path = item(path, index)
            self.doc.lines.setdefault(sub_path, sub.start_mark.line + 1)
            values.append(self.walk(sub, sub_path, depth + 1))
        return values

    def _mapping(self, node: MappingNode, path: str, depth: int) -> dict[str, Any]:
        own: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.update(self._merge(value_node, path, depth))
                continue
            if not isinstance(key_node, ScalarNode):
                self._problem(key_node, path, "a mapping key must be plain text")
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in first_line:
                self._problem(
                    key_node,
                    child(path, key),
                    f"duplicate key {key!r} (first at line {first_line[key]})",
                )
                continue  # the first one stays, as the reader of the file expects
            first_line[key] = line
            self.doc.lines[child(path, key)] = line
            own[key] = self.walk(value_node, child(path, key), depth + 1)
        return {**merged, **own}

    def _merge(self, node: Node, path: str, depth: int) -> dict[str, Any]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        merged: dict[str, Any] = {}
        for source in reversed(sources):  # earlier sources win, as YAML specifies
            value = self.walk(source, path, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
            else:
                self._problem(source, path, "`<<` merges only mappings")
        return merged
