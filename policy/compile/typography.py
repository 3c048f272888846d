"""What word processors and web pages do to text: curly quotes that YAML keeps as part of
the value (`“true”` is eight characters, not `true`)."""

from __future__ import annotations

from ..errors import Code
from .state import Compiler

OPENING = "“‘„‚«"
CLOSING = "”’“‘»"


def check_quotes(c: Compiler) -> None:
    """A plain value wrapped in curly quotes: YAML does not see quotes, so they stay in the
    text and the value never equals what the editor meant."""
    for path, scalar in c.doc.scalars.items():
        text = scalar.text
        if scalar.quoted or len(text) < 2 or text[0] not in OPENING or text[-1] not in CLOSING:
            continue
        inner = text[1:-1]
        c.error(
            Code.CURLY_QUOTES,
            f"`{text}` is in curly quotes, which YAML keeps as part of the text",
            path,
            help=f'use straight quotes: "{inner}" (turn off "smart quotes" in your editor)',
        )
