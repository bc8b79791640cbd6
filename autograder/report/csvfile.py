"""CSV files a person edits (a roster, ``manual_scores.csv``, ``overrides.csv``), read with the
line each row starts on, so that a message can say ``FILE:LINE: what is wrong``.

One reader for every such file: the course's export reads its rosters with it
(``course.roster``), and the report reads the TA's corrections (``report.corrections``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path


class CsvFileError(ValueError):
    """A CSV file a person edits is missing, unreadable or malformed; the message starts with
    ``FILE:LINE:`` (or ``FILE:`` when no line is to blame) so that it can be found and fixed."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line


# how a reader reports a problem: (file, line or None, what is wrong) -> the exception to raise
ErrorFactory = Callable[[Path, "int | None", str], Exception]


def csv_delimiter(first_line: str) -> str:
    """Commas, or semicolons where a spreadsheet writes them (Canvas' importer tells the two
    apart the same way: whichever splits the header into more fields)."""
    semicolons = len(next(csv.reader([first_line], delimiter=";"), []))
    return ";" if semicolons > len(next(csv.reader([first_line]), [])) else ","


def csv_rows(path: Path, error: ErrorFactory = CsvFileError) -> list[tuple[int, list[str]]]:
    """Every row of a CSV file with the line it starts on (a quoted cell may span lines). UTF-8
    with or without the byte-order mark a spreadsheet may write; the delimiter as
    ``csv_delimiter`` finds it. Problems are raised as ``error(path, line, message)``."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(path, None, "does not exist") from None
    except OSError as failure:
        raise error(path, None, f"cannot be read ({failure.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as failure:
        line = data[:failure.start].count(b"\n") + 1
        raise error(path, line, "is not UTF-8 text; save it as CSV UTF-8") from None
    delimiter = csv_delimiter(text.split("\n", 1)[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows = []
    start = 1
    try:
        for row in reader:
            rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as failure:
        raise error(path, start, f"is not valid CSV ({failure})") from None
    return rows
