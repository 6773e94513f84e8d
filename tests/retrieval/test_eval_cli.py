"""`python -m retrieval eval --kb DIR --queries FILE.csv --json`: the contract outside checks rely on."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from retrieval.evaluate import read_queries

from .helpers import KB_SMALL, REPO, run_cli, snapshot

# in scope: exact questions of kb_small, so the expected entry is the best one
EVAL_CSV = """query,expected_id,lang
Où est mon colis ?,track-fr,fr
Comment retourner un article ?,return-fr,fr
Quels moyens de paiement acceptez-vous ?,payment-methods-fr,fr
Mon code promo ne marche pas,promo-fr,fr
Where is my parcel?,track-en,en
How do I return an item?,return-en,en
Which payment methods do you accept?,payment-methods-en,en
Quelle est la météo demain à Paris ?,,fr
Are you hiring?,,en
"Do you sell tents, sleeping bags or stoves?",,en
"""
KEYS = ("n_in_scope", "n_out_of_scope", "top1", "recall_at_3", "mrr", "answered_correct",
        "answered_wrong", "oos_false_accept", "p50_ms", "p95_ms", "model", "index_build_s")
SHARES = ("top1", "recall_at_3", "mrr", "answered_correct", "answered_wrong", "oos_false_accept")


@pytest.fixture(scope="module")
def eval_run(guard_dir: Path, config_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One eval run from an empty working directory, with its own TMPDIR, observing what it writes."""
    work = tmp_path_factory.mktemp("eval-cwd")
    tmpdir = tmp_path_factory.mktemp("eval-tmpdir")
    csv_path = tmp_path_factory.mktemp("eval-csv") / "queries.csv"
    csv_path.write_text(EVAL_CSV, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("INDEX_DIR", "EMBEDDING_MODEL")}
    env.update(PYTHONPATH=os.pathsep.join([str(guard_dir), str(REPO)]), TMPDIR=str(tmpdir),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", RETRIEVAL_CONFIG=str(config_path),
               RETRIEVAL_TEST_NET_LOG=str(tmp_path_factory.mktemp("eval-net") / "net.log"))
    watched = {"kb": KB_SMALL, "repo var/index": REPO / "var" / "index", "cwd": work, "TMPDIR": tmpdir}
    before = {name: snapshot(path) for name, path in watched.items()}
    proc = run_cli(["eval", "--kb", str(KB_SMALL), "--queries", str(csv_path), "--json"], env, cwd=work)
    after = {name: snapshot(path) for name, path in watched.items()}
    return {"proc": proc, "before": before, "after": after}


@pytest.fixture(scope="module")
def result(eval_run: dict) -> dict:
    proc = eval_run["proc"]
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    data = json.loads(last)
    assert isinstance(data, dict)
    return data


def test_last_stdout_line_is_one_json_object_with_the_contract_keys(result: dict) -> None:
    missing = [k for k in KEYS if k not in result]
    assert missing == []


def test_counts_match_the_csv(result: dict) -> None:
    assert result["n_in_scope"] == 7
    assert result["n_out_of_scope"] == 3  # empty expected_id = out of scope


def test_values_are_consistent(result: dict) -> None:
    for k in SHARES:
        assert 0.0 <= result[k] <= 1.0, k
    assert result["top1"] <= result["mrr"] <= result["recall_at_3"]
    assert result["answered_correct"] + result["answered_wrong"] <= 1.0
    assert result["answered_correct"] <= result["top1"]
    # every in-scope query is a question of the KB: found first, so never answered wrongly
    assert result["top1"] == result["recall_at_3"] == result["mrr"] == 1.0
    assert result["answered_wrong"] == 0.0
    assert 0 < result["p50_ms"] <= result["p95_ms"]
    assert result["model"] == "all-MiniLM-L6-v2+multilingual-e5-small"       # config/retrieval.yml
    assert result["embedders"] == ["all-MiniLM-L6-v2", "multilingual-e5-small"]
    assert result["index_build_s"] > 0


def test_kb_folder_and_var_are_left_untouched(eval_run: dict) -> None:
    before, after = eval_run["before"], eval_run["after"]
    assert after["kb"] == before["kb"]
    assert after["repo var/index"] == before["repo var/index"]
    assert after["cwd"] == before["cwd"] == {}  # no var/ (or anything) in the working directory


def test_temporary_index_is_removed(eval_run: dict) -> None:
    """"Builds its own index in a temp folder; touches nothing else": nothing left in TMPDIR."""
    top = {p.split(os.sep)[0] for p in eval_run["after"]["TMPDIR"]}
    # torch itself creates an empty torchinductor_<user> cache folder when imported
    leftovers = sorted(p for p in top if not p.startswith("torchinductor_"))
    assert leftovers == [], leftovers


def test_human_readable_output_ends_with_the_same_json(cli: dict[str, str], tmp_path: Path) -> None:
    csv_path = tmp_path / "q.csv"
    csv_path.write_text("query,expected_id,lang\nWhere is my parcel?,track-en,en\nAre you hiring?,,en\n",
                        encoding="utf-8")
    proc = run_cli(["eval", "--kb", str(KB_SMALL), "--queries", str(csv_path)], cli, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    data = json.loads(lines[-1])
    assert (data["n_in_scope"], data["n_out_of_scope"], data["top1"]) == (1, 1, 1.0)
    assert len(lines) > 1  # the table comes first


def test_queries_csv_with_excel_byte_order_mark(tmp_path: Path) -> None:
    """Excel's "CSV UTF-8" export starts with a BOM; the header must still be recognised."""
    path = tmp_path / "excel.csv"
    path.write_bytes("query,expected_id,lang\r\nOù est mon colis ?,track-fr,fr\r\nBonjour,,fr\r\n"
                     .encode("utf-8-sig"))
    queries = read_queries(path)
    assert [(q.text, q.expected_id, q.lang) for q in queries] == [
        ("Où est mon colis ?", "track-fr", "fr"), ("Bonjour", "", "fr")]
