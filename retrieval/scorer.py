"""Fuses the index's signals into one probability that an entry is the right answer.

The fusion is a logistic regression over a dozen signals and margins, trained at
build time on the KB's own questions (see calibration.py), so its weights fit
each KB instead of being tuned by hand. The single-signal modes exist to
measure what the fusion adds (bench and tests compare them).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit
from sklearn.preprocessing import StandardScaler

from .index import NEG, Signals

MODES = ("hybrid", "dense", "bm25")
N_CANDIDATES = 10
FEATURES = (
    "dense", "centroid", "answer", "char", "bm25", "bm25_answer", "char_answer", "clf", "clf_emb",
    "wv_mean", "wv_soft", "dense_margin", "char_margin", "bm25_margin", "centroid_margin",
    "clf_margin", "clf_emb_margin", "wv_soft_margin", "oov", "short_query", "unknown",
)
PER_MODEL = ("dense", "centroid", "answer", "dense_margin", "centroid_margin")
# Signals whose weight may only lower the score (words the KB never uses); the query length is
# free; every other column is a similarity or a margin, which may only raise it
DECREASING = ("oov", "unknown")
FREE = ("short_query",)


def monotone_signs(names: tuple[str, ...]) -> np.ndarray:
    """+1: the weight is >= 0, -1: <= 0, 0: free."""
    return np.array([0 if n in FREE else -1 if n in DECREASING else 1 for n in names])


class MonotoneLogistic:
    """L2-regularised logistic regression whose weights keep the sign each signal implies.

    An unconstrained fit learns negative weights for raw similarity (collinear with the
    margins, and the held-out questions it trains on never match a KB phrasing exactly), so
    a question typed word for word as the KB has it scored *lower* than a rephrasing. With
    the signs fixed, more similar can never mean less confident."""

    def __init__(self, signs: np.ndarray, C: float = 0.1):
        self.signs, self.C = signs, C

    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None):
        scaler = StandardScaler().fit(X)
        self.mean_, self.scale_ = scaler.mean_, scaler.scale_   # applied by hand: cheaper per query
        Z = (X - self.mean_) / self.scale_
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        s = np.where(y > 0, 1.0, -1.0)

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            coef, b = theta[:-1], theta[-1]
            m = s * (Z @ coef + b)
            value = -np.sum(w * log_expit(m)) + 0.5 * coef @ coef / self.C
            g = -w * s * expit(-m)
            return value, np.append(Z.T @ g + coef / self.C, g.sum())

        bounds = [(0, None) if sg > 0 else (None, 0) if sg < 0 else (None, None) for sg in self.signs]
        res = minimize(loss, np.zeros(Z.shape[1] + 1), jac=True, method="L-BFGS-B",
                       bounds=bounds + [(None, None)], options={"maxiter": 2000})
        self.coef_, self.intercept_ = res.x[:-1], res.x[-1]
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = expit(((X - self.mean_) / self.scale_) @ self.coef_ + self.intercept_)
        return np.stack([1 - p, p], axis=1)


def feature_names(n_models: int) -> tuple[str, ...]:
    """Column names of `features`: the shared ones, then each embedder's own (with 2+ embedders)."""
    if n_models < 2:
        return FEATURES
    return FEATURES + tuple(f"{name}@{m}" for m in range(n_models) for name in PER_MODEL)


def _margin(values: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """How far each candidate is above the best *other* entry on one signal."""
    order = np.argsort(values)[::-1][:2]
    best, second = values[order[0]], values[order[1]] if len(order) > 1 else NEG
    return np.where(cand == order[0], values[cand] - second, values[cand] - best)


def prelim(sig: Signals) -> np.ndarray:
    """Cheap candidate-generation score: the three unit-level signals summed."""
    return sig.dense + sig.char + sig.bm25


def candidates(sig: Signals, k: int = N_CANDIDATES) -> np.ndarray:
    score = prelim(sig)
    valid = np.flatnonzero(sig.dense > NEG)
    if len(valid) == 0:
        return valid
    k = min(k, len(valid))
    top = valid[np.argpartition(-score[valid], k - 1)[:k]]
    top = top[np.argsort(-score[top])]
    # the classifier sees what the unit-level signals miss: add its own top 3
    own = [valid[np.argsort(-sig.per_model[i][valid])[:3]] for i in range(0, len(sig.per_model), 3)]
    by_clf = np.concatenate([valid[np.argsort(-sig.clf[valid])[:3]],
                             valid[np.argsort(-sig.clf_emb[valid])[:3]],
                             valid[np.argsort(-sig.wv_soft[valid])[:3]], *own])
    extra = np.unique(by_clf[~np.isin(by_clf, top)])
    return np.concatenate([top, extra]) if len(extra) else top


def features(sig: Signals, cand: np.ndarray) -> np.ndarray:
    cols = [
        sig.dense[cand], sig.centroid[cand], sig.answer[cand], sig.char[cand], sig.bm25[cand],
        sig.bm25_answer[cand], sig.char_answer[cand], sig.clf[cand], sig.clf_emb[cand],
        sig.wv_mean[cand], sig.wv_soft[cand],
        _margin(sig.dense, cand), _margin(sig.char, cand), _margin(sig.bm25, cand),
        _margin(sig.centroid, cand), _margin(sig.clf, cand), _margin(sig.clf_emb, cand),
        _margin(sig.wv_soft, cand),
        np.full(len(cand), sig.oov), np.full(len(cand), 1.0 / (1 + sig.n_tokens)),
        np.full(len(cand), sig.unknown),
    ]
    for i in range(0, len(sig.per_model), 3):   # each embedder's own dense, centroid, answer
        dense, centroid, answer = sig.per_model[i:i + 3]
        cols += [dense[cand], centroid[cand], answer[cand], _margin(dense, cand), _margin(centroid, cand)]
    assert len(cols) == len(feature_names(len(sig.per_model) // 3))  # names the columns, in order
    return np.stack(cols, axis=1).astype(np.float32)


class Scorer:
    """Ranks candidates; `hybrid` uses the fitted fusion, other modes one raw signal."""

    def __init__(self, mode: str = "hybrid", models: dict | None = None):
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r} (choose from {', '.join(MODES)})")
        self.mode = mode
        # language -> fitted fusion; "*" serves languages with too few questions of their own
        self.models = models or {}

    @staticmethod
    def fit_model(X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None):
        names = feature_names(max(1, (X.shape[1] - len(FEATURES)) // len(PER_MODEL)))
        return MonotoneLogistic(monotone_signs(names)).fit(X, y, sample_weight)

    def model_for(self, lang: str):
        return self.models.get(lang) or self.models["*"]

    def rank(self, sig: Signals, lang: str) -> tuple[np.ndarray, np.ndarray]:
        """Candidate entry indexes and their scores, best first."""
        if self.mode == "dense":
            score_all = sig.dense
        elif self.mode == "bm25":
            score_all = sig.bm25
        else:
            score_all = None
        if score_all is not None:
            valid = np.flatnonzero(sig.dense > NEG)
            order = valid[np.argsort(-score_all[valid], kind="stable")][:N_CANDIDATES]
            return order, score_all[order].astype(np.float64)
        cand = candidates(sig)
        if len(cand) == 0:
            return cand, np.zeros(0)
        proba = self.model_for(lang).predict_proba(features(sig, cand))[:, 1]
        order = np.argsort(-proba, kind="stable")
        return cand[order], proba[order]
