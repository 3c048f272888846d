"""Strict CSV with positions, for table files (`table: numbers.csv`).

Reading a table is a plain CSV scan, no YAML and no pydantic per row, so 100,000 rows load
in a fraction of a second; every problem still points at `numbers.csv:LINE:COL` with the
line shown under it. What the columns mean is `policy.compile.tables`' business.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from ..errors import Code, Diagnostic, Position

MAX_TABLE_BYTES = 64 * 1024 * 1024


@dataclass
class Table:
    """A CSV file read with positions: header, rows as (line, cells), the raw lines."""

    file: str
    header: list[str]
    rows: list[tuple[int, list[str]]]
    lines: list[str]

    def position(self, line: int, cell: int | None = None, span: int = 1) -> Position:
        """Where cell `cell` of `line` starts (column 1 without a cell), with that line."""
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else None
        col = cell_column(text, cell) if text is not None and cell is not None else 1
        return Position.in_lines(self.lines, self.file, line, col, span)


class TableProblem(Exception):
    """A table no row of which can be read; holds the diagnostic."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def cell_column(line: str, index: int) -> int:
    """1-based column where cell `index` starts in one CSV line (quotes respected)."""
    col = 0
    quoted = False
    cell = 0
    for pos, ch in enumerate(line):
        if cell == index:
            return pos + 1
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            cell += 1
            col = pos + 1
    return col + 1 if cell == index else len(line) + 1


def read_table(data: bytes, file: str) -> Table:
    """Decode and split a CSV table; raises TableProblem on what no row can survive."""
    shown = data.decode("utf-8", "replace").split("\n")

    def problem(code: Code, message: str, line: int = 1, help: str | None = None) -> TableProblem:
        return TableProblem(
            Diagnostic.at(Position.in_lines(shown, file, line, 1), code, message, help=help)
        )

    if len(data) > MAX_TABLE_BYTES:
        raise problem(
            Code.FILE_TOO_LARGE,
            f"the table is {len(data) // (1024 * 1024)} MiB; the limit is "
            f"{MAX_TABLE_BYTES // (1024 * 1024)} MiB",
            help="split it into several tables, each referred to by its own rule",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise problem(
            Code.INVALID_FILE,
            f"the table is not UTF-8 text (byte {exc.start})",
            line,
            help="export the spreadsheet as CSV UTF-8",
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise problem(Code.INVALID_FILE, "the table contains a NUL byte", line)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    try:
        for cells in reader:
            start = reader.line_num
            if header is None:
                if not any(c.strip() for c in cells):
                    continue
                header = [c.strip() for c in cells]
                continue
            if any(cells):
                rows.append((start, cells))
    except csv.Error as exc:
        raise problem(
            Code.INVALID_FILE,
            f"the table is not valid CSV: {str(exc).lower()}",
            reader.line_num,
            help="check the quotes on this line",
        ) from None
    if header is None:
        raise problem(
            Code.INVALID_FILE,
            "the table is empty",
            help="the first line names the columns, e.g. sip.trunkPhoneNumber,use",
        )
    return Table(file=file, header=header, rows=rows, lines=lines)
