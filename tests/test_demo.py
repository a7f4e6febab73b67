"""`flask demo init`: the demo's secrets, and the settings every demo process reads."""

from __future__ import annotations

import re
import stat
from pathlib import Path

from app.cli import write_demo_env
from app.config import Config

ROOT = Path(__file__).resolve().parent.parent


def test_demo_env_is_private_stable_and_complete(tmp_path):
    path = tmp_path / "instance" / "demo.env"
    first = write_demo_env(path, 5000, 8400)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first["INGEST_TOKEN"]) >= 24 and first["INGEST_TOKEN"] != first["API_TOKEN"]
    again = write_demo_env(path, 5000, 8400)
    assert again == first  # a second `make run` keeps the tokens the operator already pasted
    config = Config.from_env(first)
    assert config.demo_mode and config.ingest_token == first["INGEST_TOKEN"]
    assert config.webhook_allowed_urls == ("http://127.0.0.1:",)


def test_ports_given_again_move_the_demo_and_keep_its_secrets(tmp_path):
    path = tmp_path / "demo.env"
    first = write_demo_env(path, None, None)
    assert (first["WEB_PORT"], first["SIM_PORT"], first["SMTP_PORT"]) == ("5000", "8400", "8025")
    moved = write_demo_env(path, 5001, 8401, 8026)
    assert moved["BIND"] == "127.0.0.1:5001" and moved["SMTP_PORT"] == "8026"
    assert moved["SCALR_API_URL"] == "http://127.0.0.1:8401/api/api.php"
    assert moved["INGEST_TOKEN"] == first["INGEST_TOKEN"]
    kept = write_demo_env(path, None, None)  # a plain `make run` stays where it was moved
    assert kept == moved
    assert "BIND=127.0.0.1:5001" in path.read_text()


def test_every_variable_the_demo_procfile_uses_is_in_demo_env(tmp_path):
    values = write_demo_env(tmp_path / "demo.env", 5000, 8400)
    used = set(re.findall(r"\$([A-Z_]+)", (ROOT / "Procfile.demo").read_text()))
    # PORT is not among them: honcho hands every process a PORT of its own.
    assert "PORT" not in used
    assert used <= set(values), used - set(values)


def test_demo_init_prints_ready_to_paste_commands(make_app):
    app = make_app()
    result = app.test_cli_runner().invoke(args=["demo", "init"])
    assert result.exit_code == 0, result.output
    values = write_demo_env(app.config["LIFEGUARD"].instance_path / "demo.env", 5000, 8400)
    assert f"token={values['INGEST_TOKEN']}&farm_id=1439" in result.output
    assert "event=OnHostDown&message=Instance+5bbd72c5" in result.output
    assert f"Bearer {values['API_TOKEN']}" in result.output
