"""The FAQ studio's engine: entries edited as their markdown files (the single source of truth),
checked and measured against a draft index before they are published, with their history.

Layer: above the FAQ engine (retrieval) and the analytics it reads recent questions from;
the gateway serves it (`/studio`, `/api/editor/...`).
"""
