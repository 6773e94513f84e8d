"""The persisted index: reused when nothing that matters changed, rebuilt otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from retrieval.calibration import Targets
from retrieval.config import load_config
from retrieval.store import build_engine

from .helpers import copy_kb_small, entry_md, replace_in


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    return copy_kb_small(tmp_path / "kb")


def test_unchanged_kb_is_loaded_not_rebuilt(embedder, kb: Path, tmp_path: Path) -> None:
    cache = tmp_path / "index"
    first = build_engine(kb, embedder, cache_root=cache, use_config_thresholds=False)
    assert first.info["built"] is True
    second = build_engine(kb, embedder, cache_root=cache, use_config_thresholds=False)
    assert second.info["built"] is False
    assert second.version == first.version
    assert second.thresholds == first.thresholds
    for q in ("Où est mon colis ?", "Can I pay with PayPal?", "code promo refusé"):
        a, b = first.search(q), second.search(q)
        assert [(h.id, h.score, h.band) for h in a.hits] == [(h.id, h.score, h.band) for h in b.hits]

    # same bytes, new mtimes (a `git checkout`, a copy): still the same index
    for md in kb.rglob("*.md"):
        os.utime(md, None)
    assert build_engine(kb, embedder, cache_root=cache, use_config_thresholds=False).info["built"] is False
    # an identical copy of the KB elsewhere reuses it too (the key is the content)
    other = copy_kb_small(tmp_path / "copy")
    again = build_engine(other, embedder, cache_root=cache, use_config_thresholds=False)
    assert again.info["built"] is False and again.version == first.version


def test_any_md_change_rebuilds(embedder, kb: Path, tmp_path: Path) -> None:
    cache = tmp_path / "index"
    versions = [build_engine(kb, embedder, cache_root=cache, use_config_thresholds=False).version]
    for md in sorted(kb.rglob("*.md")):
        md.write_text(md.read_text(encoding="utf-8") + "\nUpdated.\n", encoding="utf-8")
        engine = build_engine(kb, embedder, cache_root=cache, use_config_thresholds=False)
        assert engine.info["built"] is True, md
        assert engine.version not in versions, md
        versions.append(engine.version)
    edited = build_engine(kb, embedder, cache_root=cache, use_config_thresholds=False)
    assert edited.info["built"] is False and edited.version == versions[-1]
    assert "Updated." in edited.search("Où est mon colis ?").best.answer


def test_added_nested_and_removed_files_rebuild(embedder, kb: Path, tmp_path: Path) -> None:
    cache = tmp_path / "index"
    base = build_engine(kb, embedder, cache_root=cache, use_config_thresholds=False)
    nested = kb / "en" / "payment" / "deep" / "klarna.md"
    nested.parent.mkdir(parents=True)
    nested.write_text(entry_md("klarna-en", reason="payment/methods",
                               questions=("Do you offer Klarna?", "Can I pay later with Klarna?"),
                               answer="Yes, Klarna is offered at checkout."), encoding="utf-8")
    added = build_engine(kb, embedder, cache_root=cache, use_config_thresholds=False)
    assert added.info["built"] is True and added.version != base.version
    assert added.info["entries"] == 9
    assert added.search("Do you offer Klarna?").best.id == "klarna-en"

    nested.unlink()
    (kb / "en" / "promo.md").unlink()
    removed = build_engine(kb, embedder, cache_root=cache, use_config_thresholds=False)
    assert removed.version not in (base.version, added.version)
    assert removed.info["entries"] == 7
    assert all(h.id != "promo-en" for h in removed.search("My promo code does not work", k=7).hits)


def test_taxonomy_and_targets_are_part_of_the_key(embedder, kb: Path, tmp_path: Path) -> None:
    cache = tmp_path / "index"
    base = build_engine(kb, embedder, cache_root=cache, use_config_thresholds=False)
    replace_in(kb / "taxonomy.yml", "returns:\n", "returns:\n  exchange: Exchange an item\n")
    tax = build_engine(kb, embedder, cache_root=cache, use_config_thresholds=False)
    assert tax.info["built"] is True and tax.version != base.version

    config = load_config()
    config.targets = Targets(max_wrong_answer_rate=0.1, max_oos_answer_rate=0.2)
    strict = build_engine(kb, embedder, config=config, cache_root=cache, use_config_thresholds=False)
    assert strict.info["built"] is True and strict.version != tax.version


def test_the_cache_root_is_the_only_folder_written(embedder, kb: Path, tmp_path: Path) -> None:
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    build_engine(kb, embedder, cache_root=tmp_path / "index", use_config_thresholds=False)
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert [p for p in after if p not in before and p.parts[0] != "index"] == []
    assert not any(p.name.startswith(".") for p in (tmp_path / "index").iterdir())  # no temp leftovers
