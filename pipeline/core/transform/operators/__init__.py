"""One operator per action. Each turns one detected value into its replacement text."""

from __future__ import annotations

from pipeline.core.transform.actions import Action
from pipeline.core.transform.operators.base import Operator
from pipeline.core.transform.operators.crypto import EncryptOperator, TokenizeOperator
from pipeline.core.transform.operators.date_shift import DateShiftOperator
from pipeline.core.transform.operators.generalize import GeneralizeOperator
from pipeline.core.transform.operators.keep import KeepOperator
from pipeline.core.transform.operators.redact import RedactOperator
from pipeline.core.transform.operators.surrogate import SurrogateOperator

OPERATORS: dict[Action, Operator] = {
    Action.REDACT: RedactOperator(),
    Action.TOKENIZE: TokenizeOperator(),
    Action.ENCRYPT: EncryptOperator(),
    Action.SURROGATE: SurrogateOperator(),
    Action.SHIFT: DateShiftOperator(),
    Action.GENERALIZE: GeneralizeOperator(),
    Action.KEEP: KeepOperator(),
}

__all__ = ["OPERATORS", "Operator"]
