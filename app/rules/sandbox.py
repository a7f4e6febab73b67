"""The Jinja sandbox that rule templates render in, with size limits.

`ImmutableSandboxedEnvironment` already refuses dunder and private attribute
access, unsafe callables and mutation of lists and dicts. Jinja cannot time a
render out, so whatever could build a huge value is bounded before it runs:
`range` (per call and per render), `*` and `**`, format widths (`%`, `format`,
`str.format`), width and replace filters and string methods, `join`; and the
whole output is capped (templating.py). Time is bounded the same way: every loop
body counts against a per-render budget of iterations (nested loops over long
strings build nothing, yet 60,000 x 60,000 empty turns would hold a worker for
minutes). Statements that could accumulate or
recurse (`set`, `macro`, `call`, `include`, ...) are refused at load.

Null event fields are left out of the context, so `{{ event.farm_role_id }}`
on a HostDown without a farm role is undefined (StrictUndefined), never
"None" or "": `_EventUndefined` names the field in the error. An expression
that still evaluates to null (`event.data.get('X')`) is refused by `finalize`.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from typing import Any, NoReturn

from jinja2 import StrictUndefined, Undefined, nodes, pass_eval_context
from jinja2.exceptions import SecurityError
from jinja2.filters import do_center, do_format, do_indent, do_replace, sync_do_join
from jinja2.nodes import EvalContext
from jinja2.sandbox import ImmutableSandboxedEnvironment

from app.rules.errors import TemplateLimitError, TemplateSecurityError, TemplateUndefinedError

MAX_OUTPUT = 64 * 1024  # characters of one rendered string
MAX_WIDTH = 1024  # format widths, center/indent widths
MAX_RANGE = 1000  # elements of one range()
RANGE_BUDGET = 10_000  # range() elements of one render
LOOP_BUDGET = 100_000  # loop iterations of one render (nested loops count each turn)
LOOP_TICK = "_lg_loop_tick"  # the global each loop body calls first; see LifeguardSandbox._parse
_range_budget: ContextVar[list[int]] = ContextVar("lifeguard_range_budget")
_loop_budget: ContextVar[list[int]] = ContextVar("lifeguard_loop_budget")


class Fields(dict[str, Any]):
    """A mapping of event (or rule) fields that knows its path and which fields were null."""

    __slots__ = ("_lg_nulls", "_lg_path")

    def __init__(self, values: Mapping[str, Any], path: str, nulls: Iterable[str] = ()) -> None:
        super().__init__()
        self._lg_path = path
        self._lg_nulls = set(nulls)
        for key, value in values.items():
            if value is None:
                self._lg_nulls.add(key)
            elif isinstance(value, Mapping):
                self[key] = Fields(value, f"{path}.{key}")
            else:
                self[key] = value
        self._lg_nulls -= set(self)


class _EventUndefined(StrictUndefined):
    """Fail on any use, naming the missing field and why it is missing."""

    __slots__ = ()

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> NoReturn:
        if isinstance(self._undefined_exception, type) and issubclass(
            self._undefined_exception, SecurityError
        ):
            raise TemplateSecurityError(f"refused by the sandbox: {self._undefined_hint}")
        obj, name = self._undefined_obj, self._undefined_name
        if isinstance(obj, Fields):
            field = f"{obj._lg_path}.{name}"
            if name in obj._lg_nulls:
                raise TemplateUndefinedError(field, f"{field} is null for this event")
            what = "field" if obj._lg_path in {"event", "rule"} else "key"
            raise TemplateUndefinedError(field, f"{obj._lg_path} has no {what} {name!r}")
        field = str(name) if name is not None else "?"
        raise TemplateUndefinedError(field, self._undefined_message)


# StrictUndefined binds its dunders (`__str__`, `__iter__`, ...) to the base method itself,
# so overriding the method alone would not reach them: rebind each to ours.
for _klass in (Undefined, StrictUndefined):
    for _name, _value in list(vars(_klass).items()):
        if _value is Undefined._fail_with_undefined_error and _name != "_fail_with_undefined_error":
            setattr(_EventUndefined, _name, _EventUndefined._fail_with_undefined_error)


def _limit(size: int, what: str) -> None:
    if size > MAX_OUTPUT:
        raise TemplateLimitError(f"{what} would make {size} characters; the limit is {MAX_OUTPUT}")


def _width(value: Any, what: str) -> None:
    if isinstance(value, int) and value > MAX_WIDTH:
        raise TemplateLimitError(f"{what} {value} is above the limit of {MAX_WIDTH}")


_PERCENT_SPEC = re.compile(r"%[#0\- +]*(\*|\d*)(?:\.(\*|\d*))?")
_BRACE_SPEC = re.compile(r"\{[^{}]*:([^{}]*)\}")


def check_format(fmt: str) -> None:
    """Refuse a format string whose widths or precisions could allocate a huge string."""
    if re.search(r"\{[^{}]*\{", fmt):
        raise TemplateLimitError("nested format fields are not allowed")
    widths = [g for m in _PERCENT_SPEC.finditer(fmt) for g in m.groups() if g]
    widths += [w for m in _BRACE_SPEC.finditer(fmt) for w in re.findall(r"\d+", m.group(1))]
    for width in widths:
        if width == "*":
            raise TemplateLimitError("'*' widths are not allowed in format strings")
        _width(int(width), "format width")


def _replace_size(s: str, old: str, new: str, count: int = -1) -> int:
    hits = len(s) + 1 if old == "" else s.count(old)
    if count is not None and count >= 0:
        hits = min(hits, count)
    return len(s) + hits * max(0, len(new) - len(old))


def _join_size(items: list[Any], sep: str) -> int:
    return sum(len(str(item)) for item in items) + len(sep) * max(0, len(items) - 1)


def safe_range(*args: int) -> range:
    """Return `range(*args)` if it is small and the render's range budget allows it."""
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise TemplateLimitError(f"range of {len(rng)} elements; the limit is {MAX_RANGE}")
    budget = _range_budget.get([RANGE_BUDGET])
    budget[0] -= len(rng)
    if budget[0] < 0:
        raise TemplateLimitError(f"more than {RANGE_BUDGET} range() elements in one render")
    return rng


def new_range_budget() -> None:
    """Give the current render fresh range and loop budgets."""
    _range_budget.set([RANGE_BUDGET])
    _loop_budget.set([LOOP_BUDGET])


def loop_tick() -> str:
    """Count one loop iteration against the render's budget; render nothing."""
    budget = _loop_budget.get([LOOP_BUDGET])
    budget[0] -= 1
    if budget[0] < 0:
        raise TemplateLimitError(f"more than {LOOP_BUDGET} loop iterations in one render")
    return ""


@pass_eval_context
def _replace(ctx: EvalContext, s: Any, old: str, new: str, count: int | None = None) -> str:
    _limit(_replace_size(str(s), str(old), str(new), -1 if count is None else count), "replace")
    return str(do_replace(ctx, s, old, new, count))


@pass_eval_context
def _join(ctx: EvalContext, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
    items = list(value)
    _limit(_join_size(items, str(d)), "join")
    return str(sync_do_join(ctx, items, d, attribute))


def _center(value: str, width: int = 80) -> str:
    _width(width, "center width")
    return do_center(value, width)


def _indent(s: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    _width(width if isinstance(width, int) else len(width), "indent width")
    size = len(width) if isinstance(width, str) else width
    _limit(len(s) + (s.count("\n") + 1) * size, "indent")
    return do_indent(s, width, first, blank)


def _format(value: str, *args: Any, **kwargs: Any) -> str:
    check_format(str(value))
    return do_format(value, *args, **kwargs)


def _tojson(value: Any, indent: int | None = None) -> str:
    if isinstance(value, Undefined):
        str(value)  # raises the undefined error that names the field
    _width(indent or 0, "tojson indent")
    return json.dumps(value, ensure_ascii=False, indent=indent, default=str)


def _refuse_none(value: Any) -> Any:
    if value is None:
        raise TemplateUndefinedError("?", "an expression rendered null (use `| default(...)`)")
    return value


# str methods that can make a string much larger than their inputs, and their size check
_STR_METHODS: dict[str, Callable[..., None]] = {
    "center": lambda s, w=0, *a: _width(w, "width"),
    "ljust": lambda s, w=0, *a: _width(w, "width"),
    "rjust": lambda s, w=0, *a: _width(w, "width"),
    "zfill": lambda s, w=0, *a: _width(w, "width"),
    "expandtabs": lambda s, n=8, *a: _limit(len(s) * max(1, n), "expandtabs"),
    "replace": lambda s, old, new, count=-1: _limit(_replace_size(s, old, new, count), "replace"),
    "join": lambda s, items: _limit(_join_size(list(items), s), "join"),
}


class LifeguardSandbox(ImmutableSandboxedEnvironment):
    """The rule template environment: immutable sandbox plus size limits."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self) -> None:
        super().__init__(
            undefined=_EventUndefined,
            autoescape=False,
            finalize=_refuse_none,
            keep_trailing_newline=True,
        )
        for name in ("lipsum", "namespace", "cycler", "joiner"):
            self.globals.pop(name, None)
        self.globals["range"] = safe_range
        self.globals[LOOP_TICK] = loop_tick
        self.filters.update(
            replace=_replace,
            join=_join,
            center=_center,
            indent=_indent,
            format=_format,
            tojson=_tojson,
        )

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Parse `source`, making every loop body count its turns (recursive loops too)."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            tick = nodes.Call(nodes.Name(LOOP_TICK, "load"), [], [], None, None)
            loop.body.insert(0, nodes.Output([tick]).set_lineno(loop.lineno))
        tree.set_environment(self)
        return tree

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """Run an intercepted operator after checking the size of what it would build."""
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int):
                    _limit(len(seq) * times, "repetition")
        elif operator == "**" and isinstance(right, int) and isinstance(left, int):
            if right > 0 and right * max(1, abs(left).bit_length()) > 4096:
                raise TemplateLimitError("power too large")
        elif operator == "%" and isinstance(left, str):
            check_format(left)
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Check the widths of a `str.format` call before sandboxing it."""
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            check_format(value.__self__)
        return wrapped

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Call `__obj`, checking string methods that could build huge strings first."""
        owner = getattr(__obj, "__self__", None)
        check = _STR_METHODS.get(getattr(__obj, "__name__", ""))
        if isinstance(owner, str) and check is not None:
            if __obj.__name__ == "join" and args:
                args = (list(args[0]), *args[1:])  # size it without consuming an iterator
            with contextlib.suppress(TypeError):  # a wrong call: let str report it
                check(owner, *args, **kwargs)
        return super().call(__context, __obj, *args, **kwargs)
