"""Policy patterns compiled with RE2, a linear-time engine: no pattern can make a message take forever.

Python's ``re`` backtracks, so a pattern such as ``(\\w+\\s?)+\\d{6}$`` takes exponential time on a
150-byte text that almost matches and stalls a worker's partition. Every pattern a policy file brings
(custom recognizers, deny and allow lists) is compiled here instead; what RE2 cannot compile
(backreferences, lookaround) is refused when the policy is loaded, with the reason.
"""

from __future__ import annotations

from typing import Any, Protocol

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
    """``pattern`` compiled by RE2; :class:`PatternError` when RE2 cannot take it."""
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
