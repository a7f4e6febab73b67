"""`flask config check`: every setting with secrets masked, every problem, exit 1 on an error."""

from __future__ import annotations

from pathlib import Path

from app import migrate
from tests.conftest import API_TOKEN, INGEST_TOKEN, WEBHOOK_KEY

WEBHOOK_RULES = """
rules:
  - name: tell-chat
    events: [HostDown]
    actions:
      - webhook: http://127.0.0.1:9/hook
        body: {text: "down"}
"""


def checked(make_app, tmp_path: Path, rules: str | None = None, environ=None, **overrides):
    url = f"sqlite:///{tmp_path / 'check.db'}"
    migrate.upgrade(url)
    rules_path = tmp_path / "rules.yml"
    rules_path.write_text(rules if rules is not None else "rules: []\n")
    app = make_app(
        environ, database_url=url, rules_file=str(rules_path), admin_user="ops", **overrides
    )
    return app.test_cli_runner().invoke(args=["config", "check"])


def test_a_good_configuration_passes_and_masks_every_secret(make_app, tmp_path):
    result = checked(make_app, tmp_path, admin_password="pw-secret-123", webhook_allowed_urls=())
    assert result.exit_code == 0, result.output
    for secret in (INGEST_TOKEN, API_TOKEN, WEBHOOK_KEY, "test-secret-key", "pw-secret-123"):
        assert secret not in result.output
    assert "ingest_token                 ********" in result.output
    assert "no problems found" in result.output


def test_webhook_rules_without_an_allow_list_are_an_error(make_app, tmp_path):
    result = checked(make_app, tmp_path, WEBHOOK_RULES, admin_password="x")
    assert result.exit_code == 1
    assert "error: rules use webhook actions but WEBHOOK_ALLOWED_URLS is empty" in result.output
    fine = checked(
        make_app, tmp_path, WEBHOOK_RULES, admin_password="x", webhook_allowed_urls=("http://",)
    )
    assert fine.exit_code == 0, fine.output


def test_a_scalr_url_without_its_key_is_an_error(make_app, tmp_path):
    result = checked(make_app, tmp_path, environ={"SCALR_API_URL": "https://scalr.example/api"})
    assert result.exit_code == 1
    assert "error: Scalr: SCALR_KEY_ID must be set when SCALR_API_URL is set" in result.output


def test_a_broken_rules_file_names_its_line(make_app, tmp_path):
    result = checked(make_app, tmp_path, "rules:\n  - name: Bad Name\n    events: []\n")
    assert result.exit_code == 1
    assert "rules.yml:2: bad rule name" in result.output, result.output


def test_missing_tokens_are_warnings_not_errors(make_app, tmp_path):
    result = checked(make_app, tmp_path, ingest_token=None, api_token=None)
    assert result.exit_code == 0, result.output
    assert "warning: INGEST_TOKEN is not set" in result.output
    assert "warning: API_TOKEN is not set" in result.output
    assert "warning: ADMIN_USER/ADMIN_PASSWORD are not set" in result.output


def test_an_unmigrated_database_is_an_error(make_app, tmp_path):
    rules = tmp_path / "rules.yml"
    rules.write_text("rules: []\n")
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    app = make_app(database_url=url, rules_file=str(rules))
    result = app.test_cli_runner().invoke(args=["config", "check"])
    assert result.exit_code == 1
    assert "has no Lifeguard schema: run `flask --app wsgi db upgrade`" in result.output
