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
