"""A synthetic KB of any size, for speed and memory figures (not for accuracy)."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

VERBS = ("return", "cancel", "track", "change", "repair", "replace", "order", "pay for", "clean",
         "assemble", "exchange", "insure", "ship", "collect", "register", "renew", "upgrade",
         "install", "activate", "transfer", "recycle", "rent", "book", "reserve", "refund", "resize",
         "paint", "wrap", "deliver", "measure", "protect", "store", "wash", "fold", "hang", "mount",
         "charge", "unlock", "reset", "configure")
ADJECTIVES = ("blue", "wooden", "large", "vintage", "outdoor", "leather", "glass", "cotton", "steel",
              "linen", "small", "folding", "ceramic", "woollen", "marble", "bamboo", "velvet", "rattan",
              "oak", "copper", "brass", "wicker", "silk", "stone", "smart", "cordless", "electric",
              "portable", "round", "square")
NOUNS = ("sofa", "lamp", "rug", "table", "chair", "mirror", "shelf", "curtain", "cushion", "vase",
         "bed", "desk", "wardrobe", "stool", "bench", "clock", "frame", "basket", "blanket", "duvet",
         "pillow", "candle", "plate", "bowl", "glass", "jug", "tray", "lantern", "planter", "hook",
         "drawer", "cabinet", "sideboard", "armchair", "ottoman", "headboard", "mattress", "towel",
         "napkin", "tablecloth", "doormat", "screen", "pouf", "bookcase", "trolley", "coat rack",
         "umbrella stand", "photo album", "wall light", "ceiling fan")
TEMPLATES = ("How do I {v} my {a} {n}?", "Can I {v} the {a} {n} I bought?", "{v} {a} {n}",
             "I want to {v} a {a} {n}, what should I do?", "Is it possible to {v} a {a} {n}?",
             "What is the procedure to {v} my {a} {n}?", "help with how to {v} {a} {n} please",
             "Who can help me {v} the {a} {n}?", "Do you {v} {a} {n}s?",
             "Where can I {v} my {a} {n} quickly?")


def write_kb(folder: Path, n_entries: int = 1000, seed: int = 5) -> Path:
    """Write `n_entries` entries with 10 questions each (English, no taxonomy)."""
    rng = random.Random(seed)
    combos = list(itertools.product(VERBS, ADJECTIVES, NOUNS))
    rng.shuffle(combos)
    folder.mkdir(parents=True, exist_ok=True)
    for i, (v, a, n) in enumerate(combos[:n_entries]):
        questions = "\n".join(f'  - "{t.format(v=v, a=a, n=n)}"' for t in TEMPLATES)
        (folder / f"entry-{i:05d}.md").write_text(
            f"---\nid: entry-{i:05d}\nlang: en\nreason: synthetic/{v.replace(' ', '-')}\n"
            f"questions:\n{questions}\n---\nTo {v} your {a} {n}, open **My account**, choose the "
            f"order and follow the steps for {n}s. It takes {rng.randint(2, 10)} business days.\n",
            encoding="utf-8")
    return folder


def write_queries(kb_folder: Path, out: Path, n: int = 5000, seed: int = 9) -> Path:
    """`n` eval queries for a synthetic KB: noisy copies of its questions, 10 % out of scope."""
    import csv

    from retrieval.kb import load_kb
    from retrieval.text import noisy

    rng = random.Random(seed)
    entries = load_kb(kb_folder).entries
    with out.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["query", "expected_id", "lang"])
        for i in range(n):
            if i % 10 == 9:
                w.writerow([f"what time does the {rng.choice(NOUNS)} museum open on sunday", "", "en"])
                continue
            e = rng.choice(entries)
            w.writerow([noisy(rng.choice(e.questions), rng), e.id, "en"])
    return out
