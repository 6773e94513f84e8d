"""CSV for spreadsheets, safe from formula injection.

A manager opens the dashboard's CSV exports in Excel or LibreOffice, and some cells hold what
shoppers typed (survey comments, questions the FAQ missed). A cell starting with `=`, `+`, `-`,
`@`, a tab or a carriage return is read as a formula there (`=HYPERLINK(...)` leaks data,
`=cmd|...` runs commands through DDE). OWASP's advice: prefix such a text cell with a single quote,
which spreadsheets show as text. Numbers stay numbers, also written as text ("-12.5"), and so
does the lone "-" the analytics use for "unknown": neither can hold a formula.

French Excel reads `;` as the separator and `,` as the decimal mark, and guesses the encoding
unless the file starts with a UTF-8 BOM: the `excel-fr` dialect writes that, `plain` writes
standard CSV (`,` and `.`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

# The OWASP list, plus the full-width forms some spreadsheet locales turn into their ASCII twins.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
PLAIN_NUMBER = re.compile(r"[-+]?[\d., ]*", re.ASCII)


def safe_cell(value: Any) -> Any:
    """The value as a spreadsheet will show it, never evaluate it: text that could start a
    formula gets a leading `'`; numbers, booleans and None pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


DIALECTS = ("excel-fr", "plain")


def _french_number(value: Any) -> Any:
    """12.5 -> "12,5" (a real number only: booleans and text stay as they are)."""
    if isinstance(value, float) and not isinstance(value, bool):
        return repr(value).replace(".", ",")
    return value


def csv_text(header: Sequence[Any], rows: Iterable[Sequence[Any]], dialect: str = "plain") -> str:
    """A CSV document (header first) with every cell passed through `safe_cell`: the one place
    the exports are written, so no table can forget it. `dialect`: "plain" or "excel-fr"."""
    if dialect not in DIALECTS:
        raise ValueError(f"dialect must be one of {', '.join(DIALECTS)}")
    french = dialect == "excel-fr"
    buffer = io.StringIO()
    if french:
        buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";" if french else ",")
    cell = (lambda c: safe_cell(_french_number(c))) if french else safe_cell
    writer.writerow([safe_cell(c) for c in header])
    writer.writerows([cell(c) for c in row] for row in rows)
    return buffer.getvalue()
