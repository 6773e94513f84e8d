"""Meta plumbing shared by Messenger and WhatsApp: signatures, handshake, appsecret_proof,
settings, and the defensive helpers the webhook parsers rely on."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from gateway.channels.meta import (
    DEFAULT_GRAPH_API_BASE,
    DEFAULT_GRAPH_API_VERSION,
    MetaSettings,
    WebhookRejected,
    appsecret_proof,
    as_timestamp,
    clip,
    parse_json,
    split_text,
    verify_signature,
    verify_subscription,
    within_window,
)
from tests.fakes.graph_server import sign

BODY = b'{"object":"page","entry":[]}'


def test_signature_valid() -> None:
    header = "sha256=" + hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()
    assert verify_signature(BODY, header, "s3cret")
    assert verify_signature(BODY, header.upper().replace("SHA256=", "sha256="), "s3cret")  # hex case
    assert sign(BODY, "s3cret") == header


@pytest.mark.parametrize(
    "header",
    [
        None, "", "sha256=", "sha256", "sha1=" + hmac.new(b"s3cret", BODY, hashlib.sha1).hexdigest(),
        sign(BODY, "other-secret"), sign(BODY + b" ", "s3cret"), "sha256=zz\u00e9\u00e9",
        "sha256=" + "0" * 64,
    ],
)  # fmt: skip
def test_signature_invalid(header: str | None) -> None:
    assert not verify_signature(BODY, header, "s3cret")


def test_empty_secret_never_verifies() -> None:
    """A channel without an app secret must not accept posts signed with the empty key."""
    assert not verify_signature(BODY, sign(BODY, ""), "")


def test_subscription_handshake() -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}
    assert verify_subscription(params, "tok") == "1158201444"
    assert verify_subscription({**params, "hub.verify_token": "nope"}, "tok") is None
    assert verify_subscription({**params, "hub.mode": "unsubscribe"}, "tok") is None
    assert verify_subscription({k: v for k, v in params.items() if k != "hub.challenge"}, "tok") is None
    assert verify_subscription({**params, "hub.verify_token": ""}, "") is None  # unconfigured token
    # non-ASCII: no crash
    assert verify_subscription({**params, "hub.verify_token": "t\u00f6k"}, "tok") is None


def test_appsecret_proof() -> None:
    expected = hmac.new(b"app-secret", b"EAAB-token", hashlib.sha256).hexdigest()
    assert appsecret_proof("EAAB-token", "app-secret") == expected
    assert len(expected) == 64


def test_settings_from_env() -> None:
    settings = MetaSettings.from_env({
        "META_APP_SECRET": " sec ", "MESSENGER_VERIFY_TOKEN": "mv", "MESSENGER_PAGE_TOKEN": "mp",
        "WHATSAPP_VERIFY_TOKEN": "wv", "WHATSAPP_TOKEN": "wt", "WHATSAPP_PHONE_NUMBER_ID": "1055",
        "GRAPH_API_BASE": "http://127.0.0.1:9/", "GRAPH_API_VERSION": "21.0",
    })  # fmt: skip
    assert settings.app_secret == "sec"
    assert settings.graph_api_base == "http://127.0.0.1:9"
    assert settings.graph_api_version == "v21.0"
    assert settings.messenger_enabled and settings.whatsapp_enabled
    assert "sec" not in repr(settings) and "wt" not in repr(settings)  # secrets stay out of logs


def test_settings_defaults_disable_both_channels() -> None:
    settings = MetaSettings.from_env({})
    assert settings.graph_api_base == DEFAULT_GRAPH_API_BASE
    assert settings.graph_api_version == DEFAULT_GRAPH_API_VERSION
    assert not settings.messenger_enabled and not settings.whatsapp_enabled
    expected = ["META_APP_SECRET", "MESSENGER_VERIFY_TOKEN", "MESSENGER_PAGE_TOKEN"]
    assert settings.missing("messenger") == expected
    only_secret = MetaSettings(app_secret="x", whatsapp_token="t")
    assert only_secret.missing("whatsapp") == ["WHATSAPP_VERIFY_TOKEN", "WHATSAPP_PHONE_NUMBER_ID"]
    with pytest.raises(ValueError):
        settings.missing("web")


def test_window() -> None:
    now = 1_800_000_000.0
    assert within_window(now - 23 * 3600, now)
    assert not within_window(now - 24 * 3600 - 1, now)
    assert not within_window(None, now)


@pytest.mark.parametrize(
    ("value", "millis", "expected"),
    [(1_700_000_000_123, True, 1_700_000_000.123), ("1700000000", False, 1_700_000_000.0),
     (1_700_000_000, False, 1_700_000_000.0)],
)  # fmt: skip
def test_timestamps(value: object, millis: bool, expected: float) -> None:
    assert as_timestamp(value, millis=millis) == pytest.approx(expected)


@pytest.mark.parametrize("value", [None, True, "soon", "-5", -1, 1e300, [], {}, "1" * 40])
def test_absurd_timestamps_become_now(value: object) -> None:
    import time

    assert abs(as_timestamp(value) - time.time()) < 5


@pytest.mark.parametrize(
    "body", [b"{", b"NaN", b'{"a": Infinity}', b"\xff\xfe", b"[" * 50_000 + b"]" * 50_000]
)
def test_parse_json_rejects(body: bytes) -> None:
    with pytest.raises(WebhookRejected) as info:
        parse_json(body)
    assert info.value.status == 422


def test_split_text_keeps_every_word_within_the_limit() -> None:
    text = " ".join(f"word{i}" for i in range(800)) + "\n\n" + "x" * 2500
    chunks = split_text(text, 2000)
    assert all(0 < len(c) <= 2000 for c in chunks)
    assert "".join(chunks).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")
    assert split_text("  short  ", 2000) == ["short"]
    assert split_text("   ", 2000) == []


def test_clip() -> None:
    assert clip("Suivre ma commande", 20) == "Suivre ma commande"
    clipped = clip("Voir les conditions de retour", 20)
    assert len(clipped) <= 20 and clipped.endswith("\u2026")
