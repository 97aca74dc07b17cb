"""Tokenize and encrypt: delegate to callables from the cryptography module, injected via the context."""

from __future__ import annotations

from pipeline.core.phi_types import PhiType
from pipeline.core.transform.actions import Action
from pipeline.core.transform.context import TransformContext
from pipeline.core.transform.errors import OperatorUnavailableError
from pipeline.core.transform.operators.base import Operator


class TokenizeOperator(Operator):
    """Deterministic, reversible token (AES-SIV in the cryptography module) in place of the value."""

    action = Action.TOKENIZE
    opaque = True

    def apply(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        if ctx.tokenize is None:
            raise OperatorUnavailableError(
                f"the policy tokenizes {phi_type.value} but no tokenizer is configured; "
                "pass TransformContext(tokenize=...) or change the policy's action"
            )
        return ctx.tokenize(value, phi_type)


class EncryptOperator(Operator):
    """Ciphertext (AES-GCM envelope in the cryptography module) in place of the value."""

    action = Action.ENCRYPT
    opaque = True

    def apply(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        if ctx.encrypt is None:
            raise OperatorUnavailableError(
                f"the policy encrypts {phi_type.value} but no encryptor is configured; "
                "pass TransformContext(encrypt=...) or change the policy's action"
            )
        return ctx.encrypt(value, phi_type)
