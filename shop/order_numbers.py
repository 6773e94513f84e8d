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

    def find(self, text: str | None) -> str | None:
        """The first order number anywhere in a message ("c'est la AL-482913 merci")."""
        flags = re.IGNORECASE if self.find_any_case else 0
        match = re.search(rf"(?<![\w#-]){self.pattern}(?![\w-])", text or "", flags)
        return self.canonical.format(match.group(1).upper()) if match else None

    def strip(self, text: str) -> str:
        """The message without its order numbers ("AL-482913 75002" -> " 75002")."""
        flags = re.IGNORECASE if self.find_any_case else 0
        return re.sub(rf"(?<![\w#-]){self.pattern}(?![\w-])", " ", text, flags=flags)


DEMO = NumberFormat(r"(?:AL)?[\s-]?(\d{6})", "AL-{}", "AL-123456")
