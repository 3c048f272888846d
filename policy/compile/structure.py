"""Structure and types: pydantic validates each section, and its errors become
diagnostics in the project's words ("did you mean", "put it in quotes")."""

from __future__ import annotations

import typing
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import Code, did_you_mean
from ..parse.document import Path_
from .state import Compiler

M = TypeVar("M", bound=BaseModel)


def validate(c: Compiler, model: type[M], data: Any, path: Path_) -> M | None:
    """`data` as `model`, or None after reporting every problem pydantic found."""
    try:
        return model.model_validate(data, strict=True)
    except ValidationError as exc:
        seen: set[tuple[Any, ...]] = set()
        for err in exc.errors():
            loc = (*path, *err["loc"])
            if loc in seen:
                continue
            seen.add(loc)
            _report(c, model, err, loc, path)
        return None


def _fields_at(model: type[BaseModel], rel: tuple[Any, ...]) -> list[str]:
    """The keys allowed at `rel` inside `model` (for "did you mean")."""
    current: Any = model
    for part in rel:
        if isinstance(current, type) and issubclass(current, BaseModel):
            f = current.model_fields.get(str(part))
            if f is None:
                return []
            current = f.annotation
        else:
            args = [a for a in typing.get_args(current) if a is not type(None)]
            if typing.get_origin(current) in (list, dict) and args:
                current = args[-1]
            elif args:
                current = args[0]
            else:
                return []
        while not (isinstance(current, type) and issubclass(current, BaseModel)):
            args = [a for a in typing.get_args(current) if a is not type(None)]
            if not args or typing.get_origin(current) in (list, dict):
                break
            current = args[0]
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _where(path: tuple[Any, ...]) -> str:
    """A path in words: `rule 3`, `profile `vip``, `the file`."""
    if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
        return f"rule {path[1] + 1}" + (f" (`{'.'.join(map(str, path[2:]))}`)" if path[2:] else "")
    if len(path) >= 2 and path[0] == "profiles":
        return f"profile `{path[1]}`"
    return f"`{'.'.join(map(str, path))}`" if path else "the file"


def _report(
    c: Compiler, model: type[BaseModel], err: Any, loc: tuple[Any, ...], base: Path_
) -> None:
    kind = err["type"]
    field_name = str(loc[-1]) if loc else ""
    value = err.get("input")
    if kind == "extra_forbidden":
        allowed = _fields_at(model, tuple(loc[len(base) : -1]))
        hint = did_you_mean(field_name, allowed)
        if value is None and not hint and (" " in field_name or "," in field_name or len(loc) > 2):
            hint = "if this is the rest of a text that contains `, ` or `: `, put the whole text in quotes;"
        elif hint and len(loc) == 1 and hint[len("did you mean `") : -2] not in c.doc.key_at:
            hint += f" (the rest of the file was checked as if it said `{hint[14:-2]}:`)"
        c.error(
            Code.UNKNOWN_KEY,
            f"`{field_name}` is not a known key here",
            loc,
            key=True,
            help=(hint + " " if hint else "")
            + ("known keys: " + ", ".join(allowed) if allowed else ""),
        )
    elif kind == "missing":
        c.error(
            Code.MISSING_KEY,
            f"{_where(loc[:-1])} has no `{field_name}`",
            loc[:-1],
            help=f"add `{field_name}:`",
        )
    elif kind == "string_type" and field_name in ("use", "extends") and isinstance(value, list):
        names = [str(v) for v in value]
        first = names[0] if names else "support"
        c.error(
            Code.INVALID_VALUE,
            f"`{field_name}` names one profile, not a list",
            loc,
            help=f"write `{field_name}: {first}`; to combine profiles, make one `extends` the "
            f"other (profiles: {{{'-'.join(names) or 'both'}: {{extends: {first}, ...}}}})",
        )
    elif kind == "string_type":
        c.not_text(value, loc, f"`{field_name}`")
    elif kind in ("list_type",):
        c.error(
            Code.INVALID_VALUE,
            f"`{field_name}` must be a list",
            loc,
            help=f"write it as a list, e.g. {field_name}: [{value if isinstance(value, str) else 'a, b'}]",
        )
    elif kind in ("dict_type", "model_type", "model_attributes_type"):
        c.error(Code.INVALID_VALUE, f"`{field_name}` must be a mapping of `key: value`", loc)
    elif kind in ("bool_type", "bool_parsing"):
        c.error(Code.INVALID_VALUE, f"`{field_name}` must be true or false", loc)
    elif kind in ("int_type", "int_parsing"):
        c.error(Code.INVALID_VALUE, f"`{field_name}` must be a whole number", loc)
    else:
        c.error(Code.INVALID_VALUE, f"`{field_name}`: {err['msg'].lower()}", loc)
