"""One operator per action, in one table: every :class:`Action` has exactly one entry here."""

from __future__ import annotations

from types import MappingProxyType

from pipeline.core.transform.actions import Action
from pipeline.core.transform.operators.base import Operator
from pipeline.core.transform.operators.crypto import EncryptOperator, TokenizeOperator
from pipeline.core.transform.operators.crypto_hash import CryptoHashOperator
from pipeline.core.transform.operators.date_shift import DateShiftOperator
from pipeline.core.transform.operators.detect import DetectOperator
from pipeline.core.transform.operators.generalize import GeneralizeOperator
from pipeline.core.transform.operators.keep import KeepOperator
from pipeline.core.transform.operators.mask import MaskOperator
from pipeline.core.transform.operators.perturb import PerturbOperator
from pipeline.core.transform.operators.redact import RedactOperator
from pipeline.core.transform.operators.substitute import SubstituteOperator
from pipeline.core.transform.operators.surrogate import SurrogateOperator

_ALL: tuple[Operator, ...] = (
    KeepOperator(),
    RedactOperator(),
    GeneralizeOperator(),
    TokenizeOperator(),
    EncryptOperator(),
    DateShiftOperator(),
    SurrogateOperator(),
    DetectOperator(),
    MaskOperator(),
    CryptoHashOperator(),
    SubstituteOperator(),
    PerturbOperator(),
)
OPERATORS: MappingProxyType[Action, Operator] = MappingProxyType({op.action: op for op in _ALL})
if set(OPERATORS) != set(Action):  # an action without an operator could never be applied: refuse to load
    raise ImportError(f"actions without an operator: {sorted(set(Action) - set(OPERATORS))}")

__all__ = ["OPERATORS", "Operator"]
