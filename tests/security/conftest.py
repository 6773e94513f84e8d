"""Security tests: each reproduces an attack of issue 14 against the real components.

The gateway fixtures (app factory on the session Redis and the small KB index) are shared
with tests/gateway."""

from __future__ import annotations

from tests.gateway.conftest import *  # noqa: F403

