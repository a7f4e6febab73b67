"""Liveness, readiness, metrics."""

from __future__ import annotations

from app import migrate
from app.services import services_of
from tests.factories import gen_event
from tests.scalr.conftest import sim, sim_state  # noqa: F401  (fixtures)


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_says_not_ready_until_schema_is_at_head(make_app, tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    application = make_app(database_url=url)
    client = application.test_client()
    before = client.get("/readyz")
    assert before.status_code == 503
    assert before.get_json()["checks"]["schema"]["current"] is None
    migrate.upgrade(url)
    after = client.get("/readyz")
    assert after.status_code == 200, after.get_json()
    body = after.get_json()
    assert body["checks"]["schema"] == {
        "ok": True,
        "current": migrate.head_revision(),
        "head": migrate.head_revision(),
    }
    assert body["checks"]["worker"]["ok"] is False  # reported, not required


def test_readyz_when_database_is_unreachable_is_ready_while_the_spool_accepts(make_app):
    application = make_app(database_url="postgresql://nobody@127.0.0.1:1/none")
    response = application.test_client().get("/readyz")
    assert response.status_code == 200
    checks = response.get_json()["checks"]
    assert checks["database"]["ok"] is False
    assert checks["spool"] == {
        "ok": True,
        "depth": 0,
        "oldest_seconds": 0,
        "bytes": 0,
        "max_bytes": 256 * 1024 * 1024,
        "segments": 0,
    }
    full = make_app(database_url="postgresql://nobody@127.0.0.1:1/none", spool_max_bytes=0)
    response = full.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["spool"]["ok"] is False


def test_metrics_in_prometheus_format(client, db_session):
    gen_event(db_session)
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "lifeguard_events_unprocessed 1.0" in text
    assert 'lifeguard_action_jobs{status="dead"} 0.0' in text
    assert "lifeguard_breakers_open 0.0" in text
    # The test app has no rules file: the gauge says so.
    assert "lifeguard_rules_file_ok 0.0" in text
    assert "lifeguard_spool_depth 0.0" in text and "lifeguard_spool_oldest_seconds 0.0" in text


def test_scalr_checks_against_the_simulator_and_a_dead_endpoint(make_app, sim):  # noqa: F811
    from tests.scalr.conftest import KEY_ID, SECRET_KEY

    environ = {
        "SCALR_API_URL": sim.url,
        "SCALR_KEY_ID": KEY_ID,
        "SCALR_SECRET_KEY": SECRET_KEY,
        "SCALR_ENV_ID": "3",
    }
    app = make_app(environ=environ)
    [check] = services_of(app).scalr_check()
    assert check["name"] == "default" and check["ok"] is True, check
    dead = make_app(environ=dict(environ, SCALR_API_URL="http://127.0.0.1:9/api/api.php"))
    [check] = services_of(dead).scalr_check()
    assert check["ok"] is False and "ScalrTransportError" in check["detail"]
    assert SECRET_KEY not in repr(check)


def test_scalr_checks_without_configuration(app):
    assert services_of(app).scalr_check() == []


def test_the_app_reads_the_scalr_environments_once(make_app, tmp_path):
    path = tmp_path / "scalr.yml"
    path.write_text(
        "other:\n  api_url: http://127.0.0.1:9/api/api.php\n  key_id: k\n  secret_key: s\n"
    )
    app = make_app(environ={"SCALR_ENVIRONMENTS_FILE": str(path)})
    path.unlink()
    assert sorted(services_of(app).scalr_environments.all()) == ["other"]
    [check] = services_of(app).scalr_check()
    assert check["name"] == "other" and "ScalrTransportError" in check["detail"]
    broken = make_app(environ={"SCALR_ENVIRONMENTS_FILE": str(path)})
    [check] = services_of(broken).scalr_check()
    assert check["name"] == "(configuration)" and "cannot read" in check["detail"]
