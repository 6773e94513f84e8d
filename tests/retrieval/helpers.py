"""Small helpers shared by the retrieval tests (KB files, CLI runs, polling)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KB_SMALL = REPO / "tests" / "fixtures" / "kb_small"
NET_LOG_ENV = "RETRIEVAL_TEST_NET_LOG"


def entry_md(id: str = "sample-entry", lang: str = "en", reason: str = "returns/process",
             questions: Iterable[str] = ("How do I return an item?", "Can I send it back?"),
             answer: str = "Print the free label from your account.", extra: str = "") -> str:
    """A valid entry in the KB format (README, "For FAQ editors"); `extra` is inserted as more
    front matter lines."""
    qs = "".join(f'  - "{q}"\n' for q in questions)
    return (f"---\nid: {id}\nlang: {lang}\nreason: {reason}\nquestions:\n{qs}{extra}---\n"
            f"{answer}\n")


def write_kb(root: Path, files: dict[str, str | bytes], taxonomy: str | None = None) -> Path:
    """Write a KB folder: {relative path: text or raw bytes}, optional taxonomy.yml."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    if taxonomy is not None:
        (root / "taxonomy.yml").write_text(taxonomy, encoding="utf-8")
    return root


def copy_kb_small(dest: Path) -> Path:
    shutil.copytree(KB_SMALL, dest)
    return dest


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under root with its size and mtime (ns)."""
    if not root.exists():
        return {}
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.stat()
        out[str(p.relative_to(root))] = (st.st_size if p.is_file() else -1, st.st_mtime_ns)
    return out


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def run_cli(args: list[str], env: dict[str, str], cwd: Path = REPO,
            timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m retrieval ARGS` exactly as outside tools call it, under the network guard."""
    proc = subprocess.run([sys.executable, "-m", "retrieval", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    log = Path(env[NET_LOG_ENV])
    attempts = log.read_text(encoding="utf-8") if log.exists() else ""
    assert not attempts, f"`retrieval {args[0]}` tried to reach the network:\n{attempts}"
    return proc


def cli_env(base: dict[str, str], pythonpath: list[Path], **extra: str | os.PathLike) -> dict[str, str]:
    env = dict(base)
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in pythonpath)
    env.update({k: str(v) for k, v in extra.items()})
    return env
