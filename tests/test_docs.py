"""The operator documentation in docs/ is checked against the code, so it cannot drift.

- docs/configuration.md documents exactly the environment variables the code reads
  (found by reading the source, not from a list kept by hand).
- Every ```yaml block of docs/rules.md is a complete rules file that Lifeguard's own
  loader accepts without errors or warnings; the environments example of
  docs/configuration.md loads with the Scalr environments loader.
- docs/rules.md names every rule key, action key, `where` operator and Scalr action.
- Every HTTP path, /metrics gauge and `flask --app wsgi ...` command named in docs/*.md
  exists in the application.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import click
import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from app import create_app
from app.actions import COMMON_KEYS, kinds
from app.config import Config
from app.rules.errors import RulesError
from app.rules.loader import load_rules
from app.rules.operators import OPERATORS
from app.rules.schema import RULE_KEYS
from app.scalr.actions import ACTIONS
from app.scalr.environments import load_environments

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = ("README.md", "configuration.md", "rules.md", "deployment.md", "operations.md")

# Variables that only the test suite, CI and the benchmarks read. They are not
# settings of a Lifeguard deployment, so docs/configuration.md leaves them out.
TEST_ONLY_VARIABLES = frozenset(
    {
        "TEST_DATABASE_URL",  # tests/conftest.py, .ci/run, bench/: the PostgreSQL test database
        "LIFEGUARD_REQUIRE_BROWSER",  # tests/browser: fail instead of skip without Chromium
        "LIFEGUARD_CHROMIUM",  # tests/browser: where Chromium is
        "BENCH_EVENTS",  # bench/bench_dashboard.py: events to generate
        "BENCH_ROUNDS",  # bench/bench_dashboard.py: timed rounds
        "BENCH_DATABASE_URL",  # bench/: PostgreSQL for the benchmarks
        "BENCH_SMOKE",  # bench/run.py: a tiny load (CI), nothing written to docs
        "BENCH_OUTPUT",  # bench/run.py: where the table is written
        "BENCH_VENV",  # bench/servers.py: the virtualenv whose gunicorn and flask to run
    }
)

# The files whose environment reads make up the deployment's configuration.
PYTHON_SOURCES = ("app/**/*.py", "simulator/**/*.py", "bench/**/*.py", "migrations/**/*.py")
SINGLE_SOURCES = ("gunicorn.conf.py", "wsgi.py")
PROCFILES = ("Procfile", "Procfile.demo")

VARIABLE = re.compile(r"^[A-Z][A-Z0-9_]*$")
# Receivers of `.get(...)` / `[...]` that hold the process environment in this code base:
# `os.environ`, a parameter called `environ`, and `env` in Config.from_env.
ENV_RECEIVERS = frozenset({"environ", "env"})


def _page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


# -- environment variables ------------------------------------------------------------


def _receiver_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _loop_literals(tree: ast.Module) -> dict[str, set[str]]:
    """Map each loop variable to the strings it takes in `for a, b in (("X", ..), ..)`."""
    found: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.For) or not isinstance(node.iter, ast.Tuple | ast.List):
            continue
        for element in node.iter.elts:
            if isinstance(node.target, ast.Name) and isinstance(element, ast.Constant):
                found.setdefault(node.target.id, set()).add(str(element.value))
            elif isinstance(node.target, ast.Tuple) and isinstance(element, ast.Tuple | ast.List):
                for target, value in zip(node.target.elts, element.elts, strict=False):
                    if isinstance(target, ast.Name) and isinstance(value, ast.Constant):
                        found.setdefault(target.id, set()).add(str(value.value))
    return found


def _names(arg: ast.expr, loops: dict[str, set[str]]) -> set[str]:
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return {arg.value}
    if isinstance(arg, ast.Name):
        return loops.get(arg.id, set())
    return set()


def python_env_reads(source: str) -> set[str]:
    """Return the variables a module reads: env.get("X"), environ["X"], getenv, envvar=."""
    tree = ast.parse(source)
    loops = _loop_literals(tree)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            env_get = (
                isinstance(func, ast.Attribute)
                and func.attr == "get"
                and _receiver_name(func.value) in ENV_RECEIVERS
            )
            if node.args and (env_get or _receiver_name(func) == "getenv"):
                names |= _names(node.args[0], loops)
            for keyword in node.keywords:  # click options: envvar="X"
                if keyword.arg == "envvar":
                    names |= _names(keyword.value, loops)
        elif isinstance(node, ast.Subscript) and _receiver_name(node.value) in ENV_RECEIVERS:
            names |= _names(node.slice, loops)
    return {name for name in names if VARIABLE.match(name)}


def code_variables() -> set[str]:
    """Every environment variable the deployment's code reads."""
    names: set[str] = set()
    files = [p for pattern in PYTHON_SOURCES for p in ROOT.glob(pattern)]
    files += [ROOT / name for name in SINGLE_SOURCES]
    for path in files:
        names |= python_env_reads(path.read_text(encoding="utf-8"))
    for name in PROCFILES:
        text = (ROOT / name).read_text(encoding="utf-8")
        names |= set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", text))
    return names


def documented_variables() -> set[str]:
    """The variables in the first column of the tables of docs/configuration.md."""
    names: set[str] = set()
    for line in _page("configuration.md").splitlines():
        if not line.startswith("|"):
            continue
        first = line.split("|")[1]
        names |= {n for n in re.findall(r"`([^`]+)`", first) if VARIABLE.match(n)}
    return names


def test_the_scanner_sees_every_form_the_code_uses() -> None:
    source = (
        "import os\n"
        'a = os.environ.get("A_ONE")\n'
        "b = os.environ.get('B_TWO', 'x')\n"
        'c = environ["C_THREE"]\n'
        'd = env.get("D_FOUR") or "x"\n'
        'e = os.getenv("E_FIVE")\n'
        'for var, key in (("F_SIX", "f"), ("G_SEVEN", "g")):\n'
        "    environ.get(var)\n"
        '@click.option("--x", envvar="H_EIGHT")\n'
        "def f(): pass\n"
        'config.get("not_env")\n'
    )
    assert python_env_reads(source) == {
        "A_ONE",
        "B_TWO",
        "C_THREE",
        "D_FOUR",
        "E_FIVE",
        "F_SIX",
        "G_SEVEN",
        "H_EIGHT",
    }


def test_the_scanner_finds_the_known_variables() -> None:
    found = code_variables()
    # One of each way the code reads a variable, so a scanner that goes blind fails here.
    assert {"DATABASE_URL", "SCALR_KEY_ID", "SCALR_ENVIRONMENTS_FILE", "PORT"} <= found
    assert {"SCALR_SIM_KEY_ID", "SIM_PORT"} <= found


def test_every_variable_the_code_reads_is_documented() -> None:
    missing = code_variables() - TEST_ONLY_VARIABLES - documented_variables()
    assert not missing, f"docs/configuration.md does not document {sorted(missing)}"


def test_every_documented_variable_is_read_by_the_code() -> None:
    extra = documented_variables() - code_variables()
    assert not extra, f"docs/configuration.md documents {sorted(extra)}, which no code reads"


def test_test_only_variables_are_not_documented_as_settings() -> None:
    assert not documented_variables() & TEST_ONLY_VARIABLES


def test_variables_named_at_run_time_are_explained() -> None:
    # secret_key_env names a variable chosen by whoever writes the environments file.
    assert "secret_key_env" in _page("configuration.md")


# -- YAML examples ----------------------------------------------------------------------


def yaml_blocks(name: str) -> list[tuple[int, str]]:
    """Return (line, text) of every ```yaml block of a page."""
    blocks = []
    lines = _page(name).splitlines()
    index = 0
    while index < len(lines):
        if lines[index].strip() == "```yaml":
            start = index + 1
            end = start
            while lines[end].strip() != "```":
                end += 1
            blocks.append((start + 1, "\n".join(lines[start:end]) + "\n"))
            index = end
        index += 1
    return blocks


RULES_BLOCKS = yaml_blocks("rules.md")


def test_rules_page_has_recipes() -> None:
    assert len(RULES_BLOCKS) >= 8


@pytest.mark.parametrize(("line", "text"), RULES_BLOCKS, ids=[f"line{n}" for n, _ in RULES_BLOCKS])
def test_every_rules_example_loads_cleanly(line: int, text: str) -> None:
    source = f"docs/rules.md:{line}"
    try:
        ruleset = load_rules(text, source)
    except RulesError as exc:
        pytest.fail("\n".join(exc.formatted()))
    assert len(ruleset) >= 1
    warnings = [w.format(source) for w in ruleset.warnings]
    assert not warnings, warnings


def test_environments_example_loads(tmp_path: Path) -> None:
    blocks = yaml_blocks("configuration.md")
    assert len(blocks) == 1
    path = tmp_path / "environments.yml"
    path.write_text(blocks[0][1], encoding="utf-8")
    names = set(re.findall(r"secret_key_env: (\w+)", blocks[0][1]))
    environ = {"SCALR_ENVIRONMENTS_FILE": str(path), **{n: "s3cret" for n in names}}
    environments = load_environments(environ)
    assert environments
    assert all(env.secret_key == "s3cret" for env in environments.values())


# -- the rules reference is complete ---------------------------------------------------


def _code_spans(text: str) -> set[str]:
    return set(re.findall(r"`([^`\n]+)`", text))


def test_rules_reference_names_every_key_and_operator() -> None:
    spans = _code_spans(_page("rules.md"))
    keys = set(RULE_KEYS) | set(COMMON_KEYS) | {key for kind in kinds() for key in kind.keys}
    assert not keys - spans, sorted(keys - spans)
    assert not set(OPERATORS) - spans, sorted(set(OPERATORS) - spans)
    assert not set(ACTIONS) - spans, sorted(set(ACTIONS) - spans)


# -- paths, metrics and commands exist -------------------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("docs-app")
    (folder / "rules.yml").write_text("rules: []\n", encoding="utf-8")
    config = Config(
        database_url=f"sqlite:///{folder / 'lifeguard.db'}",
        instance_path=folder,
        secret_key="docs-test",
        rules_file=str(folder / "rules.yml"),
        testing=True,
    )
    return create_app(config)


def all_docs() -> str:
    return "\n".join(_page(name) for name in PAGES)


# Absolute paths in the docs that are files on a machine, not URLs of the application.
FILE_PREFIXES = ("/etc/", "/var/", "/srv/", "/opt/", "/usr/", "/tmp/", "/home/", "/run/")
PATH_SPAN = re.compile(r"`(?:(GET|POST|PUT|PATCH|DELETE) )?(/[^`\s]*)`")
API_PATH = re.compile(r"(?:(GET|POST|PUT|PATCH|DELETE) )?(/api/v1/[^\s`)|,\"']+)")


def documented_paths() -> set[tuple[str | None, str]]:
    """(method or None, path) for every URL path the docs name."""
    text = all_docs()
    found = set()
    for method, path in PATH_SPAN.findall(text):
        if not path.startswith(FILE_PREFIXES) and path != "/":
            found.add((method or None, path))
    for method, path in API_PATH.findall(text):
        found.add((method or None, path))
    return found


def _concrete(path: str) -> str:
    path = path.split("?", 1)[0].rstrip(".:;")
    return re.sub(r"<[^>]+>", "1", path)


def test_docs_name_api_paths() -> None:
    assert any(path.startswith("/api/v1/") for _, path in documented_paths())


def test_every_documented_path_exists(app: Any) -> None:
    adapter = app.url_map.bind("localhost")
    rules = [rule.rule for rule in app.url_map.iter_rules()]
    missing = []
    for method, path in sorted(documented_paths(), key=lambda p: (p[1], p[0] or "")):
        concrete = _concrete(path)
        methods = [method] if method else ["GET", "POST"]
        found = False
        for candidate in methods:
            try:
                adapter.match(concrete, method=candidate)
                found = True
            except (NotFound, MethodNotAllowed):
                continue
        # A bare prefix ("every `/api/v1` request") names the routes below it.
        found = found or any(rule.startswith(concrete.rstrip("/") + "/") for rule in rules)
        if not found:
            missing.append(f"{method or ''} {path}".strip())
    assert not missing, f"docs name paths the application does not serve: {missing}"


def test_every_documented_metric_exists() -> None:
    source = "".join(
        (ROOT / "app" / name).read_text(encoding="utf-8") for name in ("health.py", "metrics.py")
    )
    metrics = set(re.findall(r"\blifeguard_[a-z_]+", all_docs()))
    assert metrics
    # A counter is declared without the `_total` its samples carry.
    missing = {m for m in metrics if f'"{m.removesuffix("_total")}"' not in source}
    assert not missing, f"no such metric in app/health.py or app/metrics.py: {sorted(missing)}"


COMMAND = re.compile(r"flask --app wsgi((?: [a-z][a-z0-9-]*)+)")


def test_every_documented_command_exists(app: Any) -> None:
    problems = []
    seen = 0
    for match in COMMAND.finditer(all_docs()):
        words = match.group(1).split()
        command: click.Command = app.cli
        used = 0
        for word in words:
            if not isinstance(command, click.Group) or word not in command.commands:
                break
            command = command.commands[word]
            used += 1
        seen += 1
        if used == 0:
            problems.append(match.group(0))
        elif isinstance(command, click.Group) and used < len(words):
            problems.append(f"{match.group(0)} (no subcommand {words[used]!r})")
    assert seen > 0
    assert not problems, f"docs name commands that do not exist: {problems}"


def test_index_links_every_page() -> None:
    index = _page("README.md")
    for name in PAGES[1:]:
        assert f"({name})" in index, name
