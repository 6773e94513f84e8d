"""The packages' imports run one way: a lower layer never imports a higher one.

The import graph is read from the source with `ast` (every `import` and `from ... import`,
relative ones resolved, those inside functions too), so a new upward import fails here
before it reaches a reviewer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# package -> the project packages it may import (its own always allowed), lowest first
ALLOWED: dict[str, set[str]] = {
    "kit": set(),                                    # Redis conventions, key names, PII, texts
    "retrieval": {"kit"},                            # the FAQ engine
    "shop": {"kit"},                                 # the shop's configuration, calendar, orders
    "analytics": {"kit", "shop", "retrieval"},       # events, roll-ups, reports
    "handoff": {"kit", "shop", "analytics"},         # the help desk: agents, queue, tickets
    "conversation": {"kit", "shop", "analytics", "retrieval", "handoff"},  # the conversation core
    "bot": {"kit", "shop", "analytics", "retrieval", "handoff", "conversation"},  # Rasa's actions
    "mail": {"kit", "shop", "analytics", "retrieval", "handoff", "conversation"},  # the e-mail channel
    "editor": {"kit", "retrieval", "analytics"},     # the FAQ studio: drafts, impact, history
    "gateway": {"kit", "shop", "analytics", "retrieval", "handoff", "conversation", "bot", "mail", "editor"},
    "ops": {"kit"},                                  # processes: Redis, Rasa, the gateway, training
}
TOOLS = {"bench"}   # benchmarks drive the whole stack, like the tests
PROJECT = set(ALLOWED) | TOOLS | {"tests"}


def _module(path: Path) -> list[str]:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def imports(path: Path) -> set[str]:
    """Top-level project packages imported by one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module = _module(path)
    package = module if path.name == "__init__.py" else module[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.add(name.split(".")[0])
    return found & PROJECT


def violations() -> list[str]:
    out = []
    for package, allowed in ALLOWED.items():
        for path in sorted((REPO / package).rglob("*.py")):
            for imported in sorted(imports(path) - allowed - {package}):
                out.append(f"{path.relative_to(REPO)} imports {imported}")
    return out


def test_every_package_is_in_the_rule_table() -> None:
    packages = {p.parent.name for p in REPO.glob("*/__init__.py")} - {"tests"}
    assert packages == set(ALLOWED) | TOOLS, "add the new package to ALLOWED with its place in the layers"


def test_imports_run_one_way() -> None:
    assert violations() == []


def test_nothing_but_tools_and_tests_import_the_gateway() -> None:
    assert all("gateway" not in allowed for name, allowed in ALLOWED.items() if name != "gateway")


@pytest.mark.parametrize("source, expected", [
    ("from gateway.app import create_app\n", {"gateway"}),
    ("def f():\n    import conversation.router\n", {"conversation"}),
    ("from ..sibling import helper\n", {"kit"}),
    ("from . import keys\n", {"kit"}),
    ("import numpy\nfrom redis import Redis\n", set()),
])
def test_the_graph_sees_every_kind_of_import(tmp_path: Path, source: str, expected: set[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The checker itself: absolute, relative and function-level imports are all seen."""
    monkeypatch.setattr(f"{__name__}.REPO", tmp_path)
    path = tmp_path / "kit" / "sub" / "mod.py"
    path.parent.mkdir(parents=True)
    path.write_text(source)
    assert imports(path) == expected
