"""People and their roles: the USERS_FILE, the one ADMIN_USER, and who may do what.

Flask-free, so the console, the dashboard and the API share it. The file is
YAML written by `flask --app wsgi users add` (password hashes from Werkzeug,
API tokens as SHA-256 digests: never a secret in plain text); it is read
again whenever its modification time changes, so every process follows an
edit within a request.

    users:
      alice:
        role: operator
        password_hash: "scrypt:32768:8:1$..."
        api_tokens: ["sha256:9f86d0..."]
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from werkzeug.security import check_password_hash, generate_password_hash

from app.config import PROJECT_ROOT, Config

log = logging.getLogger(__name__)

VIEWER = "viewer"
OPERATOR = "operator"
ADMIN = "admin"
ROLES = (VIEWER, OPERATOR, ADMIN)
_RANK = {role: rank for rank, role in enumerate(ROLES)}

# Every control and the least role that may use it; the views look it up here.
CONTROL_ROLES: dict[str, str] = {
    "job.retry": OPERATOR,
    "job.cancel": OPERATOR,
    "job.run": OPERATOR,
    "job.approve": OPERATOR,
    "job.deny": OPERATOR,
    "rule.pause": OPERATOR,
    "rule.resume": OPERATOR,
    "rule.dry_run": OPERATOR,
    "silence.create": OPERATOR,
    "silence.expire": OPERATOR,
    "hold.clear": OPERATOR,
    "breaker.close": ADMIN,
    "kill_switch.engage": ADMIN,
    "kill_switch.release": ADMIN,
}

TOKEN_PREFIX = "sha256:"  # noqa: S105  (a digest label, not a secret)
# A hash no password matches: an unknown name costs the same check as a known one.
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))


def may(role: str | None, needed: str) -> bool:
    """Say whether `role` is at least `needed`."""
    return role in _RANK and _RANK[role] >= _RANK[needed]


def may_control(role: str | None, control: str) -> bool:
    """Say whether `role` may use `control` (a key of CONTROL_ROLES)."""
    return may(role, CONTROL_ROLES[control])


@dataclass(frozen=True)
class Actor:
    """Who acts, with what role, through which door and from where."""

    name: str
    role: str
    via: str  # dashboard, api or console
    address: str | None = None

    @property
    def label(self) -> str:
        """Name the actor in a job's or rule's reason text: `dashboard:alice`, `api`."""
        if self.via == "api" and self.name == "api":
            return "api"
        return f"{self.via}:{self.name}"


@dataclass(frozen=True)
class User:
    """One person of the users file."""

    name: str
    role: str
    password_hash: str
    token_hashes: tuple[str, ...] = ()


class UsersFileError(ValueError):
    """The users file cannot be read or does not hold valid users."""


def users_path(config: Config) -> Path | None:
    """Return where USERS_FILE is (relative paths from the project root), or None."""
    if not config.users_file:
        return None
    path = Path(config.users_file)
    return path if path.is_absolute() else PROJECT_ROOT / path


def token_digest(token: str) -> str:
    """Return how an API token is kept at rest."""
    return TOKEN_PREFIX + hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_users(data: Any) -> dict[str, User]:
    """Read the users of a parsed file; UsersFileError names the first problem."""
    if data is None:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("users", {}), dict):
        raise UsersFileError("expected a mapping with a `users:` mapping")
    users: dict[str, User] = {}
    for name, entry in (data.get("users") or {}).items():
        if not isinstance(name, str) or not name.strip() or not isinstance(entry, dict):
            raise UsersFileError(f"user {name!r}: expected a name with a mapping")
        role = entry.get("role")
        if role not in ROLES:
            raise UsersFileError(f"user {name!r}: role must be one of {', '.join(ROLES)}")
        password_hash = entry.get("password_hash") or ""
        if not isinstance(password_hash, str):
            raise UsersFileError(f"user {name!r}: password_hash must be text")
        tokens = entry.get("api_tokens") or []
        if not isinstance(tokens, list) or not all(
            isinstance(t, str) and t.startswith(TOKEN_PREFIX) for t in tokens
        ):
            raise UsersFileError(f"user {name!r}: api_tokens must be a list of sha256: digests")
        users[name] = User(name, role, password_hash, tuple(tokens))
    return users


class UsersStore:
    """The users of USERS_FILE, read again when the file changes; empty without a file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._users: dict[str, User] = {}
        self._stamp: tuple[int, int] | None = None
        self.problem: str | None = None
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        if self.path is None:
            return
        try:
            stat = self.path.stat()
        except OSError as exc:
            self._users, self._stamp = {}, None
            self.problem = f"{self.path}: {exc.strerror or exc}"
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        try:
            self._users = parse_users(yaml.safe_load(self.path.read_text(encoding="utf-8")))
            self.problem = None
        except (OSError, yaml.YAMLError, UsersFileError) as exc:
            # A broken file lets nobody of it in; ADMIN_USER still works.
            self._users = {}
            self.problem = f"{self.path}: {exc}"
            log.error("users file refused: %s", self.problem)
        self._stamp = stamp

    def users(self) -> dict[str, User]:
        """Return the users of the file as it is now."""
        with self._lock:
            self._refresh()
            return dict(self._users)

    def get(self, name: str) -> User | None:
        """Return the user called `name`, if the file has one."""
        return self.users().get(name)

    def check_password(self, name: str, password: str) -> User | None:
        """Return the user when `password` is theirs (always paying for one hash check)."""
        user = self.get(name)
        ok = check_password_hash(user.password_hash if user and user.password_hash else _DUMMY_HASH,
                                 password)  # fmt: skip
        return user if ok and user is not None and user.password_hash else None

    def by_token(self, token: str) -> User | None:
        """Return the user whose API token this is."""
        digest = token_digest(token)
        found = None
        for user in self.users().values():
            for kept in user.token_hashes:
                if hmac.compare_digest(kept, digest):
                    found = user
        return found


def _read_raw(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"users": {}}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {"users": {}}
    parse_users(data)  # refuse to rewrite a file we cannot read
    data.setdefault("users", {})
    if data["users"] is None:
        data["users"] = {}
    return dict(data)


def _write_raw(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.touch(mode=0o600)
    tmp.write_text(
        "# Lifeguard users: written by `flask --app wsgi users add`. Hashes only.\n"
        + yaml.safe_dump(data, sort_keys=True),
        encoding="utf-8",
    )
    os.replace(tmp, path)


def add_user(path: Path, name: str, role: str, password: str) -> None:
    """Add a user to the file, or set an existing user's role and password."""
    if role not in ROLES:
        raise UsersFileError(f"role must be one of {', '.join(ROLES)}")
    if not name.strip() or len(name) > 64 or any(c.isspace() or c == ":" for c in name):
        raise UsersFileError("a user name is 1 to 64 characters without spaces or ':'")
    data = _read_raw(path)
    entry = dict(data["users"].get(name) or {})
    entry["role"] = role
    entry["password_hash"] = generate_password_hash(password)
    data["users"][name] = entry
    _write_raw(path, data)


def remove_user(path: Path, name: str) -> bool:
    """Remove a user from the file; say whether there was one."""
    data = _read_raw(path)
    if name not in data["users"]:
        return False
    del data["users"][name]
    _write_raw(path, data)
    return True


def add_token(path: Path, name: str) -> str:
    """Give a user a new API token; return it (shown once, kept only as its digest)."""
    data = _read_raw(path)
    if name not in data["users"]:
        raise UsersFileError(f"no user {name!r} in {path}")
    token = secrets.token_urlsafe(32)
    entry = dict(data["users"][name])
    entry["api_tokens"] = [*(entry.get("api_tokens") or []), token_digest(token)]
    data["users"][name] = entry
    _write_raw(path, data)
    return token
