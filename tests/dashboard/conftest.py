"""Dashboard fixtures: an app with admin credentials and rules, and a logged-in client."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.rules.store import RulesStore
from app.services import services_of

ADMIN_USER = "admin"
ADMIN_PASSWORD = "correct horse battery staple"

RULES_YAML = """\
rules:
  - name: replace-terminated-web
    description: Launch a replacement when a web server terminates.
    events: [HostDown]
    where:
      farm_id: 1439
      role_name: "web-*"
    delay: 2m
    cancel_on: [HostUp]
    throttle: {key: "{{ event.farm_role_id }}", max: 2, per: 1h}
    actions:
      - scalr: ServerLaunch
        params: {FarmRoleID: "{{ event.farm_role_id }}", IncreaseMaxInstances: 0}
  - name: notify-crash
    events: [HostCrash]
    actions:
      - webhook: https://chat.example/hooks/ops
        headers: {Authorization: "Bearer sekrit-header-value"}
        body: '{"text": "crash {{ event.server_id }}"}'
"""


def use_rules(app: Flask, path: Path, text: str = RULES_YAML) -> RulesStore:
    """Give `app` a rules store over a file holding `text`."""
    path.write_text(text)
    store = RulesStore(path)
    store.reload_if_changed()
    services_of(app).rules = store
    return store


@pytest.fixture
def dash_app(make_app, tmp_path: Path) -> Flask:
    """An app with dashboard credentials and the test rules."""
    application = make_app(admin_user=ADMIN_USER, admin_password=ADMIN_PASSWORD)
    use_rules(application, tmp_path / "rules.yml")
    return application


def csrf_of(client: FlaskClient) -> str:
    """Return the CSRF token of the client's session, creating one through the login page."""
    with client.session_transaction() as session:
        token = session.get("csrf")
    if token:
        return str(token)
    page = client.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def log_in(client: FlaskClient, password: str = ADMIN_PASSWORD, **extra: str):
    """Post the login form the way a browser does."""
    token = csrf_of(client)
    data = {"username": ADMIN_USER, "password": password, "csrf_token": token, **extra}
    return client.post("/login", data=data)


@pytest.fixture
def admin(dash_app: Flask) -> FlaskClient:
    """A client logged in to the dashboard."""
    client = dash_app.test_client()
    response = log_in(client)
    assert response.status_code == 303, response.get_data(as_text=True)
    return client


def post(client: FlaskClient, url: str, **data: str):
    """Post a dashboard form with the session's CSRF token."""
    return client.post(url, data={"csrf_token": csrf_of(client), **data})
