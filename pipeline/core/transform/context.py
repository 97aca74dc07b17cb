"""Per-record settings for transformations: whose record it is, the keys, and optional crypto callables."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from pipeline.core.errors import ConfigError
from pipeline.core.phi_types import PhiType
from pipeline.core.transform.actions import NO_PARAMS, ActionParams
from pipeline.core.transform.dateparse import TEXT_DATES

#: ``tokenize(value, phi_type) -> token`` and ``encrypt(value, phi_type) -> ciphertext text``.
ValueCallable = Callable[[str, PhiType], str]


class DateCodec(Protocol):
    """Dates in one notation (written text, HL7 ``DTM``, FHIR ``dateTime``): the year alone (None when
    the notation cannot hold a bare year there), and the date moved by whole days in its own precision
    (None when it is not a date)."""

    def year(self, value: str) -> str | None: ...

    def shift(self, value: str, days: int) -> str | None: ...


@dataclass(frozen=True)
class TransformContext:
    """What an operator needs besides the value.

    ``patient_key`` scopes surrogates and date shifts: the same value maps to the same surrogate, and all
    dates move by the same offset, within one patient; another patient gets other choices. ``secret`` keys
    those choices (HMAC), so they cannot be recomputed without it. ``shift_days`` is the inclusive range
    of the per-patient date offset; zero is never chosen, so a shifted date always differs. ``dates`` reads
    and writes dates in the notation of the value (:class:`DateCodec`).
    """

    patient_key: str
    secret: bytes = field(repr=False)
    tokenize: ValueCallable | None = None
    encrypt: ValueCallable | None = None
    shift_days: tuple[int, int] = (-365, 365)
    #: How dates are read and written where the value sits (free text unless a format says otherwise).
    dates: DateCodec = TEXT_DATES
    #: The rule's parameters for the action (``mask``: ``keep_last``); empty in free text (defaults).
    params: ActionParams = NO_PARAMS

    def __post_init__(self) -> None:
        problems = []
        if len(self.secret) < 16:
            problems.append("secret must be at least 16 bytes (pass the surrogate key from the keyring)")
        low, high = self.shift_days
        if low > high:
            problems.append(f"shift_days must be (low, high) with low <= high, got ({low}, {high})")
        elif low == high == 0:
            problems.append("shift_days (0, 0) would leave dates unchanged; use a range with a non-zero day")
        if problems:
            raise ConfigError("; ".join(problems))

    def derive(self, **changes: object) -> TransformContext:
        """A copy with ``changes`` to the fields that need no check (all but ``secret`` and ``shift_days``):
        :func:`dataclasses.replace` without checking again what this context's making already checked, for
        a context made per record or per value from one made once."""
        if "secret" in changes or "shift_days" in changes:
            raise ConfigError("derive() keeps secret and shift_days; make a new TransformContext to change them")
        other = object.__new__(TransformContext)
        vars(other).update(vars(self), **changes)
        return other

    def digest(self, *parts: str) -> bytes:
        """HMAC-SHA256 over the patient key and ``parts``, joined unambiguously."""
        message = "\x1f".join((self.patient_key, *parts)).encode("utf-8")
        return hmac.new(self.secret, message, hashlib.sha256).digest()

    def date_offset(self) -> int:
        """This patient's date shift in days: within ``shift_days``, never zero, stable for the key."""
        low, high = self.shift_days
        spans_zero = low <= 0 <= high
        count = high - low + 1 - (1 if spans_zero else 0)
        offset = low + int.from_bytes(self.digest("date-shift")[:8], "big") % count
        if spans_zero and offset >= 0:
            offset += 1  # skip zero: the values above it move up by one
        return offset
