"""Table files: one rule per row of a CSV, for the 100,000 numbers a platform hosts.

A rule with `table: numbers.csv` stands for the rows of that file, tried in row order at the
rule's place in the rules file. The header names the columns: attribute names (an exact
match on that attribute; an empty cell sets no condition), `use` (the row's profile, else
the rule's), and optionally `name` (else `RULE:LINE`) and `description`. The rule's own
`when`, `set` and `enabled` apply to every row.

Reading a table is a plain CSV scan, no YAML and no pydantic per row, so 100,000 rows load
in a fraction of a second; every problem still points at `numbers.csv:LINE:COL`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .conditions import All, Always, Cond, Equals, Prefix
from .engine import CompiledRule, top_conditions
from .errors import Diagnostic, Location
from .model import OUTCOME_KEYS
from .outcome import Plan
from .source import Path_
from .sources import Source

if TYPE_CHECKING:
    from .loader import Compiler
    from .model import Rule

MAX_TABLE_BYTES = 64 * 1024 * 1024
MAX_CELL = 4096
RESERVED = ("name", "use", "description")
_SPREADSHEET_NUMBER = re.compile(r"^[0-9.]+[eE]\+?[0-9]+$")


@dataclass
class Table:
    """A CSV file read with positions: header, rows as (line, cells), the raw lines."""

    file: str
    header: list[str]
    rows: list[tuple[int, list[str]]]
    lines: list[str]


class TableProblem(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def _column(header: str) -> tuple[str, bool]:
    """`sip.phoneNumber prefix` → (`sip.phoneNumber`, True): a column of prefixes; any other
    header is an attribute matched exactly."""
    attr, _, op = header.rpartition(" ")
    if attr.strip() and op.lower() == "prefix":
        return attr.strip(), True
    return header, False


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


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

    def problem(code: str, message: str, line: int = 1, help: str | None = None) -> TableProblem:
        return TableProblem(Diagnostic(code, message, Location(file, line, 1), help=help))

    if len(data) > MAX_TABLE_BYTES:
        raise problem(
            "file-too-large",
            f"the table is {len(data) // (1024 * 1024)} MiB; the limit is "
            f"{MAX_TABLE_BYTES // (1024 * 1024)} MiB",
            help="split it into several tables, each referred to by its own rule",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise problem(
            "invalid-file",
            f"the table is not UTF-8 text (byte {exc.start})",
            line,
            help="export the spreadsheet as CSV UTF-8",
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    nul = text.find("\x00")
    if nul >= 0:
        raise problem("invalid-file", "the table contains a NUL byte", _line_of(text, nul))
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
            "invalid-file",
            f"the table is not valid CSV: {str(exc).lower()}",
            reader.line_num,
            help="check the quotes on this line",
        ) from None
    if header is None:
        raise problem(
            "invalid-file",
            "the table is empty",
            help="the first line names the columns, e.g. sip.trunkPhoneNumber,use",
        )
    return Table(file=file, header=header, rows=rows, lines=lines)


class _Reporter:
    """Diagnostics located in the table file."""

    def __init__(self, c: Compiler, table: Table) -> None:
        self.c = c
        self.table = table

    def at(
        self,
        code: str,
        message: str,
        line: int,
        cell: int | None = None,
        *,
        help: str | None = None,
        severity: str = "error",
        span: int = 1,
    ) -> None:
        text = self.table.lines[line - 1] if 0 < line <= len(self.table.lines) else None
        col = cell_column(text, cell) if text is not None and cell is not None else 1
        self.c.diagnostics.append(
            Diagnostic(
                code,
                message,
                Location(self.table.file, line, col),
                severity=severity,  # type: ignore[arg-type]
                help=help,
                source_line=text,
                span=max(span, 1),
            )
        )


def expand_table(
    c: Compiler,
    rule: Rule,
    cond: Cond,
    path: Path_,
    first_index: int,
    names: dict[str, int],
    plan_for: Callable[[str | None], Plan],
    profiles: list[str],
) -> list[CompiledRule]:
    """The rows of `rule.table` as compiled rules, numbered from `first_index`."""
    from .loader import did_you_mean  # the loader imports this module lazily

    assert rule.table is not None
    tpath = (*path, "table")
    file = (c.base_dir / rule.table).resolve()
    shown = str(Path(c.doc.file).parent / rule.table)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        c.error(
            "missing-file",
            f"the table `{rule.table}` does not exist",
            tpath,
            help=f"create it beside the rules file (looked for {file})",
        )
        return []
    except OSError as exc:
        c.error("missing-file", f"the table `{rule.table}` cannot be read: {exc.strerror}", tpath)
        return []
    c.referenced(file, data)
    try:
        table = read_table(data, shown)
    except TableProblem as problem:
        d = problem.diagnostic
        line = d.location.line
        lines = data.decode("utf-8", "replace").split("\n")
        c.diagnostics.append(
            Diagnostic(
                d.code,
                d.message,
                d.location,
                help=d.help,
                source_line=lines[line - 1] if 0 < line <= len(lines) else None,
            )
        )
        return []
    report = _Reporter(c, table)
    before = len(c.diagnostics)

    # -- the header: which column is what ------------------------------------------------
    from .loader import KEYWORDS

    name_col = use_col = -1
    attr_cols: list[tuple[int, Source, bool]] = []  # column, its source, a prefix column
    normalizers: list[Callable[[str], str] | None] = []
    seen: dict[str, int] = {}
    for i, col in enumerate(table.header):
        if col in seen:
            report.at(
                "invalid-file",
                f"the column `{col}` appears twice in the header",
                1,
                i,
                help="keep one of them",
                span=len(col),
            )
            continue
        seen[col] = i
        if not col:
            report.at(
                "invalid-file",
                f"column {i + 1} has no name",
                1,
                i,
                help="name each column: an attribute, `use`, `name` or `description`",
            )
        elif col == "name":
            name_col = i
        elif col == "use":
            use_col = i
        elif col == "description":
            pass
        elif col in OUTCOME_KEYS or col in ("set", "when", "enabled", "extends"):
            report.at(
                "unknown-key",
                f"`{col}` cannot be a table column",
                1,
                i,
                help="put the set-up in a profile and name it in the `use` column",
                span=len(col),
            )
        elif col in KEYWORDS:
            report.at(
                "invalid-condition",
                f"`{col}` cannot be a table column: columns are attribute names",
                1,
                i,
                help=f"write `{col}` in the `when` of the rule that names the table",
                span=len(col),
            )
        else:
            attr, prefix = _column(col)
            mark = len(c.diagnostics)
            source = c.attribute(attr, tpath)
            for k in range(mark, len(c.diagnostics)):  # relocate to the header cell
                d = c.diagnostics[k]
                text = table.lines[0] if table.lines else None
                c.diagnostics[k] = Diagnostic(
                    d.code,
                    d.message.replace(f"rule `{c.rule_name}`", f"the table of rule `{rule.name}`"),
                    Location(table.file, 1, cell_column(text or "", i)),
                    severity=d.severity,
                    help=d.help,
                    source_line=text,
                    span=len(col),
                )
            attr_cols.append((i, source, prefix))
            normalizers.append(getattr(source, "normalize_prefix" if prefix else "normalize", None))
    if name_col < 0 and use_col < 0 and not attr_cols and len(c.diagnostics) == before:
        report.at("invalid-file", "the header names no column", 1, 0)
    if not attr_cols:
        if len(c.diagnostics) == before:
            report.at(
                "invalid-condition",
                "the table has no attribute column, so its rows would match every caller",
                1,
                0,
                help="name the attribute to match in the header, e.g. sip.trunkPhoneNumber",
            )
        return []
    if len(c.diagnostics) > before and any(d.is_error for d in c.diagnostics[before:]):
        return []

    # -- the rows -------------------------------------------------------------------------
    base = () if isinstance(cond, Always) else top_conditions(cond)
    plans: dict[str | None, Plan] = {}
    known = set(profiles)
    width = len(table.header)
    out: list[CompiledRule] = []
    index = first_index
    rule_use = rule.use
    file_names: dict[str, int] = {}
    for line, cells in table.rows:
        if len(cells) > width:
            report.at(
                "invalid-file",
                f"this row has {len(cells)} cells; the header names {width} columns",
                line,
                width,
                help="remove the extra cells or quote text that contains a comma",
            )
            continue
        conds: list[Cond] = list(base)
        ok = True
        for (i, source, prefix), norm in zip(attr_cols, normalizers, strict=True):
            value = cells[i].strip() if i < len(cells) else ""
            if not value:
                continue
            if len(value) > MAX_CELL:
                report.at(
                    "invalid-value", f"the cell is longer than {MAX_CELL} characters", line, i
                )
                ok = False
                continue
            if _SPREADSHEET_NUMBER.match(value):
                report.at(
                    "invalid-value",
                    f"`{value}` looks like a number a spreadsheet rewrote in scientific notation",
                    line,
                    i,
                    help="format the column as text before exporting, and keep the leading `+`",
                    span=len(value),
                )
                ok = False
                continue
            check = getattr(source, "literal_problem", None)
            trouble = check(value, prefix) if check is not None else None
            if trouble is not None:
                report.at(
                    "bad-phone-prefix" if prefix else "bad-phone-number",
                    trouble[0],
                    line,
                    i,
                    help=trouble[1],
                    span=len(value),
                )
                ok = False
                continue
            literal = norm(value) if norm else value
            conds.append(Prefix(source, (literal,)) if prefix else Equals(source, (literal,)))
        if not ok:
            continue
        if len(conds) == len(base):
            report.at(
                "invalid-condition",
                "this row sets no attribute, so it would match every caller",
                line,
                attr_cols[0][0],
                help="fill in at least one attribute cell, or delete the row",
            )
            continue
        use: str | None = rule_use
        if use_col >= 0 and use_col < len(cells) and cells[use_col].strip():
            use = cells[use_col].strip()
            if use not in known:
                hint = did_you_mean(use, profiles)
                listed = (
                    "profiles: " + ", ".join(profiles)
                    if profiles
                    else "define it under `profiles:`"
                )
                report.at(
                    "unknown-profile",
                    f"the row uses profile `{use}`, which is not defined",
                    line,
                    use_col,
                    help=f"{hint} {listed}" if hint else listed,
                    span=len(use),
                )
                ok = False
        if not ok:
            continue
        name = f"{rule.name}:{line}"
        if name_col >= 0 and name_col < len(cells) and cells[name_col].strip():
            name = cells[name_col].strip()
        first = file_names.get(name)
        if first is not None or name in names:
            where = f"line {first} of the table" if first is not None else f"line {names[name]}"
            report.at(
                "duplicate-rule",
                f"two rules are named `{name}` (the first at {where})",
                line,
                name_col if name_col >= 0 else 0,
                help="give each row its own name: decisions and logs show it",
                span=len(name),
            )
            continue
        file_names[name] = line
        plan = plans.get(use)
        if plan is None:
            plan = plans[use] = plan_for(use)
        out.append(
            CompiledRule(
                index=index,
                name=name,
                line=line,
                cond=conds[0] if len(conds) == 1 else All(conds),
                plan=plan,
                enabled=rule.enabled,
                file=table.file,
                path=path,
            )
        )
        index += 1
    names.update(file_names)
    return out


__all__ = ["Table", "TableProblem", "cell_column", "expand_table", "read_table"]
