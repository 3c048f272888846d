"""Outcome plans: each rule's set-up merged once at load (defaults ← profile chain ← rule),
with instruction placeholders filled per decision as plain text, never as code."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from .context import Context
from .decision import Outcome
from .sources import Source

MAX_VALUE = 200
#: What one placeholder puts into instructions or a greeting by default: a name, a number,
#: a tier. A caller-controlled header cannot smuggle a paragraph of orders into the prompt;
#: `max_length:` on a declared attribute raises it .
PLACEHOLDER_LIMIT = 64

# Control characters, bidirectional overrides, zero-width and other invisible format
# characters (Unicode categories Cc and Cf, lone surrogates), variation selectors, fillers,
# and the tag characters U+E0000-E007F that smuggle invisible ASCII text to a model:
# removed from any caller value before it reaches a prompt.
_STRIP = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\xad\u034f\u0600-\u0605\u061c\u06dd\u070f"
    "\u0890\u0891\u08e2\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ud800-\udfff\ufe00-\ufe0f\ufeff\uffa0"
    "\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e007f\U000e0100-\U000e01ef]"
)
_SPACE = re.compile(r"[\t\n\r\u2028\u2029]+")


def clean(value: str, limit: int = MAX_VALUE) -> str:
    """A caller's value made safe to insert as data: no control, bidi or zero-width
    characters, newlines folded to spaces, at most `limit` characters."""
    if len(value) > limit * 4:
        value = value[: limit * 4]
    value = _STRIP.sub("", _SPACE.sub(" ", value))
    return value[:limit].strip()


@dataclass(frozen=True)
class Template:
    """Text with placeholders, split once at load into literal parts and sources."""

    #: literal text, or (source, fallback, the most characters the value may put in)
    parts: tuple[str | tuple[Source, str, int], ...]

    @property
    def static(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)

    def render(self, ctx: Context) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                source, fallback, limit = part
                value = source.get(ctx)
                cleaned = clean(value, limit) if value is not None else ""
                out.append(cleaned if cleaned else fallback)
        return "".join(out)

    @property
    def text(self) -> str:
        return "".join(p if isinstance(p, str) else "" for p in self.parts)

    def lines(self) -> tuple[str | Template, ...]:
        """The text line by line: a line without a placeholder as its text, a line with one
        as a template of its own. Worked out once, at load."""
        out: list[str | Template] = []
        current: list[str | tuple[Source, str, int]] = []

        def close() -> None:
            if all(isinstance(p, str) for p in current):
                out.append("".join(p for p in current if isinstance(p, str)))
            else:
                out.append(Template(tuple(current)))

        for part in self.parts:
            if isinstance(part, str):
                first, *rest = part.split("\n")
                current.append(first)
                for line in rest:
                    close()
                    current = [line]
            else:
                current.append(part)
        close()
        return tuple(out)


class Plan:
    """A rule's (or the defaults') resolved outcome: everything but the text, as one
    `Outcome` made at load (`base`, which says where each field came from), and the
    instructions and greeting as templates filled per decision."""

    __slots__ = ("_fixed", "_lines", "base", "greeting", "instructions")

    def __init__(
        self, base: Outcome, instructions: Template | None = None, greeting: Template | None = None
    ) -> None:
        self.instructions = instructions or Template(())
        self.greeting = greeting
        #: the instructions line by line (text, or a template for a line with a placeholder)
        self._lines = self.instructions.lines()
        static = "\n".join(x for x in self._lines if isinstance(x, str))
        self.base = replace(base, instructions="", greeting=None, instructions_static=static)
        #: the whole outcome, when no placeholder needs the caller's data
        self._fixed: Outcome | None = None
        if self.instructions.static and (greeting is None or greeting.static):
            text = greeting.text if greeting is not None else None
            self._fixed = self.base.with_text(self.instructions.text, "", text)

    def render(self, ctx: Context) -> Outcome:
        if self._fixed is not None:
            return self._fixed
        greeting = self.greeting.render(ctx) if self.greeting is not None else None
        lines = [x if isinstance(x, str) else x.render(ctx) for x in self._lines]
        call = "\n".join(
            r for x, r in zip(self._lines, lines, strict=True) if not isinstance(x, str)
        )
        return self.base.with_text("\n".join(lines), call, greeting)
