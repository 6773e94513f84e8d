"""The ground floor shared by every package: Redis helpers and key names, PII masking, texts.

Imports nothing else from the project (tests/test_layers.py)."""
