"""Original mails on disk: kept once, found by their transcript key, never by a path built
from what a caller sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from mail.originals import MailOriginals, message_key


def test_a_mail_is_kept_once_and_read_back_by_its_key(tmp_path: Path) -> None:
    originals = MailOriginals(tmp_path)
    key = originals.keep("c-abc123", "<Mid@Client.example>", b"first bytes")
    assert key == message_key("<mid@client.example> ")                # case and spaces do not matter
    assert originals.keep("c-abc123", "<Mid@Client.example>", b"second pass") == key
    assert originals.read("c-abc123", key) == b"first bytes"          # a second pass keeps the first copy
    assert originals.read("c-other", key) is None                     # only under its own conversation
    assert [p.name for p in (tmp_path / "c-abc123").iterdir()] == [f"{key}.eml"]


@pytest.mark.parametrize(("cid", "key"), [
    ("..", "mail-" + "0" * 32), ("c-abc/../x", "mail-" + "0" * 32), ("", "mail-" + "0" * 32),
    ("c-abc", "../c-abc/mail-" + "0" * 32), ("c-abc", "mail-" + "0" * 31), ("c-abc", "mail-" + "G" * 32),
    ("c-abc", "mail-" + "0" * 32 + "\n"), ("c-abc", "x" * 5000),
])
def test_ids_that_are_not_ours_build_no_path(tmp_path: Path, cid: str, key: str) -> None:
    originals = MailOriginals(tmp_path)
    assert originals.path(cid, key) is None and originals.read(cid, key) is None


def test_keeping_under_a_foreign_conversation_id_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        MailOriginals(tmp_path).keep("../elsewhere", "<a@b>", b"x")
    assert list(tmp_path.iterdir()) == []
