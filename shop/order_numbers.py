"""Order numbers as shoppers type them, one format per platform (AL-123456, XKBKNABJK, #1001, 1234)."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class NumberFormat:
    """How a platform's order numbers look when shoppers type them.

    `pattern` matches one number as typed, its first group the significant part; `canonical`
    writes that part the platform's way ("{}" is the group, upper-cased)."""

    pattern: str
    canonical: str
    example: str
    find_any_case: bool = True  # False: in a sentence, only as typed in capitals (9-letter references)

    def normalise(self, text: str | None) -> str | None:
        """The platform's spelling of a typed number ("al 123456" -> "AL-123456"); None if not one."""
        match = re.fullmatch(rf"\s*{self.pattern}\s*", text or "", re.IGNORECASE)
        return self.canonical.format(match.group(1).upper()) if match else None

    def _in_text(self) -> re.Pattern[str]:
        """A number inside a sentence: not glued to a word, a '#' or a '-'."""
        return re.compile(rf"(?<![\w#-]){self.pattern}(?![\w-])", re.IGNORECASE if self.find_any_case else 0)

    def find(self, text: str | None) -> str | None:
        """The first order number anywhere in a message ("c'est la AL-482913 merci")."""
        match = self._in_text().search(text or "")
        return self.canonical.format(match.group(1).upper()) if match else None

    def find_marked(self, text: str | None) -> str | None:
        """The first order number of a message that cannot be anything else: a reference typed in
        capitals, or a number typed with its mark ("#1001", "AL-482913"). Bare digits ("2 pulls",
        a phone number, a postcode) are left for the bot to ask about, and so is a capital
        reference in a message typed all in capitals ("LIVRAISON EN RETARD": any word could be one)."""
        text = text or ""
        if not self.find_any_case and len(text.split()) > 1 and not any(c.islower() for c in text):
            return None
        for match in self._in_text().finditer(text):
            if not self.find_any_case or not match.group(0).strip().isdigit():
                return self.canonical.format(match.group(1).upper())
        return None

    def strip(self, text: str) -> str:
        """The message without its order numbers ("AL-482913 75002" -> " 75002")."""
        return self._in_text().sub(" ", text)


DEMO = NumberFormat(r"(?:AL)?[\s-]?(\d{6})", "AL-{}", "AL-123456")
