"""Confidence bands: thresholds chosen for the policy targets, and bands that follow them."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from retrieval.calibration import Targets, Thresholds, choose_thresholds
from retrieval.config import load_config, save_thresholds
from retrieval.embedders import make_embedder
from retrieval.store import build_engine

from .helpers import KB_SMALL, REPO, run_cli

PROBES = ["Où est mon colis ?", "ou est mon colis", "Where is my parcel?", "paypal", "promo",
          "Quelle est la météo demain ?", "Are you hiring?", "bonjour", "thanks", "colis",
          "Je voudrais parler à un conseiller", "Can I pay with bitcoin?", "retour", "zzzz"]
NOTHING_TO_SUGGEST = {"bonjour", "thanks", "zzzz"}   # one word the KB never uses, even misspelt


def rates(in_top, in_ok, oos_top, t: float) -> tuple[float, float]:
    """(wrong answers / in-scope, out-of-scope answered / out-of-scope) at threshold t."""
    wrong = np.sum((in_top >= t) & ~in_ok) / max(len(in_top), 1)
    oos = np.sum(oos_top >= t) / len(oos_top) if len(oos_top) else 0.0
    return float(wrong), float(oos)


# -- choose_thresholds on synthetic scores ------------------------------------------------------
def test_hand_computed_example() -> None:
    in_top = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    in_ok = np.array([True, True, False, True, True])
    oos_top = np.array([0.65, 0.3, 0.2, 0.1])
    t = choose_thresholds(in_top, in_ok, oos_top, Targets(max_wrong_answer_rate=0.0,
                          max_oos_answer_rate=0.0, max_oos_suggest_rate=0.5), source="eval")
    # answering at 0.7 would answer the wrong 0.7 one; at 0.8 nothing wrong or out of scope is answered
    assert t.answer == pytest.approx(0.8)
    # at 0.3, 2 of the 4 out-of-scope questions get suggestions (50 %); at 0.2 it would be 75 %
    assert t.suggest == pytest.approx(0.3)
    assert t.source == "eval"
    assert [t.band(s) for s in (0.95, 0.8, 0.79, 0.3, 0.29)] == [
        "answer", "answer", "suggest", "suggest", "none"]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("max_wrong", "max_oos", "max_sugg"), [
    (0.02, 0.05, 0.5), (0.0, 0.0, 0.2), (0.1, 0.2, 0.8), (0.05, 0.01, 0.0)])
def test_targets_are_met_by_the_lowest_thresholds(seed: int, max_wrong: float, max_oos: float,
                                                  max_sugg: float) -> None:
    rng = np.random.default_rng(seed)
    n_in, n_oos = int(rng.integers(20, 300)), int(rng.integers(10, 200))
    in_ok = rng.random(n_in) < 0.8
    in_top = np.clip(np.where(in_ok, rng.normal(0.75, 0.15, n_in), rng.normal(0.45, 0.2, n_in)), 0, 1)
    oos_top = np.clip(rng.normal(0.35, 0.2, n_oos), 0, 1)
    targets = Targets(max_wrong_answer_rate=max_wrong, max_oos_answer_rate=max_oos,
                      max_oos_suggest_rate=max_sugg)
    t = choose_thresholds(in_top, in_ok, oos_top, targets, source="eval")

    wrong, oos = rates(in_top, in_ok, oos_top, t.answer)
    assert wrong <= max_wrong and oos <= max_oos
    assert np.mean(oos_top >= t.suggest) <= max_sugg or t.suggest == t.answer
    assert t.suggest <= t.answer
    # lowest: any lower threshold (scores only change the rates at observed values) breaks a target
    for lower in np.unique(np.concatenate([in_top, oos_top])):
        if lower < t.answer:
            w, o = rates(in_top, in_ok, oos_top, lower)
            assert w > max_wrong or o > max_oos, (lower, t.answer)
        if lower < t.suggest:
            assert np.mean(oos_top >= lower) > max_sugg, (lower, t.suggest)


def test_when_no_threshold_is_safe_nothing_is_answered() -> None:
    in_top = np.array([0.9, 0.8, 0.7])
    in_ok = np.array([False, False, False])
    oos_top = np.array([0.95, 0.5])
    t = choose_thresholds(in_top, in_ok, oos_top, Targets(), source="eval")
    assert t.answer > 0.95
    assert all(t.band(s) != "answer" for s in (*in_top, *oos_top))


def test_perfect_separation_answers_every_in_scope_question() -> None:
    in_top = np.array([0.9, 0.8, 0.7])
    oos_top = np.array([0.4, 0.3, 0.1])
    t = choose_thresholds(in_top, np.ones(3, dtype=bool), oos_top, Targets(), source="self")
    assert t.answer == pytest.approx(0.7)
    assert all(t.band(s) == "answer" for s in in_top)
    assert all(t.band(s) != "answer" for s in oos_top)


def test_only_out_of_scope_questions() -> None:
    """`calibrate` with a CSV of out-of-scope questions only passes empty in-scope arrays."""
    t = choose_thresholds(np.array([]), np.array([]), np.array([0.2, 0.4, 0.9]), Targets(), source="eval")
    assert t.answer > 0.9
    assert t.suggest <= t.answer


def test_correctness_given_as_zero_one_integers() -> None:
    """0/1 labels (e.g. from a CSV column) must mean the same as False/True."""
    in_top = np.array([0.9, 0.8, 0.7, 0.6])
    oos_top = np.array([0.3, 0.2])
    ok = [True, True, True, False]
    as_bool = choose_thresholds(in_top, np.array(ok), oos_top, Targets(), source="eval")
    as_int = choose_thresholds(in_top, np.array(ok, dtype=int), oos_top, Targets(), source="eval")
    assert as_int == as_bool


# -- engine bands follow the thresholds ---------------------------------------------------------
def assert_bands_follow(engine, thresholds: Thresholds) -> None:
    for q in PROBES:
        res = engine.search(q, k=8)
        if q in NOTHING_TO_SUGGEST:
            assert res.hits == [] and res.band == "none", (q, res)
            continue
        assert res.hits, q
        assert res.band == res.hits[0].band
        scores = [h.score for h in res.hits]
        assert scores == sorted(scores, reverse=True)
        for h in res.hits:
            if min(abs(h.score - thresholds.answer), abs(h.score - thresholds.suggest)) < 1e-4:
                continue  # scores are rounded to 4 decimals in hits
            assert h.band == thresholds.band(h.score), (q, h.id, h.score, thresholds)


def test_engine_bands_follow_its_thresholds(small_engine) -> None:
    t = small_engine.thresholds
    assert t.source == "self"
    assert 0 <= t.suggest <= t.answer
    assert_bands_follow(small_engine, t)


@pytest.mark.parametrize("question", ["Où est mon colis ?", "How do I return an item?",
                                      "Mon code promo ne marche pas", "Can I pay with PayPal?"])
def test_a_question_of_the_kb_is_answered(small_engine, question: str) -> None:
    res = small_engine.search(question)
    assert res.band == "answer"


@pytest.fixture(scope="module")
def demo_engine(embedder, tmp_path_factory: pytest.TempPathFactory):
    """The shipped demo KB (90 entries): a realistic size for out-of-scope behaviour.

    kb_small (4 entries per language) is too small to say anything about unrelated
    questions: with so few entries every question is "near" one of them. ("A shop in
    London?" is no longer in the list: the demo shop's showroom entry answers it usefully.)
    """
    from retrieval.store import build_engine

    return build_engine(REPO / "kb_content", embedder, cache_root=tmp_path_factory.mktemp("demo"),
                        use_config_thresholds=False)


@pytest.mark.parametrize("question", [
    "Quelle est la météo demain ?", "Recrutez-vous des vendeurs ?", "Vendez-vous des vélos ?",
    "What's the weather tomorrow?", "Are you hiring?", "Do you sell bicycles?"])
def test_obviously_out_of_scope_question_is_not_answered(demo_engine, question: str) -> None:
    """Out-of-scope questions must not get a direct answer (suggestions at most)."""
    res = demo_engine.search(question)
    assert res.band != "answer", (res.best.id, res.best.score, demo_engine.thresholds)


def test_configured_thresholds_override_self_calibration(embedder, config_path: Path,
                                                         tmp_path: Path) -> None:
    cfg_path = tmp_path / "retrieval.yml"
    shutil.copyfile(config_path, cfg_path)
    save_thresholds(load_config(cfg_path), {"answer": 0.5, "suggest": 0.05, "model_id": embedder.id})
    engine = build_engine(KB_SMALL, embedder, config=load_config(cfg_path), cache_root=tmp_path / "idx")
    assert engine.thresholds == Thresholds(0.5, 0.05, source="eval")
    assert engine.info["thresholds"]["source"] == "eval"
    assert_bands_follow(engine, engine.thresholds)


def test_thresholds_measured_with_another_model_are_ignored(embedder, config_path: Path,
                                                            tmp_path: Path) -> None:
    cfg_path = tmp_path / "retrieval.yml"
    shutil.copyfile(config_path, cfg_path)
    save_thresholds(load_config(cfg_path), {"answer": 0.5, "suggest": 0.05, "model_id": "other@123"})
    engine = build_engine(KB_SMALL, embedder, config=load_config(cfg_path), cache_root=tmp_path / "idx")
    assert engine.thresholds.source == "self"


# -- python -m retrieval calibrate --------------------------------------------------------------
CALIBRATION_CSV = """query,expected_id,lang
Où est mon colis ?,track-fr,fr
ou est mon colis,track-fr,fr
je veux renvoyer un article,return-fr,fr
Comment payer avec PayPal ?,payment-methods-fr,fr
mon code promo ne marche pas,promo-fr,fr
Where is my parcel?,track-en,en
I want to send back my order,return-en,en
Do you accept PayPal?,payment-methods-en,en
my discount code is refused,promo-en,en
Quelle est la météo demain ?,,fr
Recrutez-vous des vendeurs ?,,fr
What is the weather tomorrow?,,en
Are you hiring?,,en
"""


def test_calibrate_cli_writes_thresholds_used_by_later_builds(
        embedder, cli: dict[str, str], config_path: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cfg_path = tmp_path / "retrieval.yml"
    shutil.copyfile(REPO / "config" / "retrieval.yml", cfg_path)
    save_thresholds(load_config(cfg_path), {})
    original = cfg_path.read_text(encoding="utf-8")
    csv_path = tmp_path / "calib.csv"
    csv_path.write_text(CALIBRATION_CSV, encoding="utf-8")

    proc = run_cli(["calibrate", "--kb", str(KB_SMALL), "--queries", str(csv_path)],
                   {**cli, "RETRIEVAL_CONFIG": str(cfg_path)}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr

    text = cfg_path.read_text(encoding="utf-8")
    # the comments and other settings are kept, only `thresholds:` changed
    for line in original.splitlines():
        if line.startswith("#") or line.startswith("  ") or line.startswith(("targets:", "language:")):
            assert line in text.splitlines(), line
    data = yaml.safe_load(text)
    assert yaml.safe_load(original)["targets"] == data["targets"]
    assert yaml.safe_load(original)["language"] == data["language"]
    t = data["thresholds"]
    assert 0 <= t["suggest"] <= t["answer"]
    configured = make_embedder(load_config(cfg_path).embedders)   # what the CLI used
    assert t["model_id"] == configured.id
    assert (t["n_in_scope"], t["n_out_of_scope"]) == (9, 4)
    assert not (tmp_path / "var").exists()

    # a later build (default config from RETRIEVAL_CONFIG) serves with them
    monkeypatch.setenv("RETRIEVAL_CONFIG", str(cfg_path))
    engine = build_engine(KB_SMALL, configured, cache_root=tmp_path / "idx")
    assert engine.thresholds.source == "eval"
    assert engine.thresholds.answer == pytest.approx(t["answer"])
    assert engine.thresholds.suggest == pytest.approx(t["suggest"])
    assert_bands_follow(engine, engine.thresholds)
    # and the copy of the config the other tests use was not touched
    assert yaml.safe_load(config_path.read_text(encoding="utf-8"))["thresholds"] == {}
