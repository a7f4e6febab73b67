"""A dashboard with one person of each role, logged in, and each one's API token."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from app.users import token_digest
from tests.dashboard.conftest import csrf_of, use_rules

PASSWORDS = {"vera": "viewer pass 1", "otto": "operator pass 2", "ada": "admin pass 3"}
ROLE_OF = {"vera": "viewer", "otto": "operator", "ada": "admin"}


@dataclass
class People:
    """The app, a logged-in client per role, and an API header per role."""

    app: Flask
    clients: dict[str, FlaskClient]
    headers: dict[str, dict[str, str]]
    users_file: Path


def write_users(path: Path) -> dict[str, str]:
    """Write the three users (with a cheap hash: the tests log in hundreds of times)."""
    users, tokens = {}, {}
    for name, password in PASSWORDS.items():
        token = f"token-of-{name}-0123456789abcdef"
        users[name] = {
            "role": ROLE_OF[name],
            "password_hash": generate_password_hash(password, method="pbkdf2:sha256:1000"),
            "api_tokens": [token_digest(token)],
        }
        tokens[ROLE_OF[name]] = token
    path.write_text(yaml.safe_dump({"users": users}))
    return tokens


def log_in_as(client: FlaskClient, name: str) -> None:
    """Log in through the form."""
    data = {"username": name, "password": PASSWORDS[name], "csrf_token": csrf_of(client)}
    answer = client.post("/login", data=data)
    assert answer.status_code == 303, answer.get_data(as_text=True)


def make_people(make_app, tmp_path: Path) -> People:
    """Build the app over a users file of three people and log each one in."""
    users_file = tmp_path / "users.yml"
    tokens = write_users(users_file)
    app = make_app(users_file=str(users_file))
    use_rules(app, tmp_path / "rules.yml")
    clients = {}
    for name, role in ROLE_OF.items():
        clients[role] = app.test_client()
        log_in_as(clients[role], name)
    headers = {role: {"Authorization": f"Bearer {token}"} for role, token in tokens.items()}
    return People(app, clients, headers, users_file)


def form_post(client: FlaskClient, url: str, **data: str):
    """Post a dashboard form with the session's CSRF token."""
    return client.post(url, data={"csrf_token": csrf_of(client), **data})
