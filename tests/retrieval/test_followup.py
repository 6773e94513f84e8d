"""Follow-up questions: a weak message ("and the procedure?") is read with the conversation's
previous FAQ question, a strong one never; `retrieval eval` reads an optional `context` column."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval import evaluate
from retrieval.evaluate import read_queries

from .helpers import KB_SMALL, run_cli

RETURN_Q = "How do I return an item?"
WEAK = "and the procedure?"
# (previous question or entry id, short follow-up, the entry that answers it). Whether a message
# is weak on its own depends on the engine (embedders, calibration): each case checks the rule
# that applies to it, and test_most_follow_ups_are_weak_alone keeps the set meaningful.
FOLLOW_UPS = [
    (RETURN_Q, WEAK, "return-en"),
    (RETURN_Q, "and from Belgium?", "return-en"),
    ("return-en", "and from Belgium?", "return-en"),
    ("Where is my parcel?", "how long do I have?", "track-en"),
    ("My promo code does not work", "and on sale items?", "promo-en"),
    ("Comment retourner un article ?", "et la procédure ?", "return-fr"),
    ("Comment retourner un article ?", "et depuis la Belgique ?", "return-fr"),
    ("Quels moyens de paiement acceptez-vous ?", "et le chèque ?", "payment-methods-fr"),
    ("Où est mon colis ?", "et ça prend combien de temps ?", "track-fr"),
    ("Mon code promo ne marche pas", "et pour les soldes ?", "promo-fr"),
]
OUT_OF_SCOPE = [
    (RETURN_Q, "are you hiring?"), (RETURN_Q, "and do you sell bikes?"),
    ("Comment retourner un article ?", "vous recrutez ?"), ("Où est mon colis ?", "vous vendez des vélos ?"),
]


def _same(a, b) -> bool:
    return [(h.id, h.score, h.band) for h in a.hits] == [(h.id, h.score, h.band) for h in b.hits]


@pytest.mark.parametrize(("context", "query", "expected"), FOLLOW_UPS)
def test_context_reads_a_weak_follow_up_and_leaves_a_strong_one(small_engine, context: str, query: str,
                                                                 expected: str) -> None:
    alone = small_engine.search(query)
    res = small_engine.search(query, context=context)
    if alone.band == "answer":  # strong on its own: the context changes nothing
        assert not res.context_used and _same(res, alone)
        return
    assert res.context_used and res.best.id == expected
    assert res.best.score > alone.best.score
    assert res.band == res.best.band
    assert res.query == query and res.query_lang == alone.query_lang  # the shopper's text, not the joined one


def test_most_follow_ups_are_weak_alone(small_engine) -> None:
    weak = [q for _, q, _ in FOLLOW_UPS if small_engine.search(q).band != "answer"]
    assert len(weak) >= len(FOLLOW_UPS) // 2, weak


def test_a_follow_up_can_get_a_direct_answer(small_engine) -> None:
    """Not only suggestions: a weak follow-up whose words the KB knows is answered directly."""
    results = [(small_engine.search(q, context=c), e) for c, q, e in FOLLOW_UPS]
    assert [r for r, e in results if r.context_used and r.band == "answer" and r.best.id == e]


@pytest.mark.parametrize(("query", "context", "expected"), [
    ("Où est mon colis ?", "Comment retourner un article ?", "track-fr"),
    ("My promo code does not work", RETURN_Q, "promo-en"),
    ("Which payment methods do you accept?", "return-en", "payment-methods-en"),
    ("Comment retourner un article ?", "Mon code promo ne marche pas", "return-fr"),
])
def test_context_never_changes_a_strong_standalone_question(small_engine, query: str, context: str,
                                                            expected: str) -> None:
    alone = small_engine.search(query)
    assert (alone.band, alone.best.id) == ("answer", expected)
    res = small_engine.search(query, context=context)
    assert not res.context_used and _same(res, alone)


@pytest.mark.parametrize(("context", "query"), OUT_OF_SCOPE)
def test_context_does_not_vouch_for_words_the_kb_never_uses(small_engine, context: str, query: str) -> None:
    """"are you hiring?" after a returns question: at most suggestions, never a direct answer
    that the message alone would not have got."""
    alone = small_engine.search(query)
    res = small_engine.search(query, context=context)
    if alone.band == "answer":
        assert not res.context_used and _same(res, alone)
    else:
        assert res.band != "answer" and all(h.band != "answer" for h in res.hits)


@pytest.mark.parametrize("context", [None, "", "   "])
def test_no_context_is_the_plain_search(small_engine, context: str | None) -> None:
    res = small_engine.search(WEAK, lang="en", context=context)
    assert not res.context_used and _same(res, small_engine.search(WEAK, lang="en"))


def test_context_used_is_in_the_result_dict(small_engine) -> None:
    assert small_engine.search("Where is my parcel?").to_dict()["context_used"] is False
    used = [small_engine.search(q, context=c).to_dict()["context_used"] for c, q, _ in FOLLOW_UPS]
    assert True in used


# -- eval ---------------------------------------------------------------------------------------
def _csv_cell(text: str) -> str:
    return f'"{text}"' if "," in text else text


FOLLOWUP_CSV = "query,expected_id,lang,context\nWhere is my parcel?,track-en,en,\n" \
    "Comment retourner un article ?,return-fr,fr,\n" + "".join(
        f"{q},{e},{e[-2:]},{_csv_cell(c)}\n" for c, q, e in FOLLOW_UPS) + f"are you hiring?,,en,{RETURN_Q}\n"


def test_eval_reads_the_context_column(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text(FOLLOWUP_CSV, encoding="utf-8")
    queries = read_queries(path)
    assert [(q.text, q.context) for q in queries[:3]] == [
        ("Where is my parcel?", ""), ("Comment retourner un article ?", ""), (WEAK, RETURN_Q)]
    assert [(q.context, q.text, q.expected_id) for q in queries[2:-1]] == FOLLOW_UPS
    assert (queries[-1].expected_id, queries[-1].context) == ("", RETURN_Q)


def test_eval_still_reads_files_without_the_context_column(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text("query,expected_id,lang\nOù est mon colis ?,track-fr,fr\n", encoding="utf-8")
    assert read_queries(path) == [evaluate.Query("Où est mon colis ?", "track-fr", "fr", "")]


def test_eval_figures_per_context(small_engine, tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text(FOLLOWUP_CSV, encoding="utf-8")
    queries = read_queries(path)
    with_ctx = evaluate.followups(evaluate.run(small_engine, queries))
    without = evaluate.followups(evaluate.run(small_engine, queries, use_context=False))
    for figures in (with_ctx, without):
        followup = figures["followup"]
        assert (followup["n_in_scope"], followup["n_out_of_scope"]) == (len(FOLLOW_UPS), 1)
        assert figures["standalone"]["n_in_scope"] == 2 and figures["standalone"]["top1"] == 1.0
        assert figures["followup_top1"] == figures["followup"]["top1"]
        assert set(figures["followup"]["by_lang"]) == {"fr", "en"}
    assert with_ctx["followup"]["context_used"] > 0 and without["followup"]["context_used"] == 0.0
    assert with_ctx["followup_top1"] > without["followup_top1"]
    assert evaluate.followups(evaluate.run(small_engine, queries[:2])) == {}  # no follow-up rows


def test_eval_cli_prints_the_follow_up_figures(cli: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text(FOLLOWUP_CSV, encoding="utf-8")
    runs = {}
    for flag in ([], ["--no-context"]):
        proc = run_cli(["eval", "--kb", str(KB_SMALL), "--queries", str(path), *flag], cli, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.strip().splitlines()
        assert any(line.startswith("[followup] ") for line in lines)
        runs[bool(flag)] = json.loads(lines[-1])
    with_ctx, without = runs[False], runs[True]
    assert (with_ctx["n_in_scope"], with_ctx["n_out_of_scope"]) == (len(FOLLOW_UPS) + 2, 1)
    assert with_ctx["followup"]["context_used"] > 0 and without["followup"]["context_used"] == 0.0
    assert with_ctx["followup_top1"] >= without["followup_top1"]
    assert with_ctx["standalone"] == {**without["standalone"], "p50_ms": with_ctx["standalone"]["p50_ms"],
                                      "p95_ms": with_ctx["standalone"]["p95_ms"]}


def test_a_follow_up_reuses_its_parts_vectors_instead_of_encoding_the_joined_text(
        small_engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 20: the joined text ("previous question + message") is never encoded; the engine
    combines the vectors it has (docs/benchmarks.md measures the follow-up rows both ways)."""
    encoded: list[str] = []
    encode = small_engine.embedder.encode_query
    monkeypatch.setattr(small_engine.embedder, "encode_query",
                        lambda text: encoded.append(text) or encode(text))
    context, query = "Quels moyens de paiement proposez-vous ?", "et le chèque cadeau ?"
    small_engine.search(context)
    res = small_engine.search(query, context=context)
    assert res.context_used, res.to_dict()                    # the follow-up path did run
    assert len(encoded) == 2 and not any(context.split()[0] in t and "chèque" in t for t in encoded), encoded
    again = small_engine.search(query, context=context)        # recent vectors: nothing encoded again
    assert len(encoded) == 2 and _same(again, res)
