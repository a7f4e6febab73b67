"""The console commands the README names exist and work."""

from __future__ import annotations

from app import migrate
from app.services import services_of


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


def test_console_commands_answer_a_missing_schema_with_one_line(make_app, tmp_path):
    """Before any `db upgrade`: one line naming the fix and exit 1, never a traceback."""
    url = f"sqlite:///{tmp_path / 'never-migrated.db'}"
    scalr = {
        "SCALR_API_URL": "http://127.0.0.1:9/api/api.php",
        "SCALR_KEY_ID": "k",
        "SCALR_SECRET_KEY": "s",
    }
    runner = make_app(scalr, database_url=url).test_cli_runner()
    for args in (
        ["scalr", "call", "FarmsList"],
        ["worker", "--max-seconds", "1"],
        ["demo", "seed-events", "3"],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code == 1, (args, result.output)
        assert "Traceback" not in result.output and result.exception is not None
        lines = result.output.strip().splitlines()
        assert lines == [
            f"Error: the database {url} has no Lifeguard schema: run `flask --app wsgi db upgrade`"
        ], (args, result.output)


def test_a_partly_migrated_schema_is_named(make_app, tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    application = make_app(database_url=url)
    engine = services_of(application).engine
    migrate.upgrade(url)
    assert migrate.schema_problem(engine) is None
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE scalr_api_usage")
    problem = migrate.schema_problem(engine)
    assert problem is not None and "lacks tables scalr_api_usage" in problem
