"""Loading Scalr environments from variables and a YAML file."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.scalr.environments import ScalrEnvironment, ScalrEnvironments, load_environments
from app.scalr.errors import ScalrConfigError
from tests.scalr.conftest import KEY_ID, SECRET_KEY

BASE = {
    "SCALR_API_URL": "https://scalr.example.com/api/api.php",
    "SCALR_KEY_ID": KEY_ID,
    "SCALR_SECRET_KEY": SECRET_KEY,
}


def test_default_environment_from_variables() -> None:
    envs = load_environments({**BASE, "SCALR_ENV_ID": "3", "SCALR_API_VERSION": "2.2.0"})
    env = envs["default"]
    assert (env.api_url, env.key_id, env.env_id, env.version) == (
        BASE["SCALR_API_URL"],
        KEY_ID,
        3,
        "2.2.0",
    )
    assert env.requests_per_hour == 10000 and env.timeout_seconds == 10.0


def test_no_url_means_no_default() -> None:
    assert load_environments({"SCALR_KEY_ID": KEY_ID}) == {}


def test_repr_never_shows_the_secret() -> None:
    env = load_environments(BASE)["default"]
    assert SECRET_KEY not in repr(env)
    assert SECRET_KEY not in str(env)
    assert SECRET_KEY not in f"{env}"


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"SCALR_KEY_ID": ""}, "SCALR_KEY_ID"),
        ({"SCALR_SECRET_KEY": " "}, "SCALR_SECRET_KEY"),
        ({"SCALR_ENV_ID": "three"}, "SCALR_ENV_ID"),
        ({"SCALR_API_VERSION": "3.0.0"}, "SCALR_API_VERSION"),
        ({"SCALR_API_URL": "ftp://x"}, "api_url"),
        ({"SCALR_REQUESTS_PER_HOUR": "0"}, "SCALR_REQUESTS_PER_HOUR"),
    ],
)
def test_invalid_variables_are_named(extra: dict[str, str], named: str) -> None:
    with pytest.raises(ScalrConfigError, match=named) as caught:
        load_environments({**BASE, **extra})
    assert isinstance(caught.value, ValueError)
    assert SECRET_KEY not in str(caught.value)


def test_named_environments_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "scalr.yml"
    path.write_text(
        "staging:\n"
        "  api_url: http://127.0.0.1:8400/api/api.php\n"
        "  key_id: abc\n"
        "  secret_key_env: STAGING_SECRET\n"
        "  env_id: 7\n"
        "  version: 2.3.0\n"
        "  requests_per_hour: 50\n"
        "  timeout_seconds: 2.5\n"
        "other:\n"
        "  api_url: https://api.scalr.net/\n"
        "  key_id: def\n"
        "  secret_key: inline-secret\n"
    )
    envs = load_environments(
        {**BASE, "SCALR_ENVIRONMENTS_FILE": str(path), "STAGING_SECRET": "from-env"}
    )
    assert sorted(envs) == ["default", "other", "staging"]
    assert envs["staging"] == ScalrEnvironment(
        "staging", "http://127.0.0.1:8400/api/api.php", "abc", "from-env", 7, "2.3.0", 50, 2.5
    )
    assert envs["other"].env_id is None


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("x:\n  key_id: a\n  secret_key: s\n", "api_url is required"),
        ("x:\n  api_url: http://h/\n  key_id: a\n  secret_key_env: MISSING\n", "MISSING"),
        ("x:\n  api_url: http://h/\n  key_id: a\n  secret_key: s\n  env_id: no\n", "env_id"),
        ("x:\n  api_url: http://h/\n  key_id: a\n  secret_key: s\n  colour: red\n", "colour"),
        ("x:\n  api_url: http://h/\n  key_id: a\n  secret_key: s\n  version: 1.0.0\n", "version"),
        ("x:\n  api_url: http://h/\n  key_id: a\n  secret_key: s\n  secret_key_env: S\n", "one"),
        ("default:\n  api_url: http://h/\n  key_id: a\n  secret_key: s\n", "already defined"),
        ("- a\n- b\n", "must map"),
        ("x: [unclosed\n  secret_key: hunter2\n", "line"),
    ],
)
def test_invalid_file_is_named(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(ScalrConfigError, match=named) as caught:
        load_environments({**BASE, "SCALR_ENVIRONMENTS_FILE": str(path)})
    assert "hunter2" not in str(caught.value)
    if "already" not in named and "must map" not in named:
        assert str(path) in str(caught.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ScalrConfigError, match="SCALR_ENVIRONMENTS_FILE"):
        load_environments({"SCALR_ENVIRONMENTS_FILE": str(tmp_path / "nope.yml")})


def test_read_once_keeps_the_environments_or_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "scalr.yml"
    path.write_text("other:\n  api_url: https://api.scalr.net/\n  key_id: k\n  secret_key: s\n")
    environments = ScalrEnvironments.read({**BASE, "SCALR_ENVIRONMENTS_FILE": str(path)})
    path.unlink()  # read once: the file is not needed afterwards
    assert sorted(environments.all()) == ["default", "other"]
    assert environments.get("other").key_id == "k"
    assert ScalrEnvironments.of(environments) is environments
    with pytest.raises(ScalrConfigError, match=r"no Scalr environment named 'x' \(known: default"):
        environments.get("x")
    with pytest.raises(ScalrConfigError, match=r"named 'default' \(known: none configured\)"):
        ScalrEnvironments.read({}).get("default")
    bad = ScalrEnvironments.read({"SCALR_API_URL": "https://h/"})  # no key: kept, not raised
    assert bad.problem == "SCALR_KEY_ID must be set when SCALR_API_URL is set"
    assert SECRET_KEY not in repr(ScalrEnvironments.read(BASE))
    for use in (bad.all, lambda: bad.get("default")):
        with pytest.raises(ScalrConfigError, match="SCALR_KEY_ID must be set"):
            use()
