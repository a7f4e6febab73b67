"""Scalr environments the service may call: the default one from variables, more from YAML.

`load_environments` parses them and raises on bad input. A process reads them
once at start with `ScalrEnvironments.read` and passes that on: a bad setting
does not stop the process, it is kept and raised where an environment is used
(the job that needs Scalr dies with it, the health page shows it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from app.scalr.actions import DEFAULT_VERSION, SUPPORTED_VERSIONS
from app.scalr.errors import ScalrConfigError

DEFAULT_REQUESTS_PER_HOUR = 10000
DEFAULT_TIMEOUT_SECONDS = 10.0
_VERSION_FORMAT = re.compile(r"^\d+\.\d+\.\d+$")
_KNOWN_KEYS = {
    "api_url",
    "key_id",
    "secret_key",
    "secret_key_env",
    "env_id",
    "version",
    "requests_per_hour",
    "timeout_seconds",
}


@dataclass(frozen=True)
class ScalrEnvironment:
    """One Scalr environment: endpoint, API key and limits. Its repr never shows the secret."""

    name: str
    api_url: str
    key_id: str
    secret_key: str = field(repr=False)
    env_id: int | None = None
    version: str = DEFAULT_VERSION
    requests_per_hour: int = DEFAULT_REQUESTS_PER_HOUR
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        if not self.api_url.startswith(("http://", "https://")):
            raise ScalrConfigError(f"Scalr environment {self.name!r}: api_url must be http(s)")
        if not self.key_id or not self.secret_key:
            raise ScalrConfigError(f"Scalr environment {self.name!r}: key id and secret needed")
        if not _VERSION_FORMAT.match(self.version):
            raise ScalrConfigError(f"Scalr environment {self.name!r}: bad version {self.version!r}")
        if self.requests_per_hour < 1:
            raise ScalrConfigError(f"Scalr environment {self.name!r}: requests_per_hour < 1")
        if self.timeout_seconds <= 0:
            raise ScalrConfigError(f"Scalr environment {self.name!r}: timeout_seconds <= 0")

    def __str__(self) -> str:
        return repr(self)


def _int(where: str, raw: Any, minimum: int | None = None) -> int:
    if isinstance(raw, bool):
        raise ScalrConfigError(f"{where} must be a whole number, got {raw!r}")
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ScalrConfigError(f"{where} must be a whole number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ScalrConfigError(f"{where} must be at least {minimum}, got {value}")
    return value


def _float(where: str, raw: Any) -> float:
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise ScalrConfigError(f"{where} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ScalrConfigError(f"{where} must be more than 0, got {value}")
    return value


def _version(where: str, raw: Any) -> str:
    value = str(raw).strip()
    if value not in SUPPORTED_VERSIONS:
        raise ScalrConfigError(
            f"{where} must be one of {', '.join(SUPPORTED_VERSIONS)}, got {value!r}"
        )
    return value


def _text(where: str, raw: Any) -> str:
    if not isinstance(raw, str | int) or isinstance(raw, bool) or str(raw).strip() == "":
        raise ScalrConfigError(f"{where} must be a non-empty string")
    return str(raw).strip()


def _build(where: str, name: str, values: Mapping[str, Any]) -> ScalrEnvironment:
    try:
        return ScalrEnvironment(name=name, **values)
    except ScalrConfigError as exc:
        raise ScalrConfigError(f"{where}: {exc}") from None


def _default_environment(environ: Mapping[str, str]) -> ScalrEnvironment | None:
    url = environ.get("SCALR_API_URL", "").strip()
    if not url:
        return None
    values: dict[str, Any] = {"api_url": url}
    for var, key in (("SCALR_KEY_ID", "key_id"), ("SCALR_SECRET_KEY", "secret_key")):
        raw = environ.get(var, "").strip()
        if not raw:
            raise ScalrConfigError(f"{var} must be set when SCALR_API_URL is set")
        values[key] = raw
    if environ.get("SCALR_ENV_ID", "").strip():
        values["env_id"] = _int("SCALR_ENV_ID", environ["SCALR_ENV_ID"], minimum=1)
    if environ.get("SCALR_API_VERSION", "").strip():
        values["version"] = _version("SCALR_API_VERSION", environ["SCALR_API_VERSION"])
    if environ.get("SCALR_REQUESTS_PER_HOUR", "").strip():
        values["requests_per_hour"] = _int(
            "SCALR_REQUESTS_PER_HOUR", environ["SCALR_REQUESTS_PER_HOUR"], minimum=1
        )
    if environ.get("SCALR_TIMEOUT_SECONDS", "").strip():
        values["timeout_seconds"] = _float(
            "SCALR_TIMEOUT_SECONDS", environ["SCALR_TIMEOUT_SECONDS"]
        )
    return _build("SCALR_API_URL", "default", values)


def _file_environment(
    path: str, name: str, raw: Any, environ: Mapping[str, str]
) -> ScalrEnvironment:
    where = f"{path}: environment {name!r}"
    if not isinstance(raw, Mapping):
        raise ScalrConfigError(f"{where} must be a mapping of settings")
    unknown = set(raw) - _KNOWN_KEYS
    if unknown:
        raise ScalrConfigError(f"{where}: unknown keys {', '.join(sorted(map(str, unknown)))}")
    values: dict[str, Any] = {}
    for key in ("api_url", "key_id"):
        if key not in raw:
            raise ScalrConfigError(f"{where}: {key} is required")
        values[key] = _text(f"{where}: {key}", raw[key])
    if ("secret_key" in raw) == ("secret_key_env" in raw):
        raise ScalrConfigError(f"{where}: give exactly one of secret_key and secret_key_env")
    if "secret_key" in raw:
        values["secret_key"] = _text(f"{where}: secret_key", raw["secret_key"])
    else:
        var = _text(f"{where}: secret_key_env", raw["secret_key_env"])
        secret = environ.get(var, "").strip()
        if not secret:
            raise ScalrConfigError(f"{where}: secret_key_env names {var}, which is not set")
        values["secret_key"] = secret
    if raw.get("env_id") is not None:
        values["env_id"] = _int(f"{where}: env_id", raw["env_id"], minimum=1)
    if raw.get("version") is not None:
        values["version"] = _version(f"{where}: version", raw["version"])
    if raw.get("requests_per_hour") is not None:
        values["requests_per_hour"] = _int(
            f"{where}: requests_per_hour", raw["requests_per_hour"], minimum=1
        )
    if raw.get("timeout_seconds") is not None:
        values["timeout_seconds"] = _float(f"{where}: timeout_seconds", raw["timeout_seconds"])
    return _build(where, name, values)


def load_environments(environ: Mapping[str, str]) -> dict[str, ScalrEnvironment]:
    """Read every configured Scalr environment, by name; raise ScalrConfigError on bad input."""
    environments: dict[str, ScalrEnvironment] = {}
    default = _default_environment(environ)
    if default is not None:
        environments["default"] = default
    path = environ.get("SCALR_ENVIRONMENTS_FILE", "").strip()
    if not path:
        return environments
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScalrConfigError(
            f"SCALR_ENVIRONMENTS_FILE {path}: cannot read ({exc.strerror})"
        ) from None
    except yaml.YAMLError as exc:
        # The parser's own message quotes the offending line, which may hold a secret.
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ScalrConfigError(f"SCALR_ENVIRONMENTS_FILE {path}: not valid YAML{where}") from None
    if document is None:
        return environments
    if not isinstance(document, Mapping):
        raise ScalrConfigError(
            f"SCALR_ENVIRONMENTS_FILE {path}: must map environment names to settings"
        )
    for name, raw in document.items():
        if not isinstance(name, str) or not name.strip():
            raise ScalrConfigError(f"{path}: environment names must be non-empty strings")
        if name in environments:
            raise ScalrConfigError(
                f"{path}: environment {name!r} is already defined by SCALR_API_URL"
            )
        environments[name] = _file_environment(path, name, raw, environ)
    return environments


@dataclass(frozen=True)
class ScalrEnvironments:
    """The configured Scalr environments as read once, or the reason they could not be read."""

    by_name: Mapping[str, ScalrEnvironment] = field(default_factory=dict)
    problem: str | None = None  # the ScalrConfigError text; never holds a secret

    @classmethod
    def read(cls, environ: Mapping[str, str]) -> ScalrEnvironments:
        """Read the environments of `environ`, keeping a configuration error instead of raising."""
        try:
            return cls(load_environments(environ))
        except ScalrConfigError as exc:
            return cls(problem=str(exc))

    @classmethod
    def of(cls, source: ScalrEnvironments | Mapping[str, str]) -> ScalrEnvironments:
        """Return `source` if already read, else read it from the raw environment it is."""
        return source if isinstance(source, ScalrEnvironments) else cls.read(source)

    def all(self) -> Mapping[str, ScalrEnvironment]:
        """Return every environment by name; raise ScalrConfigError if the settings were bad."""
        if self.problem is not None:
            raise ScalrConfigError(self.problem)
        return self.by_name

    def get(self, name: str) -> ScalrEnvironment:
        """Return the environment called `name`; raise ScalrConfigError if there is none."""
        environments = self.all()
        if name not in environments:
            known = ", ".join(sorted(environments)) or "none configured"
            raise ScalrConfigError(f"no Scalr environment named {name!r} (known: {known})")
        return environments[name]
