"""The one action vocabulary: what a policy rule, a schema tag or the free-text policy asks for.

Every action has exactly one operator in :data:`pipeline.core.transform.operators.OPERATORS`, which
declares the PHI types it accepts and checks a pairing (``validate``); policy files, Avro schema tags,
the formats' value protector and the free-text engine all dispatch through that table, so an action
the table does not know fails at load, never at run time and never as ``keep``.
"""

from __future__ import annotations

from enum import StrEnum

#: Other spellings accepted when a policy is read (the free-text policy once said ``shift``).
_ALIASES = {"shift": "date-shift", "date_shift": "date-shift"}


class Action(StrEnum):
    """What to do with one value. Values are stable strings used in policies, schema tags and outputs."""

    KEEP = "keep"
    REDACT = "redact"
    GENERALIZE = "generalize"
    TOKENIZE = "tokenize"
    ENCRYPT = "encrypt"
    DATE_SHIFT = "date-shift"
    SURROGATE = "surrogate"
    DETECT = "detect"

    @classmethod
    def parse(cls, text: str) -> Action:
        """The action a policy or tag names (case-insensitive, ``shift`` for ``date-shift``); raises
        :class:`ValueError` naming the choices."""
        word = text.strip().lower()
        try:
            return cls(_ALIASES.get(word, word))
        except ValueError:
            raise ValueError(f"unknown action {text!r}; one of: {', '.join(a.value for a in cls)}") from None
