"""Table files: one rule per row of a CSV, for the 100,000 numbers a platform hosts.

A rule with `table: numbers.csv` stands for the rows of that file, tried in row order at the
rule's place in the rules file. The header names the columns: attribute names (an exact
match on that attribute; `ATTRIBUTE prefix` for a prefix; an empty cell sets no condition),
`use` (the row's profile, else the rule's), and optionally `name` (else `RULE:LINE`) and
`description`. The rule's own `when`, `set` and `enabled` apply to every row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import Code, Severity
from ..model import OUTCOME_KEYS, Rule
from ..parse.document import Path_
from ..parse.table import Table, TableProblem, read_table
from ..runtime.conditions import All, Always, Cond, Equals, Prefix, top_conditions
from ..runtime.outcome import Plan
from ..runtime.rule import CompiledRule
from ..runtime.sources import Source
from .outcomes import make_plan, profile_layers
from .state import Compiler

MAX_CELL = 4096
_SPREADSHEET_NUMBER = re.compile(r"^[0-9.]+[eE]\+?[0-9]+$")
_NOT_COLUMNS = (*OUTCOME_KEYS, "set", "when", "enabled", "extends")


@dataclass
class _Columns:
    """What the header says: where `name` and `use` are, and the attribute columns."""

    name: int = -1
    use: int = -1
    #: (column, its source, a prefix column)
    attributes: tuple[tuple[int, Source, bool], ...] = ()


def _column(header: str) -> tuple[str, bool]:
    """`sip.phoneNumber prefix` → (`sip.phoneNumber`, True): a column of prefixes; any other
    header is an attribute matched exactly."""
    attr, _, op = header.rpartition(" ")
    if attr.strip() and op.lower() == "prefix":
        return attr.strip(), True
    return header, False


def _at(
    c: Compiler,
    table: Table,
    code: Code,
    message: str,
    line: int,
    cell: int | None = None,
    *,
    help: str | None = None,
    severity: Severity = "error",
    span: int = 1,
) -> None:
    c.error(code, message, table.position(line, cell, span), help=help, severity=severity)


def expand_table(c: Compiler, rule: Rule, cond: Cond, path: Path_, own: list[Any]) -> None:
    """Add the rows of `rule.table` to the compiled rules; `own` is the rule's `set` layer."""
    table = _read(c, rule, path)
    if table is None:
        return
    c.tables[table.file] = table
    before = len(c.diagnostics)
    columns = _header(c, rule, table, path)
    if columns is None or c.reporter.has_errors(before):
        return
    base = () if isinstance(cond, Always) else top_conditions(cond)
    plans: dict[str | None, Plan] = {}
    names: dict[str, int] = {}
    for line, cells in table.rows:
        row = _row(c, rule, table, columns, base, line, cells, names)
        if row is None:
            continue
        name, conds, use = row
        names[name] = line
        plan = plans.get(use)
        if plan is None:
            layers = [("defaults", c.defaults), *profile_layers(c, use or ""), *own]
            plan = plans[use] = make_plan(c, layers)
        c.rules.append(
            CompiledRule(
                index=len(c.rules),
                name=name,
                line=line,
                cond=conds[0] if len(conds) == 1 else All(conds),
                plan=plan,
                enabled=rule.enabled,
                file=table.file,
                path=path,
                table_rule=rule.name,
            )
        )
    c.rule_lines.update(names)


def _read(c: Compiler, rule: Rule, path: Path_) -> Table | None:
    assert rule.table is not None
    data = c.read(rule.table, (*path, "table"), "the table")
    if data is None:
        return None
    try:
        return read_table(data, str(Path(c.doc.file).parent / rule.table))
    except TableProblem as problem:
        c.diagnostics.append(problem.diagnostic)
        return None


def _header(c: Compiler, rule: Rule, table: Table, path: Path_) -> _Columns | None:
    """Which column is what; None when the table has no attribute column."""
    columns = _Columns()
    attributes: list[tuple[int, Source, bool]] = []
    before = len(c.diagnostics)
    seen: set[str] = set()
    for i, col in enumerate(table.header):
        span = len(col)
        if col in seen:
            _at(
                c,
                table,
                Code.INVALID_FILE,
                f"the column `{col}` appears twice in the header",
                1,
                i,
                help="keep one of them",
                span=span,
            )
            continue
        seen.add(col)
        if not col:
            _at(
                c,
                table,
                Code.INVALID_FILE,
                f"column {i + 1} has no name",
                1,
                i,
                help="name each column: an attribute, `use`, `name` or `description`",
            )
        elif col == "name":
            columns.name = i
        elif col == "use":
            columns.use = i
        elif col == "description":
            continue
        elif col in _NOT_COLUMNS:
            _at(
                c,
                table,
                Code.UNKNOWN_KEY,
                f"`{col}` cannot be a table column",
                1,
                i,
                help="put the set-up in a profile and name it in the `use` column",
                span=span,
            )
        elif col in c.vocabulary.keywords:
            _at(
                c,
                table,
                Code.INVALID_CONDITION,
                f"`{col}` cannot be a table column: columns are attribute names",
                1,
                i,
                help=f"write `{col}` in the `when` of the rule that names the table",
                span=span,
            )
        else:
            attr, prefix = _column(col)
            where = table.position(1, i, span)
            source = c.attribute(attr, where, who=f"the table of rule `{rule.name}`")
            attributes.append((i, source, prefix))
    columns.attributes = tuple(attributes)
    if columns.name < 0 and columns.use < 0 and not attributes and len(c.diagnostics) == before:
        _at(c, table, Code.INVALID_FILE, "the header names no column", 1, 0)
    if not attributes:
        if len(c.diagnostics) == before:
            _at(
                c,
                table,
                Code.INVALID_CONDITION,
                "the table has no attribute column, so its rows would match every caller",
                1,
                0,
                help="name the attribute to match in the header, e.g. sip.trunkPhoneNumber",
            )
        return None
    return columns


def _cell_condition(
    c: Compiler, table: Table, source: Source, prefix: bool, value: str, line: int, i: int
) -> Cond | None:
    """One attribute cell as a condition (None after reporting why it cannot be one)."""
    if len(value) > MAX_CELL:
        _at(c, table, Code.INVALID_VALUE, f"the cell is longer than {MAX_CELL} characters", line, i)
        return None
    if _SPREADSHEET_NUMBER.match(value):
        _at(
            c,
            table,
            Code.INVALID_VALUE,
            f"`{value}` looks like a number a spreadsheet rewrote in scientific notation",
            line,
            i,
            help="format the column as text before exporting, and keep the leading `+`",
            span=len(value),
        )
        return None
    problem = source.literal_problem(value, prefix)
    if problem is not None:
        _at(c, table, problem.code, problem.message, line, i, help=problem.help, span=len(value))
        return None
    if prefix:
        return Prefix(source, (source.normalize_prefix(value),))
    return Equals(source, (source.normalize(value),))


def _row(
    c: Compiler,
    rule: Rule,
    table: Table,
    columns: _Columns,
    base: tuple[Cond, ...],
    line: int,
    cells: list[str],
    names: dict[str, int],
) -> tuple[str, list[Cond], str | None] | None:
    """One row: (its name, its conditions, its profile), or None after reporting."""
    width = len(table.header)
    if len(cells) > width:
        _at(
            c,
            table,
            Code.INVALID_FILE,
            f"this row has {len(cells)} cells; the header names {width} columns",
            line,
            width,
            help="remove the extra cells or quote text that contains a comma",
        )
        return None
    conds: list[Cond] = list(base)
    ok = True
    for i, source, prefix in columns.attributes:
        value = cells[i].strip() if i < len(cells) else ""
        if value:
            cond = _cell_condition(c, table, source, prefix, value, line, i)
            ok = ok and cond is not None
            if cond is not None:
                conds.append(cond)
    if not ok:
        return None
    if len(conds) == len(base):
        _at(
            c,
            table,
            Code.INVALID_CONDITION,
            "this row sets no attribute, so it would match every caller",
            line,
            columns.attributes[0][0],
            help="fill in at least one attribute cell, or delete the row",
        )
        return None
    chosen = _cell(cells, columns.use)
    use = chosen or rule.use
    if chosen is not None and chosen not in c.profile_names:
        c.unknown(
            Code.UNKNOWN_PROFILE,
            f"the row uses profile `{chosen}`, which is not defined",
            table.position(line, columns.use, len(chosen)),
            chosen,
            c.profile_names,
            "profiles",
        )
        return None
    name = _cell(cells, columns.name) or f"{rule.name}:{line}"
    first = names.get(name)
    if first is not None or name in c.rule_lines:
        where = f"line {first} of the table" if first is not None else f"line {c.rule_lines[name]}"
        _at(
            c,
            table,
            Code.DUPLICATE_RULE,
            f"two rules are named `{name}` (the first at {where})",
            line,
            max(columns.name, 0),
            help="give each row its own name: decisions and logs show it",
            span=len(name),
        )
        return None
    return name, conds, use


def _cell(cells: list[str], col: int) -> str | None:
    """The stripped text of column `col`, or None when there is no such cell or it is empty."""
    if 0 <= col < len(cells):
        return cells[col].strip() or None
    return None
