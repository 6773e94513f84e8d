"""RetrievalService: edits are served without a restart; broken edits never take the FAQ down."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from retrieval.service import RetrievalService

from .helpers import copy_kb_small, entry_md, replace_in, wait_for

QUESTION = "Où est mon colis ?"  # track-fr, answered from fr/suivi.md
OLD_ANSWER = "Utilisez le lien de suivi"
SERVE_WITHIN_S = 5.0
# RetrievalService exposes no "watcher ready" signal: give the watcher thread time to start
WATCHER_SETTLE_S = 1.0


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    return copy_kb_small(tmp_path / "kb")




def start(services: list, kb: Path, cache: Path, embedder, watch: bool = True,
          settle: bool = True) -> RetrievalService:
    svc = RetrievalService(kb, cache_root=cache, embedder=embedder, watch=watch)
    services.append(svc)
    svc.start()
    if watch and settle:
        time.sleep(WATCHER_SETTLE_S)
    return svc


def served_answer(svc: RetrievalService) -> str:
    res = svc.search(QUESTION)
    assert res.best is not None and res.best.id == "track-fr"
    return res.best.answer


def test_edited_answer_is_served_within_5_s(embedder, kb: Path, tmp_path: Path, services) -> None:
    svc = start(services, kb, tmp_path / "index", embedder)
    version = svc.status()["index_version"]
    assert OLD_ANSWER in served_answer(svc)

    replace_in(kb / "fr" / "suivi.md", OLD_ANSWER, "Nouveau texte : utilisez le lien de suivi")
    assert wait_for(lambda: "Nouveau texte" in served_answer(svc), SERVE_WITHIN_S), svc.status()
    status = svc.status()
    assert status["index_version"] != version
    assert status["kb_errors"] == [] and status["ready"] is True


def test_deleted_and_added_entries_are_served(embedder, kb: Path, tmp_path: Path, services) -> None:
    svc = start(services, kb, tmp_path / "index", embedder)
    assert svc.status()["entries"] == 8
    (kb / "en" / "promo.md").unlink()
    (kb / "en" / "gift").mkdir()
    (kb / "en" / "gift" / "card.md").write_text(entry_md(
        "gift-card-en", reason="payment/methods",
        questions=("Do you sell gift cards?", "Can I buy a gift card?"),
        answer="Gift cards from 10 to 200 euros, sent by e-mail."), encoding="utf-8")
    assert wait_for(lambda: svc.search("Do you sell gift cards?").best.id == "gift-card-en", SERVE_WITHIN_S)
    assert svc.status()["entries"] == 8
    assert all(h.id != "promo-en" for h in svc.search("My promo code does not work", k=8).hits)


def test_edit_saved_while_the_service_starts_is_not_lost(embedder, kb: Path, tmp_path: Path,
                                                         services) -> None:
    """An editor saves while the gateway boots (the first build of a real KB takes minutes).

    The edit lands 0.1 s into start(): after the KB was read, while the index builds
    (fresh cache folder), before the watcher runs. It must still be served.
    """
    edit = threading.Timer(0.1, replace_in, args=(kb / "fr" / "suivi.md", OLD_ANSWER,
                                                 "Texte du démarrage : utilisez le lien de suivi"))
    edit.start()
    svc = start(services, kb, tmp_path / "index", embedder, settle=False)
    edit.join()
    assert wait_for(lambda: "Texte du démarrage" in served_answer(svc), SERVE_WITHIN_S), svc.status()


def test_queries_never_fail_during_reloads(embedder, kb: Path, tmp_path: Path, services) -> None:
    svc = start(services, kb, tmp_path / "index", embedder)
    stop = threading.Event()
    failures: list[str] = []
    versions: set[str] = set()
    counts = [0] * 4

    def shopper(i: int) -> None:
        while not stop.is_set():
            try:
                res = svc.search(QUESTION)
                versions.add(res.index_version)
                if not res.hits or res.best.id != "track-fr" or res.band == "none":
                    failures.append(f"bad result: {res.band} {[h.id for h in res.hits]}")
                counts[i] += 1
            except Exception as exc:  # noqa: BLE001 - any exception is the failure we look for
                failures.append(repr(exc))

    threads = [threading.Thread(target=shopper, args=(i,), daemon=True) for i in range(4)]
    for t in threads:
        t.start()
    try:
        suivi = kb / "fr" / "suivi.md"
        for n in range(4):
            reloads = svc.reloads
            suivi.write_text(suivi.read_text(encoding="utf-8") + f"\nMise à jour {n}.\n", encoding="utf-8")
            assert wait_for(lambda r=reloads: svc.reloads > r, 15), f"reload {n} not seen"
        assert svc.reload()  # and an explicit reload of the unchanged KB
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert failures == []
    assert all(c > 0 for c in counts)
    assert len(versions) >= 3, versions  # the shoppers really were served across several swaps
    assert "Mise à jour 3." in served_answer(svc)


def test_broken_edit_keeps_the_last_good_index_then_recovers(embedder, kb: Path, tmp_path: Path,
                                                             services) -> None:
    svc = start(services, kb, tmp_path / "index", embedder)
    version = svc.status()["index_version"]
    suivi = kb / "fr" / "suivi.md"
    good_text = suivi.read_text(encoding="utf-8")
    lines = good_text.splitlines(keepends=True)
    assert lines[3].startswith("reason:")
    lines[3] = "reason: delivery/tracking: oops\n"  # line 4: invalid YAML
    suivi.write_text("".join(lines), encoding="utf-8")

    assert wait_for(lambda: svc.status()["kb_errors"], SERVE_WITHIN_S), "broken KB not noticed"
    status = svc.status()
    assert status["ready"] is True and status["index_version"] == version
    assert any(e.startswith(f"{suivi}:4:") for e in status["kb_errors"]), status["kb_errors"]
    assert OLD_ANSWER in served_answer(svc)  # still answering with the last good content
    assert svc.search("Where is my parcel?").best.id == "track-en"

    suivi.write_text(good_text.replace(OLD_ANSWER, "Réparé : utilisez le lien de suivi"), encoding="utf-8")
    assert wait_for(lambda: "Réparé" in served_answer(svc), SERVE_WITHIN_S), svc.status()
    assert svc.status()["kb_errors"] == []


def test_restart_on_a_broken_kb_serves_the_last_good_index(embedder, kb: Path, tmp_path: Path,
                                                           services) -> None:
    cache = tmp_path / "index"
    first = start(services, kb, cache, embedder, watch=False)
    good_version = first.status()["index_version"]
    first.stop()
    assert (cache / "CURRENT").read_text().strip() == good_version

    (kb / "en" / "track.md").write_text("---\nid: track-en\nlang: en\n---\n", encoding="utf-8")
    restarted = start(services, kb, cache, embedder, watch=False)
    status = restarted.status()
    assert status["ready"] is True
    assert status["index_version"] == good_version
    assert any(e.startswith(f"{kb / 'en' / 'track.md'}:") for e in status["kb_errors"])
    assert restarted.search("Where is my parcel?").best.id == "track-en"
    assert OLD_ANSWER in served_answer(restarted)


def test_broken_kb_without_a_last_good_index_is_not_ready(embedder, kb: Path, tmp_path: Path,
                                                          services) -> None:
    (kb / "fr" / "retour.md").write_text("no front matter\n", encoding="utf-8")
    svc = start(services, kb, tmp_path / "index", embedder, watch=False)
    status = svc.status()
    assert status["ready"] is False and status["index_version"] is None
    assert any("retour.md:1:" in e for e in status["kb_errors"])
    with pytest.raises(RuntimeError, match="retour.md"):
        svc.search(QUESTION)


def test_the_once_a_second_check_reads_the_kb_only_when_a_file_moved(embedder, kb: Path, tmp_path: Path,
                                                                     services, monkeypatch) -> None:
    """The watcher's safety net (edits its file events missed) compares names, sizes and times;
    the files are read and hashed again only when one of those moved."""
    import retrieval.service as service_module

    svc = start(services, kb, tmp_path / "index", embedder, watch=False)
    hashed: list[Path] = []
    real_hash = service_module.content_hash
    monkeypatch.setattr(service_module, "content_hash", lambda root: hashed.append(root) or real_hash(root))
    assert not svc._kb_changed() and len(hashed) == 1     # the first look reads the files once
    for _ in range(5):
        assert not svc._kb_changed()
    assert len(hashed) == 1                               # then nothing moved: nothing read
    replace_in(kb / "fr" / "suivi.md", OLD_ANSWER, "Texte changé : utilisez le lien de suivi")
    assert svc._kb_changed() and len(hashed) == 2         # an edit is read and reported once
    assert not svc._kb_changed() and len(hashed) == 2
