"""The figures of a run of scripted conversations: per conversation, per turn, false handoffs,
traps, and by tag."""

from __future__ import annotations

from collections import defaultdict

from .runner import DialogueResult

TARGET_RIGHT = 0.95
TARGET_FALSE_HANDOFF = 0.01


def figures(results: list[DialogueResult]) -> dict[str, float | int]:
    turns = [t for r in results for t in r.turns]
    n = max(len(results), 1)
    return {
        "conversations": len(results),
        "conversations_right": sum(r.right for r in results),
        "conversation_success": round(sum(r.right for r in results) / n, 3),
        "turns": len(turns),
        "turn_success": round(sum(not t.wrong for t in turns) / max(len(turns), 1), 3),
        "false_handoffs": sum(t.false_handoff for t in turns),
        "false_handoff_rate": round(sum(t.false_handoff for t in turns) / max(len(turns), 1), 4),
        "trapped": sum(r.trapped for r in results),
        "errors": sum(bool(r.error) for r in results),
    }


def render(results: list[DialogueResult], *, verbose: bool = False) -> str:
    f = figures(results)
    lines = ["## Scripted conversations (bench/dialogues, real gateway + Rasa)", "",
             "| measure | value | target |", "|---|---|---|",
             f"| conversations fully right | {f['conversations_right']}/{f['conversations']} = "
             f"**{f['conversation_success']:.1%}** | >= {TARGET_RIGHT:.0%} |",
             f"| turns right | {f['turn_success']:.1%} of {f['turns']} | |",
             f"| false handoffs | {f['false_handoffs']} = **{f['false_handoff_rate']:.2%}** of turns | "
             f"<= {TARGET_FALSE_HANDOFF:.0%} |",
             f"| conversations trapped in a form | **{f['trapped']}** | 0 |"]
    if f["errors"]:
        lines.append(f"| conversations that could not run | {f['errors']} | 0 |")
    by_tag: dict[str, list[bool]] = defaultdict(list)
    for r in results:
        for tag in r.dialogue.tags or ("untagged",):
            by_tag[tag].append(r.right)
    lines += ["", "| tag | right |", "|---|---|"]
    lines += [f"| {tag} | {sum(v)}/{len(v)} |" for tag, v in sorted(by_tag.items())]
    wrong = [r for r in results if not r.right or r.trapped]
    if wrong:
        lines += ["", "Conversations not fully right:", ""]
    for r in wrong:
        lines.append(f"- `{r.dialogue.id}` ({r.dialogue.source}, {r.dialogue.situation})"
                     + (f": {r.error}" if r.error else "") + (" TRAPPED" if r.trapped else ""))
        lines += played(r, only_wrong=not verbose)
    return "\n".join(lines)


def played(result: DialogueResult, *, only_wrong: bool = False) -> list[str]:
    """One line per turn: what the shopper said, what the bot did, what was wrong."""
    return [f"  {'x' if t.wrong else ' '} {n}. {t.say[:70]!r} -> {t.outcome.summary()}"
            + (f"  [{'; '.join(t.wrong)}]" if t.wrong else "")
            for n, t in enumerate(result.turns, 1) if t.wrong or not only_wrong]
