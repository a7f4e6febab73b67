"""Configuration from environment variables: strict parsing, no default for secrets."""

from __future__ import annotations

import ipaddress

import pytest

from app.config import Config, ConfigError


def test_defaults_have_no_secrets():
    config = Config.from_env({})
    assert config.ingest_token is None and config.api_token is None
    assert config.admin_user is None and config.admin_password is None
    assert config.scalr_webhook_key is None
    assert config.database_url.startswith("sqlite:///") and config.database_url.endswith(
        "instance/lifeguard.db"
    )
    assert config.max_body_bytes == 65536 and config.webhook_max_skew_seconds == 300
    assert config.inventory_sync_seconds == 300 and config.dry_run is False


def test_values_are_read_and_blank_secrets_are_unset():
    config = Config.from_env(
        {
            "INGEST_TOKEN": "  ",
            "API_TOKEN": "abc",
            "INGEST_ALLOWED_IPS": "10.0.0.0/8, 2001:db8::/32,,192.168.1.5",
            "TRUSTED_PROXIES": "2",
            "DRY_RUN": "yes",
            "WEBHOOK_ALLOWED_URLS": "https://a.example/, http://127.0.0.1:",
        }
    )
    assert config.ingest_token is None and config.api_token == "abc"
    assert config.ingest_allowed_ips == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("2001:db8::/32"),
        ipaddress.ip_network("192.168.1.5/32"),
    )
    assert config.trusted_proxies == 2 and config.dry_run is True
    assert config.webhook_allowed_urls == ("https://a.example/", "http://127.0.0.1:")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DRY_RUN", "maybe"),
        ("WEBHOOK_KEEP_USER_VARIABLES", "2"),
        ("TRUSTED_PROXIES", "-1"),
        ("TRUSTED_PROXIES", "one"),
        ("INGEST_MAX_BODY_BYTES", "0"),
        ("INGEST_ALLOWED_IPS", "10.0.0.0/33"),
        ("INGEST_ALLOWED_IPS", "not-an-ip"),
        ("WORKER_POLL_SECONDS", "nan"),
        ("RETRY_BASE_SECONDS", "inf"),
        ("SMTP_PORT", "0"),
    ],
)
def test_bad_values_name_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        Config.from_env({name: value})


def test_overrides_refuse_unknown_keys():
    with pytest.raises(ConfigError, match="nonsense"):
        Config.from_env({}).with_overrides(nonsense=1)
