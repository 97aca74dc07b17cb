"""The one action vocabulary: what a policy rule, a schema tag or the free-text policy asks for.

Every action has exactly one operator in :data:`pipeline.core.transform.operators.OPERATORS`, which
declares the PHI types it accepts and checks a pairing (``validate``); policy files, Avro schema tags,
the formats' value protector and the free-text engine all dispatch through that table, so an action
the table does not know fails at load, never at run time and never as ``keep``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

#: Other spellings accepted when a policy is read (the free-text policy once said ``shift``; Microsoft's
#: FHIR anonymizer writes ``cryptoHash`` and ``dateShift``).
_ALIASES = {
    "shift": "date-shift",
    "date_shift": "date-shift",
    "dateshift": "date-shift",
    "cryptohash": "crypto-hash",
    "crypto_hash": "crypto-hash",
}

#: One parameter value as a policy file or a schema tag gives it, after its operator checked it.
ParamValue = str | int | float


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
    MASK = "mask"
    CRYPTO_HASH = "crypto-hash"
    SUBSTITUTE = "substitute"
    PERTURB = "perturb"

    @classmethod
    def parse(cls, text: str) -> Action:
        """The action a policy or tag names (case-insensitive, ``shift`` for ``date-shift``); raises
        :class:`ValueError` naming the choices."""
        word = text.strip().lower()
        try:
            return cls(_ALIASES.get(word, word))
        except ValueError:
            raise ValueError(f"unknown action {text!r}; one of: {', '.join(a.value for a in cls)}") from None


@dataclass(frozen=True, slots=True)
class ActionParams:
    """An action's parameters (``keep_last=4``), checked by its operator when the policy or tag is read;
    a pair tuple so that rules stay hashable and comparable."""

    items: tuple[tuple[str, ParamValue], ...] = ()

    @classmethod
    def of(cls, values: Mapping[str, ParamValue]) -> ActionParams:
        return cls(tuple(sorted(values.items())))

    def get(self, name: str, default: ParamValue | None = None) -> ParamValue | None:
        for key, value in self.items:
            if key == name:
                return value
        return default

    def __bool__(self) -> bool:
        return bool(self.items)

    def describe(self) -> str:
        """``keep_last=4 char='#'`` (empty without parameters)."""
        return " ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in self.items)


#: No parameters: the defaults of every operator.
NO_PARAMS = ActionParams()
