"""`python -m tests.ops.fake_stack JSON`: ops.run's real main() with tiny fake children.

Exercises the real lock, embedded Redis, supervisor, signals and banner without
the retrieval/gateway code. JSON keys: var_dir, gateway_port, scenario
("ok" | "crash" | "step-fails" | "not-ready"), grandchild (bool), stop_timeout,
ready_timeout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ops.run import ChildFactory, Config, main
from ops.supervisor import Child, HttpReady

WEB = """
import http.server, os, sys, redis
r = redis.Redis.from_url(os.environ["REDIS_URL"])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path == "/readyz" and r.ping() and sys.argv[2] != "not-ready"
        self.send_response(200 if ok else 503)
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
print("fake gateway listening", flush=True)
server.serve_forever()
"""

WORKER = """
import subprocess, sys, time
if sys.argv[2] == "1":
    subprocess.Popen(["sleep", "600"])  # a grandchild: must die with the group
print("worker up", flush=True)
if sys.argv[1] == "crash":
    time.sleep(0.5)
    print("worker: fatal error", flush=True)
    sys.exit(3)
time.sleep(600)
"""

STUBBORN = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ignoring SIGTERM", flush=True)
time.sleep(600)
"""


def fake_children(scenario: str, grandchild: bool) -> ChildFactory:
    def build(config: Config, redis_url: str) -> list[Child]:
        py = sys.executable
        step_code = 2 if scenario == "step-fails" else 0
        return [
            Child(
                "index",
                [py, "-c", f"print('building index'); raise SystemExit({step_code})"],
                oneshot=True,
            ),
            Child(
                "web",
                [py, "-c", WEB, str(config.gateway_port), scenario],
                env={"REDIS_URL": redis_url},
                ready=HttpReady(f"{config.gateway_url}/readyz"),
                timeout=config.ready_timeout,
            ),
            Child("worker", [py, "-c", WORKER, scenario, "1" if grandchild else "0"]),
            Child("stubborn", [py, "-c", STUBBORN]),
        ]

    return build


if __name__ == "__main__":
    opts = json.loads(sys.argv[1])
    config = Config(
        var_dir=Path(opts["var_dir"]),
        gateway_port=int(opts["gateway_port"]),
        redis_port=0,
        ready_timeout=float(opts.get("ready_timeout", 20.0)),
        stop_timeout=float(opts.get("stop_timeout", 1.0)),
    )
    factory = fake_children(opts.get("scenario", "ok"), bool(opts.get("grandchild", False)))
    sys.exit(main(config=config, children=factory))
