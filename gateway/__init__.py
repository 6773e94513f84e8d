"""The FastAPI gateway: HTTP edge of the support bot (search API, probes, metrics, channels)."""
