"""Policy patterns compiled with RE2, a linear-time engine: no pattern can make a message take forever.

Python's ``re`` backtracks, so a pattern such as ``(\\w+\\s?)+\\d{6}$`` takes exponential time on a
150-byte text that almost matches and stalls a worker's partition. Every pattern a policy file brings
(custom recognizers, deny and allow lists) is compiled here instead; what RE2 cannot compile
(backreferences, lookaround) is refused when the policy is loaded, with the reason.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

try:  # Python's own regex parser (3.11+: re._parser)
    from re import _constants, _parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_constants as _constants  # type: ignore[no-redef]
    import sre_parse as _parser  # type: ignore[no-redef]

import re2

from pipeline.core.errors import ConfigError

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # the reason goes into the policy problem, not to stderr


class LinearPattern(Protocol):
    """What the policy uses of a compiled pattern (RE2's and ``re``'s share it)."""

    pattern: str

    def finditer(self, text: str) -> Any: ...

    def fullmatch(self, text: str) -> Any: ...

    def search(self, text: str) -> Any: ...


class PatternError(ConfigError):
    """A pattern RE2 cannot compile; the message says why (without the text it would match)."""

    reason = "policy-pattern"


def compile_linear(pattern: str) -> LinearPattern:
    """``pattern`` compiled by RE2; :class:`PatternError` when RE2 cannot take it, or when it nests one
    unbounded repetition in another (``(\\w+\\s?)+``): harmless under RE2, but the shape of every
    catastrophic-backtracking pattern, refused so a policy file stays safe in any engine it is taken to."""
    nested = _nested_repetition(pattern)
    if nested:
        raise PatternError(
            f"pattern nests an unbounded repetition inside another ({nested}): it backtracks exponentially in "
            "engines other than RE2; write the inner part so it cannot repeat on its own (for example "
            "(?:\\w+\\s)*\\w+ instead of (\\w+\\s?)+)"
        )
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else "unknown error"
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise PatternError(
            f"pattern does not compile with RE2, the linear-time engine policies use ({detail}); "
            "backreferences and lookaround are not supported: rewrite it without them"
        ) from None


def _nested_repetition(pattern: str) -> str | None:
    """Where ``pattern`` repeats, without bound, something that itself repeats without bound (None: nowhere).
    Read with Python's own parser; a pattern it cannot read is left to RE2 to judge."""
    try:
        tree = _parser.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return None
    return _find_nested(tree)


_REPEATS = (_constants.MAX_REPEAT, _constants.MIN_REPEAT, _constants.POSSESSIVE_REPEAT)


def _unbounded(arg: Any) -> bool:
    return arg[1] == _constants.MAXREPEAT or arg[1] > 1000


def _items(tree: Any) -> list[tuple[Any, Any]]:
    """A sequence with single groups unwrapped (``((a+))`` is ``a+``)."""
    items = list(tree)
    while len(items) == 1 and items[0][0] is _constants.SUBPATTERN:
        items = list(items[0][1][-1])
    return items


def _ambiguous(body: Any) -> bool:
    """A repeated body that can split one run of text many ways: it holds an unbounded repetition and
    everything else in it is optional (``\\w+\\s?``, ``a+``, ``(ab)*``)."""
    items = _items(body)
    inner = [item for item in items if item[0] in _REPEATS and _unbounded(item[1])]
    rest = [item for item in items if item not in inner]
    return bool(inner) and all(item[0] in _REPEATS and item[1][0] == 0 for item in rest)


def _find_nested(tree: Any, outer: bool = False) -> str | None:
    for op, arg in tree:
        if op in _REPEATS:
            if _unbounded(arg) and _ambiguous(arg[2]):
                return "a repeated group whose only required part is itself repeated"
            found = _find_nested(arg[2])
            if found:
                return found
        elif op is _constants.SUBPATTERN:
            found = _find_nested(arg[-1])
            if found:
                return found
        elif op is _constants.BRANCH:
            for branch in arg[1]:
                found = _find_nested(branch)
                if found:
                    return found
        elif op in (_constants.ASSERT, _constants.ASSERT_NOT):
            found = _find_nested(arg[1])
            if found:
                return found
    return None
