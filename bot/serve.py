"""Start a Rasa server with its API token taken from the environment, never from the command line.

`rasa run --auth-token T` puts the token in the process's argv, which every local user reads
with `ps` or /proc/<pid>/cmdline. This launcher reads RASA_TOKEN and hands it to Rasa's own CLI
in-process (`sys.argv` is a Python copy: the kernel's view of argv stays token-free), so
everything else about `rasa run` is unchanged:

    cd bot && RASA_TOKEN=... ../.venv-rasa/bin/python serve.py run --enable-api --port 5005 ...

Run with the Rasa venv's Python (3.10); imports nothing from the gateway.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

TOKEN_ENV = "RASA_TOKEN"


def rasa_argv(args: list[str], environ: Mapping[str, str] = os.environ) -> list[str]:
    """Rasa's command line with the token appended; refuses a token given in argv or none at all."""
    if any(a == "--auth-token" or a.startswith("--auth-token=") for a in args):
        raise SystemExit(f"pass Rasa's API token in {TOKEN_ENV}, not --auth-token (argv is public)")
    token = (environ.get(TOKEN_ENV) or "").strip()
    if not token:
        raise SystemExit(f"{TOKEN_ENV} is not set: Rasa's API and the gateway channel need it")
    return ["rasa", *args, "--auth-token", token]


def main(args: list[str]) -> None:
    sys.argv = rasa_argv(args)
    from rasa.__main__ import main as rasa_main  # heavy (TensorFlow): only once the checks passed
    from rasa_patches import install  # beside this file (sys.path[0])

    install()

    rasa_main()


if __name__ == "__main__":
    main(sys.argv[1:])
