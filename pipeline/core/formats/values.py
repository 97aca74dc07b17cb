"""Structured values of every format through the policy's actions, by the one operator table.

HL7 v2, FHIR and Avro share this: a value, its rule and its path in; the protected value out (None:
remove it), and the action that was applied. Dates go through the format's own date codec (HL7
``DTM``, FHIR ``dateTime``, Avro strings), so a shifted or generalized date is still a valid date of its kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.core.formats.rules import Rule, RuleAction
from pipeline.core.phi_types import PhiType
from pipeline.core.transform.actions import NO_PARAMS, ActionParams
from pipeline.core.transform.context import DateCodec, TransformContext
from pipeline.core.transform.operators import OPERATORS

TokenizeFn = Callable[[str, PhiType], str]
EncryptFn = Callable[[str, str, str, PhiType], str]  # value, message id, path, type

__all__ = ["DateCodec", "EncryptFn", "TokenizeFn", "ValueProtector"]

#: Members read per value, bound once (an Enum class attribute costs ten times a global's).
_KEEP, _REDACT, _ENCRYPT, _ID = RuleAction.KEEP, RuleAction.REDACT, RuleAction.ENCRYPT, PhiType.ID


@dataclass
class ValueProtector:
    """One message's protection: its id (for encryption), the keyed callables and the patient key that
    scopes surrogates and date shifts (set once the message's patient is known)."""

    message_id: str
    tokenize: TokenizeFn
    encrypt: EncryptFn
    secret: bytes = field(repr=False)
    shift_days: tuple[int, int] = (-365, 365)
    patient_key: str = ""
    #: A context made (and checked) once with this protector's secret, tokenizer and shift range, which
    #: every value's context copies (:meth:`TransformContext.derive`); None: each is made and checked anew.
    base: TransformContext | None = field(default=None, repr=False)
    #: Contexts without a path (every operator's but encryption's), by patient key, notation and parameters.
    _shared: dict[tuple[int, int], tuple[object, object, str, TransformContext]] = field(
        default_factory=dict, repr=False
    )
    _last: tuple[object, object, str, TransformContext] | None = field(default=None, repr=False)

    def context(
        self, path: str = "", dates: DateCodec | None = None, params: ActionParams | None = None
    ) -> TransformContext:
        """The operators' context for the value at ``path`` (encryption is bound to the message and the path)."""

        encrypt = self._encrypt_at(path)
        extra: dict[str, object] = {"dates": dates} if dates is not None else {}
        if params:
            extra["params"] = params
        if self.base is not None:
            return self.base.derive(patient_key=self.patient_key, encrypt=encrypt, **extra)
        return TransformContext(
            patient_key=self.patient_key,
            secret=self.secret,
            tokenize=self.tokenize,
            encrypt=encrypt,
            shift_days=self.shift_days,
            **extra,
        )

    def _encrypt_at(self, path: str) -> Callable[[str, PhiType], str]:
        """Encryption bound to this message and ``path``."""

        def encrypt(value: str, phi_type: PhiType) -> str:
            return self.encrypt(value, self.message_id, path, phi_type)

        return encrypt

    def _shared_context(self, dates: DateCodec, params: ActionParams) -> TransformContext:
        """The context of every value of this patient in this notation with these parameters, made once."""
        if params is not NO_PARAMS and not params:  # every tag has its own empty parameters
            params = NO_PARAMS
        found = self._last  # a record's values mostly share one: no key made
        if found is not None and found[0] is dates and found[1] is params and found[2] is self.patient_key:
            return found[3]
        key = (id(dates), id(params))  # identities, checked below (the parameters would hash in Python)
        found = self._shared.get(key)
        if found is None or found[0] is not dates or found[1] is not params or found[2] != self.patient_key:
            found = self._shared[key] = (dates, params, self.patient_key, self.context("", dates, params))
        self._last = found
        return found[3]

    def protect(self, value: str, rule: Rule, path: str, dates: DateCodec) -> tuple[str | None, RuleAction]:
        """The protected value (None: remove it) and the action applied; a value an action cannot
        take (a ZIP that is not one, a date that does not parse) is removed, and says so."""
        action, phi_type, params = rule.action, rule.phi_type or _ID, rule.params
        if action is _KEEP:
            return value, action
        if action is _REDACT and (params is NO_PARAMS or not params):
            return None, action
        if action is _ENCRYPT and self.base is not None:  # bound to the message and the path
            context = self._shared_context(dates, params).derive(encrypt=self._encrypt_at(path))
        elif action is _ENCRYPT:
            context = self.context(path, dates, params)
        else:
            context = self._shared_context(dates, params)
        result = OPERATORS[action].protect(value, phi_type, context)
        if result is None:
            return None, _REDACT
        return result, action
