"""Content warnings for editors: questions that two entries both claim.

Two entries answering the same question means the bot picks one at random;
`check` flags near-identical phrasings (accent- and case-insensitive
character n-gram similarity) so the editor keeps one.
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from .kb import KnowledgeBase, Problem, problem
from .text import fold

SIMILARITY = 0.9
CHUNK = 2000


def near_duplicates(kb: KnowledgeBase, threshold: float = SIMILARITY) -> list[Problem]:
    rows = [(e, q) for e in kb.entries for q in e.questions]
    if len(rows) < 2:
        return []
    texts = [fold(q) for _, q in rows]
    matrix = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).fit_transform(texts).tocsr()
    langs = np.array([e.lang for e, _ in rows])
    entry_ids = np.array([e.id for e, _ in rows])
    found: list[Problem] = []
    for start in range(0, len(rows), CHUNK):
        sims = (matrix[start:start + CHUNK] @ matrix.T).toarray()
        for i_local, row in enumerate(sims):
            i = start + i_local
            for j in np.flatnonzero(row >= threshold):
                if j <= i or entry_ids[i] == entry_ids[j] or langs[i] != langs[j]:
                    continue
                (a, qa), (b, qb) = rows[i], rows[j]
                found.append(problem(a.path, 1, "near_duplicate", "warning", question=qa, entry=a.id,
                                     other_question=qb, other_entry=b.id, other_path=b.path))
    return found
