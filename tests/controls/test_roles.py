"""Every control with every role, on the dashboard and the API; the users file and its tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml
from sqlalchemy import select

from app.db import utcnow
from app.models.controls import AuditEntry, Silence
from app.models.loop import Hold
from app.users import ROLES, may_control
from tests.controls.helpers import PASSWORDS, form_post, log_in_as, make_people
from tests.dashboard.helpers import gen_breaker, gen_job
from tests.factories import gen_event

RULE = "replace-terminated-web"
# (control, dashboard form post or None, API call or None); {job} is a fresh job's id.
CONTROLS = [
    ("job.retry", ("/actions/{job}/retry", {}), ("POST", "/api/v1/actions/{job}/retry", None)),
    ("job.cancel", ("/actions/{job}/cancel", {}), ("POST", "/api/v1/actions/{job}/cancel", None)),
    ("job.run", ("/actions/{job}/run", {}), ("POST", "/api/v1/actions/{job}/run", None)),
    ("rule.pause", (f"/rules/{RULE}/pause", {}), ("POST", f"/api/v1/rules/{RULE}/pause", None)),
    ("rule.resume", (f"/rules/{RULE}/resume", {}), ("POST", f"/api/v1/rules/{RULE}/resume", None)),
    ("rule.dry_run", (f"/rules/{RULE}/dry-run", {"mode": "on"}), None),
    ("breaker.close", ("/health/breakers/default/close", {}), None),
    (
        "silence.create",
        ("/silences", {"farm_id": "1439", "duration": "1h", "comment": "maintenance"}),
        (
            "POST",
            "/api/v1/silences",
            {"matchers": {"farm_id": 1439}, "duration": "1h", "comment": "maintenance"},
        ),
    ),
    (
        "silence.expire",
        ("/silences/{silence}/expire", {}),
        ("DELETE", "/api/v1/silences/{silence}", None),
    ),
    (
        "kill_switch.engage",
        ("/health/kill-switch", {"engaged": "on", "reason": "test", "confirm": "yes"}),
        ("POST", "/api/v1/kill-switch", {"engaged": True, "reason": "test"}),
    ),
    (
        "kill_switch.release",
        ("/health/kill-switch", {"engaged": "off", "confirm": "yes"}),
        ("POST", "/api/v1/kill-switch", {"engaged": False}),
    ),
    (
        "hold.clear",
        ("/actions/{job}/clear-hold", {"held_jobs": "release", "reason": "image fixed"}),
        ("POST", "/api/v1/holds/{hold}/clear", {"held_jobs": "cancel", "reason": "storm over"}),
    ),
]


@pytest.fixture
def people(make_app, tmp_path):
    return make_people(make_app, tmp_path)


def _setup(db_session, control: str) -> dict[str, int]:
    event = gen_event(db_session)
    status = {"job.retry": "dead", "hold.clear": "held"}.get(control, "scheduled")
    job = gen_job(db_session, event.id, status=status)
    if control == "breaker.close":
        gen_breaker(db_session)
    # A storm holds the job (every control's setup has one; only hold.clear clears it).
    hold = Hold(rule="", throttle_key="", kind="storm", reason="storm", farm_role_id=5)
    db_session.add(hold)
    db_session.flush()
    job.hold_id = hold.id
    now = utcnow()
    silence = Silence(matchers={"farm_id": 1}, starts_at=now, ends_at=now + timedelta(hours=1),
                      comment="c", created_by="x")  # fmt: skip
    db_session.add(silence)
    db_session.commit()
    return {"job": job.id, "silence": silence.id, "hold": hold.id}


def _denials(db_session, control: str) -> list[AuditEntry]:
    rows = db_session.scalars(
        select(AuditEntry).where(AuditEntry.action == control, AuditEntry.outcome == "denied")
    ).all()
    db_session.commit()
    return list(rows)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("control,form,_api", CONTROLS, ids=[c[0] for c in CONTROLS])
def test_every_dashboard_control_with_every_role(people, db_session, role, control, form, _api):
    ids = _setup(db_session, control)
    url, data = form
    answer = form_post(people.clients[role], url.format(**ids), **data)
    if may_control(role, control):
        assert answer.status_code == 303, (role, control, answer.status_code)
        assert _denials(db_session, control) == []
    else:
        assert answer.status_code == 403, (role, control, answer.status_code)
        assert "may not do this" in answer.get_data(as_text=True)
        denied = _denials(db_session, control)
        assert [(d.actor, d.role, d.via) for d in denied] == [
            (next(n for n, r in {"vera": "viewer", "otto": "operator"}.items() if r == role), role,
             "dashboard"),
        ]  # fmt: skip


API_CONTROLS = [c for c in CONTROLS if c[2] is not None]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("control,_form,api", API_CONTROLS, ids=[c[0] for c in API_CONTROLS])
def test_every_api_control_with_every_role(people, db_session, role, control, _form, api):
    ids = _setup(db_session, control)
    if control == "kill_switch.release":
        people.app.test_client().post(
            "/api/v1/kill-switch", headers=people.headers["admin"],
            json={"engaged": True, "reason": "to release"},
        )  # fmt: skip
    method, url, body = api
    answer = people.app.test_client().open(
        url.format(**ids), method=method, headers=people.headers[role], json=body
    )
    if may_control(role, control):
        assert answer.status_code in (200, 201), (role, control, answer.get_json())
    else:
        assert answer.status_code == 403, (role, control, answer.status_code)
        assert answer.get_json()["error"] == "forbidden"
        assert len(_denials(db_session, control)) == 1


def test_a_viewer_reads_everything(people, db_session):
    event = gen_event(db_session)
    gen_job(db_session, event.id)
    viewer = people.clients["viewer"]
    paths = ("/", "/events", "/actions", "/rules", f"/rules/{RULE}", "/health", "/audit",
             "/silences")  # fmt: skip
    for path in paths:
        assert viewer.get(path).status_code == 200, path
    api = people.app.test_client()
    for path in ("/api/v1/events", "/api/v1/kill-switch", "/api/v1/audit", "/api/v1/silences"):
        assert api.get(path, headers=people.headers["viewer"]).status_code == 200, path
    health = viewer.get("/health").get_data(as_text=True)
    assert "Engage the kill switch" not in health and "Only an admin" in health
    assert "Create the silence" not in viewer.get("/silences").get_data(as_text=True)


def test_the_users_file_keeps_no_secret_in_plain_text(people):
    text = people.users_file.read_text()
    for password in PASSWORDS.values():
        assert password not in text
    for header in people.headers.values():
        assert header["Authorization"].split()[1] not in text
    users = yaml.safe_load(text)["users"]
    assert users["otto"]["role"] == "operator"
    assert users["otto"]["api_tokens"][0].startswith("sha256:")


def test_logins_and_failed_logins_are_audited(people, db_session):
    client = people.app.test_client()
    from tests.dashboard.conftest import csrf_of

    client.post(
        "/login", data={"username": "otto", "password": "nope", "csrf_token": csrf_of(client)}
    )
    rows = db_session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    db_session.commit()
    assert [(r.actor, r.action, r.outcome, r.role) for r in rows] == [
        ("vera", "login", "ok", "viewer"),
        ("otto", "login", "ok", "operator"),
        ("ada", "login", "ok", "admin"),
        ("otto", "login", "refused", "viewer"),
    ]
    assert rows[-1].reason == "wrong username or password" and rows[-1].address == "127.0.0.1"


def test_the_admin_of_the_environment_still_logs_in_as_admin(make_app, tmp_path, db_session):
    users_file = tmp_path / "users.yml"
    from app.users import add_user

    add_user(users_file, "vera", "viewer", PASSWORDS["vera"])
    app = make_app(users_file=str(users_file), admin_user="root", admin_password="root secret")
    client = app.test_client()
    from tests.dashboard.conftest import csrf_of

    answer = client.post(
        "/login",
        data={"username": "root", "password": "root secret", "csrf_token": csrf_of(client)},
    )
    assert answer.status_code == 303
    assert "Engage the kill switch" in client.get("/health").get_data(as_text=True)


def test_a_removed_user_is_logged_out_and_their_token_stops(people):
    from app.users import remove_user

    remove_user(people.users_file, "otto")
    assert people.clients["operator"].get("/").status_code == 302
    api = people.app.test_client()
    assert api.get("/api/v1/events", headers=people.headers["operator"]).status_code == 401
    log_in_as(people.clients["viewer"], "vera")  # the others are untouched


def test_console_users_add_token_list_remove(make_app, tmp_path):
    users_file = tmp_path / "users.yml"
    app = make_app(users_file=str(users_file))
    runner = app.test_cli_runner()
    added = runner.invoke(
        args=["users", "add", "carol", "--role", "operator"], input="s3cret pw\ns3cret pw\n"
    )
    assert added.exit_code == 0, added.output
    assert "s3cret pw" not in users_file.read_text()
    bad = runner.invoke(args=["users", "add", "dave", "--role", "boss", "--password", "x"])
    assert bad.exit_code == 2
    token = runner.invoke(args=["users", "token", "carol"]).output.strip()
    assert len(token) > 30 and token not in users_file.read_text()
    listed = runner.invoke(args=["users", "list"]).output
    assert "carol\toperator\t1 API tokens" in listed
    api = app.test_client()
    answer = api.get("/api/v1/kill-switch", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    assert runner.invoke(args=["users", "remove", "carol"]).exit_code == 0
    assert runner.invoke(args=["users", "remove", "carol"]).exit_code == 1


def test_users_commands_need_users_file(app):
    result = app.test_cli_runner().invoke(args=["users", "list"])
    assert result.exit_code == 1 and "USERS_FILE" in result.output
