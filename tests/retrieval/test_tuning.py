"""The encoder tuned on the KB's own questions: cached, keyed, swapped in the background.

Real model, real tuning (a tiny step budget so each tune takes seconds), real service threads.
Nothing here may reach the network: the package's network guard fails any test that tries.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from retrieval import tuning
from retrieval.config import load_config
from retrieval.kb import load_kb
from retrieval.service import RetrievalService
from retrieval.store import build_engine

from .helpers import REPO, copy_kb_small, replace_in, run_cli, wait_for

TINY = {"enabled": True, "max_steps": 2, "batch_size": 4, "epochs": 1.0, "max_seconds": 120}
QUESTION = "Où est mon colis ?"  # track-fr
SERVE_WITHIN_S = 5.0
RETUNE_WITHIN_S = 120.0  # a tune of 2 steps plus a kb_small build; generous for a loaded machine


def tuned_config(config_path: Path, folder: Path, **overrides: object) -> Path:
    """The test config (no calibrated thresholds) with a `tuning:` section of a tiny budget."""
    import yaml

    data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    data["tuning"] = {**TINY, **overrides}
    path = folder / "retrieval-tuned.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def config(config_path: Path, tmp_path: Path):
    return load_config(tuned_config(config_path, tmp_path))


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    return copy_kb_small(tmp_path / "kb")




def tuned_folders(cache: Path) -> list[Path]:
    root = tuning.tuned_root(cache)
    return sorted(p for p in root.iterdir() if not p.name.startswith(".")) if root.exists() else []


def model_of(engine) -> Path:
    return Path(tuning.sentence_backend(engine.embedder).path)


# ---- the cache ----------------------------------------------------------------------------------
def test_tuned_model_is_cached_and_reused(embedder, config, kb: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "index"
    first = build_engine(kb, embedder, config, cache_root=cache, use_config_thresholds=False)
    assert first.info["tuned"] is True and first.info["tuning"] == "tuned"
    [folder] = tuned_folders(cache)
    assert model_of(first) == folder.resolve()
    meta = json.loads((folder / tuning.META_FILE).read_text(encoding="utf-8"))
    assert meta["steps"] == 2 and meta["truncated"] is False
    # a normal sentence-transformers folder, named after its key (the index key covers it)
    assert (folder / "modules.json").exists() and meta["key"] in folder.name
    assert meta["key"] in first.info["model_id"]
    assert first.search(QUESTION).best.id == "track-fr"

    def no_tuning(*args: object, **kwargs: object) -> None:
        raise AssertionError("an unchanged KB was tuned again")

    monkeypatch.setattr(tuning, "_tune", no_tuning)
    second = build_engine(kb, embedder, config, cache_root=cache, use_config_thresholds=False)
    assert second.info["tuning"] == "cached" and second.info["built"] is False
    assert second.version == first.version and tuned_folders(cache) == [folder]


def test_answer_edit_reuses_the_tuned_model(embedder, config, kb: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Tuning reads questions and titles only: an answer edit rebuilds the index, not the model."""
    cache = tmp_path / "index"
    first = build_engine(kb, embedder, config, cache_root=cache, use_config_thresholds=False)
    replace_in(kb / "fr" / "suivi.md", "Utilisez le lien de suivi", "Cliquez sur le lien de suivi")
    monkeypatch.setattr(tuning, "_tune", lambda *a, **k: pytest.fail("answer edit re-tuned"))
    second = build_engine(kb, embedder, config, cache_root=cache, use_config_thresholds=False)
    assert second.info["tuning"] == "cached" and second.info["built"] is True
    assert model_of(second) == model_of(first)
    assert "Cliquez" in second.search(QUESTION).best.answer


def test_cache_key_follows_questions_base_model_and_params(kb: Path) -> None:
    params = tuning.TuningParams(**TINY)
    before = load_kb(kb)
    key = tuning.tuning_key(before, "base@1", params)
    assert tuning.tuning_key(load_kb(kb), "base@1", params) == key  # stable across loads

    replace_in(kb / "fr" / "suivi.md", "Utilisez le lien de suivi", "Autre réponse")
    assert tuning.tuning_key(load_kb(kb), "base@1", params) == key  # answers do not count

    replace_in(kb / "fr" / "suivi.md", '"Où est mon colis ?"', '"Où en est mon colis ?"')
    edited = load_kb(kb)
    assert tuning.tuning_key(edited, "base@1", params) != key       # a question does
    assert tuning.questions_hash(edited) != tuning.questions_hash(before)
    assert tuning.tuning_key(before, "base@2", params) != key       # so does the base model
    changed = tuning.TuningParams(**{**TINY, "max_steps": 3})
    assert tuning.tuning_key(before, "base@1", changed) != key      # and what shapes the tune
    timing_only = tuning.TuningParams(**{**TINY, "max_seconds": 5, "threads": 1})
    assert tuning.tuning_key(before, "base@1", timing_only) == key  # but not the time budget


def test_tuning_is_seeded(embedder, kb: Path, tmp_path: Path) -> None:
    params = tuning.TuningParams(**TINY)
    one = tuning.tuned_model(load_kb(kb), embedder.path, params, tmp_path / "a")
    two = tuning.tuned_model(load_kb(kb), embedder.path, params, tmp_path / "b")
    assert one.key == two.key and not one.reused and not two.reused
    assert (one.path / "model.safetensors").read_bytes() == (two.path / "model.safetensors").read_bytes()
    base = (Path(embedder.path) / "model.safetensors").read_bytes()
    assert (one.path / "model.safetensors").read_bytes() != base  # and it did learn something


def test_batches_never_pair_an_entry_against_itself() -> None:
    import random

    groups = [[f"q{g}-{i}" for i in range(n)] for g, n in enumerate([2, 5, 3, 2, 4])]
    for anchors, positives in tuning.batches(groups, 4, 20, random.Random(1)):
        entries = [a.split("-")[0] for a in anchors]
        assert len(set(entries)) == len(entries) == 4
        assert all(p.split("-")[0] == e and p != a for a, p, e in zip(anchors, positives, entries,
                                                                        strict=True))


def test_every_second_phrasing_is_held_out_of_tuning(kb: Path, embedder, tmp_path: Path) -> None:
    """Self-calibration asks the KB's questions back; those the model never saw look like a
    shopper's, so entries with 3+ phrasings keep every second one out of tuning."""
    loaded = load_kb(kb)
    track = next(e for e in loaded.entries if e.id == "track-en")
    texts = list(dict.fromkeys([*track.questions, track.title]))
    assert len(texts) == 4
    trained = {t for g in tuning.groups(loaded, 2) for t in g}
    assert [t for t in texts if t not in trained] == texts[1::2]
    assert set(texts) <= {t for g in tuning.groups(loaded, 0) for t in g}
    result = tuning.tuned_model(loaded, embedder.path, tuning.TuningParams(**TINY), tmp_path)
    assert tuning.trained_texts(result.path) == frozenset(
        t for g in tuning.groups(loaded, tuning.TuningParams().holdout) for t in g)


def test_unknown_tuning_setting_is_named(config_path: Path, tmp_path: Path) -> None:
    path = tuned_config(config_path, tmp_path, max_stepz=3)
    with pytest.raises(ValueError, match=r"max_stepz.*known"):
        tuning.load_params(load_config(path))


# ---- the service: hot reload and the background re-tune ------------------------------------------
def test_edit_is_served_at_once_with_the_current_tuned_model_then_retuned(
        embedder, config, kb: Path, tmp_path: Path, services) -> None:
    cache = tmp_path / "index"
    build_engine(kb, embedder, config, cache_root=cache)  # what `retrieval build` leaves behind
    svc = RetrievalService(kb, cache_root=cache, embedder=embedder, config=config, watch=True)
    services.append(svc)
    installed: list[tuple[str, Path]] = []  # (kb hash, model) of every engine swapped in
    install = svc._install

    def recording(engine, provisional: bool = False) -> None:
        if not provisional:  # an edit's provisional engine (previous fusion) comes first
            installed.append((engine.info["kb_hash"], model_of(engine)))
        install(engine, provisional)

    svc._install = recording
    svc.start()
    assert svc.status()["tuned"] is True and svc.status()["retuning"] is False  # cached: no wait
    old_model = model_of(svc.engine)

    replace_in(kb / "fr" / "suivi.md", '"Où est mon colis ?"', '"Où se trouve mon paquet ?"')
    assert wait_for(lambda: svc.search("Où se trouve mon paquet ?").best.id == "track-fr"
                    and len(installed) >= 2, SERVE_WITHIN_S), svc.status()
    new_hash = installed[1][0]
    assert installed[1] == (new_hash, old_model)  # served at once, by the tuned model in use

    assert wait_for(lambda: not svc.status()["retuning"] and len(installed) >= 3, RETUNE_WITHIN_S)
    assert installed[2][0] == new_hash and installed[2][1] != old_model
    assert model_of(svc.engine) == tuning.cached(load_kb(kb), embedder.path,
                                                 tuning.load_params(config), cache).path
    assert svc.status()["tuned"] is True


def test_background_retune_swaps_atomically_under_concurrent_queries(
        embedder, config, kb: Path, tmp_path: Path, services) -> None:
    """First start without any tuned model: the base model serves at once, the tune runs in
    the background; shoppers asking all along always get a whole, right answer."""
    svc = RetrievalService(kb, cache_root=tmp_path / "index", embedder=embedder, config=config,
                           watch=False)
    services.append(svc)
    svc.start()
    assert svc.status()["tuned"] is False and svc.status()["retuning"] is True
    stop = threading.Event()
    failures: list[str] = []
    seen: dict[str, int] = {}

    def shopper() -> None:
        while not stop.is_set():
            try:
                res = svc.search(QUESTION)
                seen[res.index_version] = seen.get(res.index_version, 0) + 1
                if not res.hits or res.best.id != "track-fr" or res.band == "none":
                    failures.append(f"{res.band} {[h.id for h in res.hits]}")
            except Exception as exc:  # noqa: BLE001 - any exception is the failure looked for
                failures.append(repr(exc))

    threads = [threading.Thread(target=shopper, daemon=True) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        assert wait_for(lambda: not svc.status()["retuning"], RETUNE_WITHIN_S), svc.status()
        assert svc.status()["tuned"] is True
        tuned_version = svc.status()["index_version"]
        assert wait_for(lambda: seen.get(tuned_version, 0) > 0, 10)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert failures == []
    assert len(seen) == 2, seen  # the base engine, then the tuned one: nothing in between


def test_newer_edit_supersedes_an_older_retune(embedder, config, kb: Path, tmp_path: Path,
                                               services, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "index"
    build_engine(kb, embedder, config, cache_root=cache)
    gate = threading.Event()
    real = tuning.tuned_model
    calls: list[str] = []

    def gated(kb_, *args: object, **kwargs: object):
        calls.append(tuning.questions_hash(kb_))
        if len(calls) == 1:
            assert gate.wait(60), "the test never released the first re-tune"
        return real(kb_, *args, **kwargs)

    monkeypatch.setattr(tuning, "tuned_model", gated)
    svc = RetrievalService(kb, cache_root=cache, embedder=embedder, config=config, watch=False)
    services.append(svc)
    svc.start()
    suivi = kb / "fr" / "suivi.md"
    replace_in(suivi, '"Où est mon colis ?"', '"Où se trouve mon paquet ?"')
    superseded = load_kb(kb)
    assert svc.reload() and svc.status()["retuning"]        # first re-tune, held at the gate
    replace_in(suivi, '"Où se trouve mon paquet ?"', '"Mon paquet est où ?"')
    assert svc.reload()                                      # supersedes it
    gate.set()
    assert wait_for(lambda: not svc.status()["retuning"], RETUNE_WITHIN_S), svc.status()
    final = load_kb(kb)
    assert calls == [tuning.questions_hash(superseded), tuning.questions_hash(final)]
    params = tuning.load_params(config)
    assert tuning.cached(superseded, embedder.path, params, cache) is None  # cancelled, not finished
    assert svc.engine.info["kb_hash"] == final.content_hash
    assert model_of(svc.engine) == tuning.cached(final, embedder.path, params, cache).path
    assert svc.search("Mon paquet est où ?").best.id == "track-fr"


def test_restart_on_a_broken_kb_serves_the_last_tuned_index(embedder, config, kb: Path,
                                                            tmp_path: Path, services) -> None:
    cache = tmp_path / "index"
    first = RetrievalService(kb, cache_root=cache, embedder=embedder, config=config, watch=False)
    services.append(first)
    build_engine(kb, embedder, config, cache_root=cache)
    first.start()
    version = first.status()["index_version"]
    assert first.status()["tuned"] is True
    first.stop()
    (kb / "en" / "track.md").write_text("---\nid: track-en\nlang: en\n---\n", encoding="utf-8")
    again = RetrievalService(kb, cache_root=cache, embedder=embedder, config=config, watch=False)
    services.append(again)
    again.start()
    assert again.status()["index_version"] == version and again.status()["tuned"] is True
    assert again.search("Where is my parcel?").best.id == "track-en"


# ---- the CLI ----------------------------------------------------------------------------------------
def test_eval_json_says_whether_the_encoder_was_tuned(cli: dict[str, str], config_path: Path,
                                                       tmp_path: Path) -> None:
    queries = tmp_path / "q.csv"
    queries.write_text("query,expected_id,lang\nOù est mon colis ?,track-fr,fr\n"
                       "quelle est la météo demain,,fr\n", encoding="utf-8")
    kb_arg = ["--kb", str(REPO / "tests" / "fixtures" / "kb_small"), "--queries", str(queries), "--json"]
    env = {**cli, "RETRIEVAL_CONFIG": str(tuned_config(config_path, tmp_path))}
    proc = run_cli(["eval", *kb_arg], env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["tuned"] is True and result["top1"] == 1.0
    assert "tuning the encoder" not in proc.stderr  # no progress bar without a terminal
