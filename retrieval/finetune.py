"""Contrastive fine-tuning of the embedding model on the KB's own questions.

The default model is small and English-centric: it knows little French and
nothing of a shop's vocabulary. A few minutes on the CPU teaching it that the
phrasings of one entry belong together (and, through shopper-like noisy copies,
that typos and missing accents do not matter) lifts accuracy more than any
hand-tuned rule. SetFit-style: in-batch negatives (MultipleNegativesRanking
loss), no labels beyond the KB itself, no download.
"""

from __future__ import annotations

import random
import zlib
from pathlib import Path

import torch
from tqdm import tqdm

from .calibration import noisy

SCALE = 20.0


def _pairs(groups: list[list[str]], rng: random.Random) -> list[tuple[str, str, int]]:
    """(anchor, positive, group) pairs: every phrasing, clean and noisy, with a sibling."""
    pairs = []
    for g, texts in enumerate(groups):
        if len(texts) < 2:
            continue
        for i, text in enumerate(texts):
            others = texts[:i] + texts[i + 1:]
            pairs.append((text, rng.choice(others), g))
            pairs.append((noisy(text, random.Random(zlib.crc32(text.encode()) + rng.random())),
                          rng.choice(others), g))
    return pairs


def _batches(pairs: list[tuple[str, str, int]], size: int) -> list[list[tuple[str, str, int]]]:
    """Batches where no two pairs share a group, so in-batch negatives are true negatives."""
    batches: list[list[tuple[str, str, int]]] = []
    pending = list(pairs)
    while pending:
        batch, used, rest = [], set(), []
        for p in pending:
            if len(batch) < size and p[2] not in used:
                batch.append(p)
                used.add(p[2])
            else:
                rest.append(p)
        if len(batch) < 2:
            break
        batches.append(batch)
        pending = rest
    return batches


def finetune(base: Path, groups: list[list[str]], out: Path, epochs: int = 2, batch_size: int = 32,
             lr: float = 4e-5, max_steps: int = 400, seed: int = 7, progress: bool = False) -> Path:
    """Fine-tune the model at `base` so texts of the same group embed close; save to `out`."""
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = SentenceTransformer(str(base), device="cpu", local_files_only=True)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    steps = []
    for _ in range(epochs):
        pairs = _pairs(groups, rng)
        rng.shuffle(pairs)
        steps.extend(_batches(pairs, batch_size))
    steps = steps[:max_steps]
    loss_fn = torch.nn.CrossEntropyLoss()
    for batch in tqdm(steps, desc="fine-tuning the model on the KB", unit="step", disable=not progress):
        anchors = model.tokenize([a for a, _, _ in batch])
        positives = model.tokenize([p for _, p, _ in batch])
        a = model(anchors)["sentence_embedding"]
        p = model(positives)["sentence_embedding"]
        logits = SCALE * a @ p.T
        labels = torch.arange(len(batch))
        loss = (loss_fn(logits, labels) + loss_fn(logits.T, labels)) / 2
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out))
    return out
