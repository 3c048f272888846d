"""rules.yaml → validated, compiled `Policy`, with every problem reported at once.

The pipe: `policy.parse` reads the text with positions; then the stages below run in this
order on one `Compiler`, each reading what the ones before left; then the `Policy` is built
from the result. Each stage reports every problem it finds and carries on, so one load shows
them all; the load fails when any stage reported an error.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import Code, Diagnostic, Location, PolicyError
from ..parse.document import Document, YamlProblem, decode, parse
from ..runtime.engine import Policy
from .outcomes import check_placeholders, compile_defaults, compile_profiles
from .realtime import warn_realtime
from .rules import compile_rules
from .schedules import compile_schedules
from .sections import check_tools, check_top, compile_attributes, compile_settings, compile_tools
from .state import Compiler
from .typography import check_quotes
from .unreachable import warn_unreachable
from .vocabulary import VOCABULARY

Stage = Callable[[Compiler], None]

#: The compile stages, in the order they run.
STAGES: tuple[Stage, ...] = (
    check_top,  # a mapping, `version`, the top-level keys
    check_quotes,  # values wrapped in curly quotes
    compile_settings,  # `settings:` (regions checked as countries)
    compile_attributes,  # `attributes:` declared by the file
    compile_tools,  # `tools:` the worker registers
    compile_schedules,  # `schedules:`
    compile_defaults,  # `defaults:`, and the plan of callers no rule matches
    compile_profiles,  # `profiles:`, `extends` chains and cycles
    compile_rules,  # `rules:`: structure, `when`, outcome plans, table rows
    check_placeholders,  # every `{{ name }}` names something known
    warn_realtime,  # `turn_detection: realtime_llm` without a realtime LLM
    check_tools,  # every tool named is declared under `tools:`
    warn_unreachable,  # rules an earlier rule always catches (when there are no errors)
)


def compile_document(doc: Document, base_dir: Path, content_hash: str) -> Policy:
    """Run the stages on a parsed document; raises `PolicyError` with every diagnostic."""
    c = Compiler(doc=doc, base_dir=base_dir, vocabulary=VOCABULARY)
    for stage in STAGES:
        stage(c)
    if c.reporter.has_errors():
        raise PolicyError(c.diagnostics)
    assert c.default_plan is not None
    return Policy(
        rules=c.rules,
        default=c.default_plan,
        revision=_revision(content_hash, c.digests),
        path=Path(doc.file),
        files=(Path(doc.file), *dict.fromkeys(c.files)),
        warnings=tuple(sorted(c.diagnostics, key=Diagnostic.sort_key)),
        settings=c.settings,
        declared=c.declared,
        kinds=frozenset(c.kinds),
        declared_tools=None if c.declared_tools is None else frozenset(c.declared_tools),
    )


def _revision(content_hash: str, digests: dict[Path, bytes]) -> str:
    """The rules' content hash combined with every referenced file's, in reading order."""
    h = hashlib.sha256(content_hash.encode())
    for digest in digests.values():
        h.update(digest)
    return h.hexdigest()[:12]


def loads(text: str, *, file: str = "rules.yaml", base_dir: str | Path | None = None) -> Policy:
    """Compile rules from text; `file` names it in diagnostics, `base_dir` resolves files."""
    content_hash = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    with _gc_paused():
        try:
            doc = parse(text, file)
        except YamlProblem as problem:
            raise PolicyError(problem.diagnostics) from None
        return compile_document(
            doc, Path(base_dir) if base_dir else Path(file).resolve().parent, content_hash
        )


def load(path: str | Path) -> Policy:
    """Load, validate and compile a rules file. Raises `PolicyError` with every problem."""
    p = Path(path)
    where = Location(str(p))
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise PolicyError.single(
            Code.MISSING_FILE,
            f"the rules file `{p}` does not exist",
            where,
            help="pass the path of your rules.yaml",
        ) from None
    except OSError as exc:
        raise PolicyError.single(
            Code.MISSING_FILE, f"the rules file `{p}` cannot be read: {exc.strerror}", where
        ) from None
    too_large = _too_large(len(raw), where)
    if too_large is not None:
        raise too_large
    try:
        text = decode(raw, str(path))
    except YamlProblem as problem:
        raise PolicyError(problem.diagnostics) from None
    return loads(text, file=str(path), base_dir=p.resolve().parent)


#: Rules files load at about a second per MiB (tables many times faster): past this many
#: MiB the load is refused with advice. `SIP_POLICY_MAX_RULES_MB` raises it.
MAX_RULES_MB = 2.0


def _too_large(size: int, where: Location) -> PolicyError | None:
    try:
        limit = float(os.environ.get("SIP_POLICY_MAX_RULES_MB", MAX_RULES_MB))
    except ValueError:
        limit = MAX_RULES_MB
    if size <= limit * 1024 * 1024:
        return None
    return PolicyError.single(
        Code.FILE_TOO_LARGE,
        f"the rules file is {size / (1024 * 1024):.1f} MiB; files over {limit:g} MiB load "
        "slowly (about a second per MiB) and are refused",
        where,
        help="move the per-number rules into a table file (`table: numbers.csv`, one row per "
        "number), which loads many times faster; or raise the limit with "
        "SIP_POLICY_MAX_RULES_MB",
    )


_gc_lock = threading.Lock()
_gc_loads = 0
_gc_was_enabled = False


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a load builds its many small objects (it
    rescans them all again and again: loads take 2-3 times longer at 100,000 rules).
    Counted, so loads in several threads at once turn it back on only when the last one
    ends, and only if it was on; reference counting frees memory as usual meanwhile."""
    global _gc_loads, _gc_was_enabled
    with _gc_lock:
        if _gc_loads == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_loads += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_loads -= 1
            if _gc_loads == 0 and _gc_was_enabled:
                gc.enable()


__all__ = ["STAGES", "compile_document", "load", "loads"]
