"""Structured values of clinical formats through the policy's actions, with the existing operators.

HL7 v2 and FHIR share this: a value, its rule and its path in; the protected value out (None: remove
it), and the action that was applied. Dates go through a format's own date codec (HL7 ``DTM`` or FHIR
``dateTime``), so a shifted or generalized date is still a valid date of its kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from pipeline.core.generalize import GeneralizationError, age_bucket, zip3
from pipeline.core.phi_types import PhiType
from pipeline.core.policy.model import Rule, RuleAction
from pipeline.core.transform.actions import Action
from pipeline.core.transform.context import TransformContext
from pipeline.core.transform.operators import OPERATORS

TokenizeFn = Callable[[str, PhiType], str]
EncryptFn = Callable[[str, str, str, PhiType], str]  # value, message id, path, type


class DateCodec(Protocol):
    """A format's dates: the year alone (None when the format cannot hold a bare year there), and the
    date moved by whole days in its own precision (None when it is not a date)."""

    def year(self, value: str) -> str | None: ...

    def shift(self, value: str, days: int) -> str | None: ...


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

    def context(self) -> TransformContext:
        return TransformContext(
            patient_key=self.patient_key,
            secret=self.secret,
            tokenize=self.tokenize,
            shift_days=self.shift_days,
        )

    def protect(self, value: str, rule: Rule, path: str, dates: DateCodec) -> tuple[str | None, RuleAction]:
        """The protected value (None: remove it) and the action applied; a value an action cannot
        take (a ZIP that is not one, a date that does not parse) is removed, and says so."""
        action, phi_type = rule.action, rule.phi_type or PhiType.ID
        result: str | None
        if action is RuleAction.KEEP:
            return value, action
        if action is RuleAction.REDACT:
            return None, action
        if action is RuleAction.TOKENIZE:
            return self.tokenize(value, phi_type), action
        if action is RuleAction.ENCRYPT:
            return self.encrypt(value, self.message_id, path, phi_type), action
        if action is RuleAction.GENERALIZE:
            result = self._generalize(value, phi_type, dates)
        elif action is RuleAction.DATE_SHIFT or (action is RuleAction.SURROGATE and phi_type is PhiType.DATE):
            result = dates.shift(value, self.context().date_offset())
        elif action is RuleAction.SURROGATE:
            result = OPERATORS[Action.SURROGATE].apply(value, phi_type, self.context())
        else:
            raise ValueError(f"action {action.value} does not apply to a structured value")
        if result is None:
            return None, RuleAction.REDACT
        return result, action

    @staticmethod
    def _generalize(value: str, phi_type: PhiType, dates: DateCodec) -> str | None:
        try:
            if phi_type is PhiType.DATE:
                return dates.year(value)
            if phi_type is PhiType.ZIP:
                return zip3(value)
            if phi_type is PhiType.AGE:
                return age_bucket(value)
        except GeneralizationError:
            return None
        return None
