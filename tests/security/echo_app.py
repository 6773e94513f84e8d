"""A minimal ASGI app for tests/security/test_server_config.py: it answers with the client
address uvicorn gives the application, so the test sees exactly what the gateway's login guard
and rate limits would see, under the server options `make run` uses."""

from __future__ import annotations

import json
from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = json.dumps({"client": (scope.get("client") or ["", 0])[0]}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
