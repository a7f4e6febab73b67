"""The console commands the README names exist and work."""

from __future__ import annotations

from app import migrate


def test_every_documented_command_is_registered(app):
    commands = app.cli.commands
    assert {"db", "demo", "rules", "scalr", "scalr-sim", "worker"} <= set(commands)
    result = app.test_cli_runner().invoke(args=["demo", "--help"])
    assert "seed-events" in result.output


def test_db_upgrade_and_current_on_an_empty_database(make_app, tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = make_app(database_url=url).test_cli_runner()
    before = runner.invoke(args=["db", "current"])
    assert before.exit_code == 0 and "database: (empty)" in before.output
    upgraded = runner.invoke(args=["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    after = runner.invoke(args=["db", "current"])
    assert f"database: {migrate.head_revision()}" in after.output
