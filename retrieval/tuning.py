"""Contrastive fine-tuning of the sentence-transformers encoder on the KB's own questions.

The bundled MiniLM never saw this shop's vocabulary; the KB tells it which phrasings mean the
same thing: two questions (or a question and the title) of one entry are a positive pair, the
other pairs of the batch are its negatives (MultipleNegativesRankingLoss, SetFit-style). On CPU,
with a hard step and time budget: the word embeddings and the lower layers stay frozen, so a
step is a fraction of a full one and words the KB never uses keep their meaning.

The tuned model is a normal sentence-transformers folder under `<index cache>/tuned/`, keyed by
the KB's questions and titles (not its answers), the base model id and the tuning parameters:
an unchanged KB never re-tunes, and an answer-only edit does not either. Seeded: the same KB,
base model and parameters give the same model (unless the time budget cut the run short).
Nothing is downloaded: the base model is a local folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import random
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .atomic import write_folder
from .kb import KnowledgeBase

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

log = logging.getLogger("retrieval.tuning")

TUNED_DIR = "tuned"     # under the index cache root
KEEP_TUNED = 2          # the model serving and the one replacing it (each ~90 MB)
META_FILE = "tuning.json"
_CODE_HASH = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]


class TuningCancelled(Exception):
    """A newer KB edit superseded this re-tune."""


@dataclass(frozen=True)
class TuningParams:
    """`tuning:` in config/retrieval.yml. Every field but `enabled`, `max_seconds` and `threads`
    enters the cache key (those three never change what a finished run produces)."""

    enabled: bool = False
    epochs: float = 4.0          # passes over the KB's (trained) phrasings as anchors
    max_steps: int = 80          # hard step budget (whichever of steps/seconds comes first)
    max_seconds: float = 120.0   # hard time budget: a slow machine gets a shorter tune, never a late one
    batch_size: int = 32         # pairs per step: 2 x 32 texts, 62 in-batch negatives per anchor
    learning_rate: float = 5e-5
    warmup: float = 0.1          # share of the steps with a linear warm-up
    scale: float = 20.0          # MNRL's inverse temperature
    train_layers: int = 3        # top transformer layers trained; the rest and the embeddings frozen
    holdout: int = 2             # every n-th phrasing of an entry with 3+ is not trained on (0 = none)
    max_seq_length: int = 64     # tokens per text while training (questions are short)
    seed: int = 13
    threads: int = 0             # torch threads while tuning; 0 = leave the process setting

    def key_fields(self) -> dict:
        return {k: v for k, v in asdict(self).items()
                if k not in ("enabled", "max_seconds", "threads")}

    @classmethod
    def from_dict(cls, raw: dict | None) -> TuningParams:
        """From the YAML mapping; unknown keys are an error that names the valid ones."""
        raw = dict(raw or {})
        types = {f.name: f.type for f in fields(cls)}
        unknown = set(raw) - set(types)
        if unknown:
            raise ValueError(f"tuning: unknown keys {sorted(unknown)} (known: {sorted(types)})")
        casts = {"bool": bool, "int": int, "float": float}
        return cls(**{k: casts[str(types[k])](v) for k, v in raw.items()})


@dataclass(frozen=True)
class TuningResult:
    path: Path               # the tuned model folder (sentence-transformers format)
    key: str
    reused: bool             # found in the cache, not tuned now
    seconds: float = 0.0     # tuning time of the run that made it
    steps: int = 0
    truncated: bool = False  # the time budget stopped it before max_steps


# ---- what the KB teaches ------------------------------------------------------------------------
def groups(kb: KnowledgeBase, holdout: int = 0) -> list[list[str]]:
    """Per entry (sorted by id), the distinct questions and title it is tuned on.

    With `holdout` n >= 2, every n-th phrasing of an entry that has 3 or more is left out: a
    model tuned on every phrasing makes the self-calibration's leave-one-out questions look
    easier than a shopper's (measured: the fusion then over-trusts it and top1 drops). Entries
    with a single text teach nothing and are skipped."""
    out = []
    for e in sorted(kb.entries, key=lambda e: e.id):
        texts = list(dict.fromkeys([*e.questions, e.title]))
        if holdout >= 2 and len(texts) >= 3:
            texts = [t for i, t in enumerate(texts) if i % holdout != holdout - 1]
        if len(texts) >= 2:
            out.append(texts)
    return out


def trained_texts(model_path: Path) -> frozenset[str]:
    """The phrasings a tuned model was trained on (self-calibration should hold them out)."""
    meta = _read_meta(Path(model_path)) or {}
    return frozenset(meta.get("trained", ()))


def questions_hash(kb: KnowledgeBase) -> str:
    """What tuning reads of a KB: ids, languages, questions and titles (answers do not count)."""
    h = hashlib.sha256()
    for e in sorted(kb.entries, key=lambda e: e.id):
        h.update(json.dumps([e.id, e.lang, list(e.questions), e.title], ensure_ascii=False).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def tuning_key(kb: KnowledgeBase, base_model_id: str, params: TuningParams) -> str:
    h = hashlib.sha256()
    for part in (questions_hash(kb), base_model_id, _CODE_HASH,
                 json.dumps(params.key_fields(), sort_keys=True)):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def key_for(kb: KnowledgeBase, embedder: object, params: TuningParams) -> str:
    """The tuning key of `embedder`'s sentence-transformers backend for this KB."""
    from .embedder import model_id

    return tuning_key(kb, model_id(Path(sentence_backend(embedder).path)), params)


def plan_steps(n_anchors: int, batch_size: int, params: TuningParams) -> int:
    return max(1, min(params.max_steps, math.ceil(params.epochs * n_anchors / batch_size)))


def batches(text_groups: list[list[str]], batch_size: int, steps: int,
            rng: random.Random) -> Iterator[tuple[list[str], list[str]]]:
    """(anchors, positives) per step. Every text is an anchor once per epoch, paired with another
    text of its entry; no entry twice in a batch (its second pair would be a false negative)."""
    anchors = [(g, i) for g, texts in enumerate(text_groups) for i in range(len(texts))]
    pending: list[tuple[int, int]] = []
    for _ in range(steps):
        batch: list[tuple[int, int]] = []
        used: set[int] = set()
        while len(batch) < batch_size:
            if not pending:
                pending = anchors[:]
                rng.shuffle(pending)
            rest = []
            for g, i in pending:
                if len(batch) < batch_size and g not in used:
                    batch.append((g, i))
                    used.add(g)
                else:
                    rest.append((g, i))
            # a batch left unfilled: the leftovers all belong to its entries, start a new epoch
            pending = rest if len(batch) == batch_size else []
        a, p = [], []
        for g, i in batch:
            texts = text_groups[g]
            a.append(texts[i])
            p.append(texts[rng.choice([j for j in range(len(texts)) if j != i])])
        yield a, p


# ---- the cache ------------------------------------------------------------------------------------
def tuned_root(cache_root: Path) -> Path:
    return Path(cache_root) / TUNED_DIR


def base_name(base_path: Path) -> str:
    from .embedder import default_model_path

    return "all-MiniLM-L6-v2" if base_path == default_model_path() else base_path.name


def _folder(cache_root: Path, base_path: Path, key: str) -> Path:
    # the key is in the folder name: `Embedder.id` is the folder name + a hash of config files,
    # which are the same for every tuned copy of one base model
    return tuned_root(cache_root) / f"{base_name(base_path)}-kb-{key}"


def cached(kb: KnowledgeBase, base_path: Path, params: TuningParams,
           cache_root: Path) -> TuningResult | None:
    """The tuned model for exactly this KB, base model and parameters, if it was made before."""
    from .embedder import model_id

    key = tuning_key(kb, model_id(base_path), params)
    folder = _folder(cache_root, base_path, key)
    meta = _read_meta(folder)
    if meta is None:
        return None
    os.utime(folder)  # recently used: kept by the pruning
    return TuningResult(folder, key, True, meta.get("seconds", 0.0), meta.get("steps", 0),
                        meta.get("truncated", False))


def latest(base_path: Path, cache_root: Path) -> Path | None:
    """The most recent tuned copy of this base model (any KB): what a hot reload encodes
    changed texts with while the re-tune for the new KB runs in the background."""
    root = tuned_root(cache_root)
    if not root.is_dir():
        return None
    found = [p for p in root.glob(f"{base_name(base_path)}-kb-*") if _read_meta(p) is not None]
    return max(found, key=lambda p: p.stat().st_mtime, default=None)


def _read_meta(folder: Path) -> dict | None:
    try:
        return json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _prune(cache_root: Path, keep: Path) -> None:
    folders = sorted((p for p in tuned_root(cache_root).iterdir()
                      if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in folders[KEEP_TUNED:]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
    for lock in tuned_root(cache_root).glob(".*.lock"):
        if time.time() - lock.stat().st_mtime > 86400:
            lock.unlink(missing_ok=True)


# ---- tuning ---------------------------------------------------------------------------------------
_TUNE_LOCK = threading.Lock()  # one tune at a time per process: two would share torch's threads


def tuned_model(kb: KnowledgeBase, base_path: str | os.PathLike, params: TuningParams,
                cache_root: Path, progress: bool = False,
                cancel: threading.Event | None = None) -> TuningResult | None:
    """The cached tuned model for this KB, else tune one now. None when the KB cannot teach
    anything (fewer than two entries with two phrasings: no pair has a negative)."""
    base_path = Path(base_path)
    hit = cached(kb, base_path, params, cache_root)
    if hit is not None:
        return hit
    text_groups = groups(kb, params.holdout)
    if len(text_groups) < 2:
        return None
    from .embedder import model_id

    key = tuning_key(kb, model_id(base_path), params)
    with _TUNE_LOCK, _file_lock(tuned_root(cache_root) / f".{key}.lock", cancel):
        hit = cached(kb, base_path, params, cache_root)  # another thread or process made it meanwhile
        if hit is not None:
            return hit
        return _tune(kb, text_groups, base_path, params, cache_root, progress, cancel)


@contextlib.contextmanager
def _file_lock(path: Path, cancel: threading.Event | None) -> Iterator[None]:
    """One tune per key across processes (gateway workers share the cache): the second waits,
    then finds the model made, instead of tuning it again and replacing a folder in use."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if cancel is not None and cancel.is_set():
                    raise TuningCancelled(path.name) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _tune(kb: KnowledgeBase, text_groups: list[list[str]], base_path: Path, params: TuningParams,
          cache_root: Path, progress: bool, cancel: threading.Event | None) -> TuningResult:
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from tqdm import tqdm

    from .embedder import model_id

    key = tuning_key(kb, model_id(base_path), params)
    t0 = time.perf_counter()
    batch_size = max(2, min(params.batch_size, len(text_groups)))
    steps = plan_steps(sum(len(g) for g in text_groups), batch_size, params)
    rng = random.Random(params.seed)
    with _torch_threads(params.threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(params.seed)
        model = SentenceTransformer(str(base_path), device="cpu", local_files_only=True)
        serving_length = model.max_seq_length
        model.max_seq_length = min(serving_length, params.max_seq_length)
        trainable = _freeze(model, params.train_layers)
        loss_fn = MultipleNegativesRankingLoss(model, scale=params.scale,
                                               directions=("query_to_doc", "doc_to_query"),
                                               partition_mode="per_direction")
        optimizer = torch.optim.AdamW(trainable, lr=params.learning_rate)
        warm = max(1, int(params.warmup * steps))
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
        model.train()
        done, truncated, losses = 0, False, []
        bar = tqdm(total=steps, desc="tuning the encoder", unit="step", disable=not progress)
        for anchors, positives in batches(text_groups, batch_size, steps, rng):
            if cancel is not None and cancel.is_set():
                bar.close()
                raise TuningCancelled(key)
            if time.perf_counter() - t0 > params.max_seconds:
                truncated = True
                log.warning("tuning stopped by its time budget (%.0f s) after %d of %d steps",
                            params.max_seconds, done, steps)
                break
            loss = loss_fn([model.preprocess(anchors), model.preprocess(positives)], None)
            loss.backward()
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
            done += 1
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
        bar.close()
        model.eval()
        model.max_seq_length = serving_length  # long shopper messages are read whole, as before
        seconds = round(time.perf_counter() - t0, 2)
        meta = {"key": key, "base_model": model_id(base_path), "questions_hash": questions_hash(kb),
                "params": params.key_fields(), "steps": done, "planned_steps": steps,
                "truncated": truncated, "seconds": seconds, "batch_size": batch_size,
                "loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None,
                "trained": sorted({t for g in text_groups for t in g})}
        folder = _folder(cache_root, base_path, key)
        _save_atomically(model, folder, meta)
    _prune(cache_root, keep=folder)
    log.info("encoder tuned on %d entries in %.1f s (%d steps): %s", len(text_groups), seconds, done,
             folder)
    return TuningResult(folder, key, False, seconds, done, truncated)


def _freeze(model, train_layers: int) -> list:
    """Trainable parameters: the top `train_layers` transformer layers (and what follows them),
    or everything for an architecture this does not recognise."""
    hf = getattr(model[0], "auto_model", None)
    layers = getattr(getattr(hf, "encoder", None), "layer", None)
    if hf is None or layers is None or not hasattr(hf, "embeddings"):
        return [p for p in model.parameters() if p.requires_grad]
    frozen = [hf.embeddings, *layers[:max(0, len(layers) - train_layers)]]
    for module in frozen:
        for p in module.parameters():
            p.requires_grad = False
    return [p for p in model.parameters() if p.requires_grad]


@contextlib.contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    if threads > 0:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _save_atomically(model, folder: Path, meta: dict) -> None:
    def fill(tmp: Path) -> None:
        model.save(str(tmp), create_model_card=False)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")

    write_folder(folder, fill)


# ---- the tuned encoder among the configured embedders -----------------------------------------------
def load_params(config: object) -> TuningParams:
    """The `tuning:` section of the file the RetrievalConfig was read from (off when absent)."""
    import yaml

    path = getattr(config, "path", None)
    if path is None or not Path(path).exists():
        return TuningParams()
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    try:
        return TuningParams.from_dict(data.get("tuning"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None


def sentence_backend(embedder: object):
    """The (first) sentence-transformers encoder: the one tuning replaces. None for e5 alone."""
    from .embedder import Embedder

    if isinstance(embedder, Embedder):
        return embedder
    return next((b for b in getattr(embedder, "backends", ()) if isinstance(b, Embedder)), None)


def is_tuned(embedder: object) -> bool:
    backend = sentence_backend(embedder)
    return backend is not None and (Path(backend.path) / META_FILE).exists()


def with_backend(embedder: object, old: object, new: object) -> object:
    """`embedder` with its sentence-transformers backend `old` replaced by `new`."""
    if embedder is old:
        return new
    from .embedders import MultiEmbedder

    return MultiEmbedder([new if b is old else b for b in embedder.backends])


_LOADED: dict[str, object] = {}   # tuned folder -> Embedder, most recent last
_LOADED_LOCK = threading.Lock()


def load_tuned(path: Path):
    """One Embedder per tuned folder (its text cache is what keeps a hot reload fast); only the
    two most recent stay in memory (the serving model and the one replacing it)."""
    from .embedder import Embedder

    key = str(Path(path).resolve())
    with _LOADED_LOCK:
        found = _LOADED.pop(key, None)
        if found is None:
            found = Embedder(key)
        _LOADED[key] = found
        while len(_LOADED) > KEEP_TUNED:
            _LOADED.pop(next(iter(_LOADED)))
        return found


def serving(kb: KnowledgeBase, embedder: object, params: TuningParams,
            cache_root: Path, current: object | None = None) -> tuple[object, bool]:
    """The embedder to serve `kb` with now, without tuning, and whether a re-tune is due: the
    tuned model for this KB if cached; else the tuned model serving so far (`current`), else the
    latest one on disk, else the base model (changed texts are then encoded by that model)."""
    base = sentence_backend(embedder)
    if not params.enabled or base is None or is_tuned(base):
        return embedder, False
    if len(groups(kb, params.holdout)) < 2:
        return embedder, False  # nothing to learn from: the base model
    hit = cached(kb, Path(base.path), params, cache_root)
    if hit is not None:
        return with_backend(embedder, base, load_tuned(hit.path)), False
    if current is not None and is_tuned(current):
        return with_backend(embedder, base, sentence_backend(current)), True
    previous = latest(Path(base.path), cache_root)
    if previous is not None:
        return with_backend(embedder, base, load_tuned(previous)), True
    return embedder, True


def prepare(kb: KnowledgeBase, embedder: object, config: object, cache_root: Path,
            policy: str = "auto", progress: bool = False) -> tuple[object, str]:
    """The embedder an index build uses, and how it was chosen (`off`, `cached`, `tuned`,
    `stale`, `untunable`). `auto` tunes now only when no tuned copy of the base model exists
    yet (a first build); otherwise it takes the latest one, and the long-lived service re-tunes
    in the background. `now` always waits for the model of this KB (eval, bench)."""
    if policy not in ("auto", "now", "off"):
        raise ValueError(f"tuning policy must be auto, now or off, not {policy!r}")
    params = load_params(config) if policy != "off" else TuningParams()
    base = sentence_backend(embedder)
    if not params.enabled or base is None or is_tuned(base):
        return embedder, "off"
    chosen, due = serving(kb, embedder, params, cache_root)
    if not due:
        return chosen, ("cached" if chosen is not embedder else "untunable")
    if policy == "auto" and chosen is not embedder:
        return chosen, "stale"
    result = tuned_model(kb, Path(base.path), params, cache_root, progress=progress)
    if result is None:
        return embedder, "untunable"
    return with_backend(embedder, base, load_tuned(result.path)), "tuned"


def embedder_for(model_ids: str, embedder: object, cache_root: Path) -> object:
    """The embedder an index folder was built with (`HybridIndex.model_id`): the base one, or
    with its sentence-transformers backend swapped for the tuned folder that id names."""
    base = sentence_backend(embedder)
    root = tuned_root(cache_root)
    for part in model_ids.split("+"):
        folder = root / part.split("@", 1)[0]
        if base is not None and (folder / META_FILE).exists():
            return with_backend(embedder, base, load_tuned(folder))
    return embedder
