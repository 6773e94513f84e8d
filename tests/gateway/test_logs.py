"""The JSON log format: one parseable object per line, extras and request id included."""

from __future__ import annotations

import json
import logging
import sys

from gateway.logs import JsonFormatter, request_id


def record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("gateway.test", logging.WARNING, __file__, 1, msg, args, None)
    rec.__dict__.update(extra)
    return rec


def test_one_json_object_per_line_with_extras() -> None:
    line = JsonFormatter().format(record("loaded %s entries\nok", 8, q_len=12, lang="fr"))
    assert "\n" not in line
    data = json.loads(line)
    assert data["msg"] == "loaded 8 entries\nok"
    assert (data["level"], data["logger"]) == ("warning", "gateway.test")
    assert (data["q_len"], data["lang"]) == (12, "fr")
    assert data["ts"].endswith("+00:00")
    assert "request_id" not in data


def test_request_id_and_exception() -> None:
    token = request_id.set("abc123")
    try:
        try:
            raise ValueError("bad")
        except ValueError:
            rec = record("failed")
            rec.exc_info = sys.exc_info()
        data = json.loads(JsonFormatter().format(rec))
    finally:
        request_id.reset(token)
    assert data["request_id"] == "abc123"
    assert "ValueError: bad" in data["exc"]
