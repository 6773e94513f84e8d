"""`make train` / `python -m ops.train`: train the Rasa model only when `bot/` changed.

The fingerprint covers what shapes the model (config, domain, training data, custom
NLU components), not the actions: those run in the gateway and never need a retrain.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOT = ROOT / "bot"
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
MODEL = "bot"                                   # bot/models/bot.tar.gz
INPUTS = ("config.yml", "domain.yml", "data", "components", "evidence.yml")


def fingerprint(bot: Path = BOT) -> str:
    h = hashlib.sha256()
    for name in INPUTS:
        path = bot / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            if "__pycache__" in f.parts or not f.exists():
                continue
            h.update(str(f.relative_to(bot)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def model_path(bot: Path = BOT) -> Path:
    return bot / "models" / f"{MODEL}.tar.gz"


def up_to_date(bot: Path = BOT) -> bool:
    stamp = bot / "models" / f"{MODEL}.fingerprint"
    return model_path(bot).exists() and stamp.exists() and stamp.read_text().strip() == fingerprint(bot)


def train(bot: Path = BOT, rasa: Path = RASA, force: bool = False) -> Path:
    """Train if needed; returns the model path. Raises CalledProcessError on failure."""
    if not force and up_to_date(bot):
        print(f"==> bot model up to date ({model_path(bot).relative_to(bot.parent)})", flush=True)
        return model_path(bot)
    if not rasa.exists():
        sys.exit(f"{rasa} not found: run `make setup` first")
    print("==> training the bot (bot/ changed; about 2 minutes)", flush=True)
    start = time.monotonic()
    subprocess.run([str(rasa), "train", "--fixed-model-name", MODEL, "--out", "models", "--quiet"],
                   cwd=bot, check=True, env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"})
    (bot / "models" / f"{MODEL}.fingerprint").write_text(fingerprint(bot) + "\n")
    print(f"==> bot trained in {time.monotonic() - start:.0f} s", flush=True)
    return model_path(bot)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.train", description=__doc__)
    parser.add_argument("--force", action="store_true", help="train even if bot/ is unchanged")
    args = parser.parse_args(argv)
    try:
        train(force=args.force)
    except subprocess.CalledProcessError as exc:
        print(f"training failed (exit {exc.returncode}); see the output above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
