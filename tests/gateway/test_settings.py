"""Settings from the environment: defaults, parsing, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import Settings, SettingsError
from kit.redis import DEFAULT_REDIS_URL


def test_defaults() -> None:
    s = Settings.from_env({})
    assert s.redis_url == DEFAULT_REDIS_URL
    assert s.kb_dir == Path("kb_content")
    assert s.index_dir == Path("var/index")
    assert s.port == 8000
    assert s.widget_origins == ()
    assert s.max_body_bytes == 64 * 1024


def test_values_from_env() -> None:
    s = Settings.from_env({
        "REDIS_URL": "rediss://:pw@redis.internal:6380/2", "KB_DIR": "/srv/kb", "INDEX_DIR": "/tmp/ix",
        "GATEWAY_PORT": "9001", "LOG_LEVEL": "debug",
        "WIDGET_ORIGINS": " https://Shop.Example/ , http://localhost:3000,,https://shop.example",
    })  # fmt: skip
    assert s.redis_url == "rediss://:pw@redis.internal:6380/2"
    assert (s.kb_dir, s.index_dir, s.port, s.log_level) == (Path("/srv/kb"), Path("/tmp/ix"), 9001, "DEBUG")
    assert s.widget_origins == ("https://shop.example", "http://localhost:3000")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"GATEWAY_PORT": "eighty"}, "GATEWAY_PORT must be a port number, not 'eighty'"),
        ({"GATEWAY_PORT": "70000"}, "GATEWAY_PORT must be between 1 and 65535, not 70000"),
        ({"REDIS_URL": "http://localhost:6379"}, "REDIS_URL must start with redis://"),
        ({"REDIS_URL": "redis://"}, "REDIS_URL 'redis://' has no host"),
        ({"REDIS_URL": "redis://localhost:port"}, "is not a valid URL"),
        ({"WIDGET_ORIGINS": "*"}, "'*' is not allowed"),
        ({"WIDGET_ORIGINS": "shop.example"}, "entry 'shop.example' is not an origin"),
        ({"WIDGET_ORIGINS": "https://shop.example/chat"}, "is not an origin like https://shop.example"),
        ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL must be one of"),
    ],
)
def test_invalid_values_are_named(env: dict[str, str], expected: str) -> None:
    with pytest.raises(SettingsError, match="invalid gateway settings") as info:
        Settings.from_env(env)
    assert expected in str(info.value)


def test_all_problems_reported_at_once_and_password_hidden() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"GATEWAY_PORT": "0", "REDIS_URL": "http://user:s3cret@host:1/0"})
    message = str(info.value)
    assert "GATEWAY_PORT" in message and "REDIS_URL" in message
    assert "s3cret" not in message


def test_production_names_every_missing_secret() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"SUPPORT_ENV": "production", "RASA_TOKEN": "r"})
    message = str(info.value)
    for name in ("ACTION_TOKEN", "ANALYTICS_SECRET", "SURVEY_SECRET"):
        assert name in message
    assert "RASA_TOKEN" not in message.split("production:")[1].split("(")[0]
    ok = {"SUPPORT_ENV": "production", "ACTION_TOKEN": "a", "RASA_TOKEN": "r", "ANALYTICS_SECRET": "s",
          "SURVEY_SECRET": "t"}
    assert Settings.from_env(ok).action_token == "a"
    assert Settings.from_env({}).action_token == ""          # development: nothing required


@pytest.mark.parametrize(("env", "named"), [
    ({"WHATSAPP_TOKEN": "w"}, ["META_APP_SECRET", "WHATSAPP_VERIFY_TOKEN", "WHATSAPP_PHONE_NUMBER_ID"]),
    ({"MESSENGER_PAGE_TOKEN": "p", "META_APP_SECRET": "m"}, ["MESSENGER_VERIFY_TOKEN"]),
    ({"SMTP_URL": "smtp://localhost:25"}, ["SMTP_FROM"]),
])
def test_a_half_configured_channel_is_a_startup_error(env: dict[str, str], named: list[str]) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env)
    for name in named:
        assert name in str(info.value)
