"""Crypto-hash: the value's keyed HMAC-SHA256 (hex), from the keyring's pseudonym key; not reversible.

Unlike surrogates and date shifts, the hash is not scoped to the patient: one value has one hash in
every record under one key (Microsoft's ``cryptoHash``), so records can be joined on it.
"""

from __future__ import annotations

import hashlib
import hmac

from pipeline.core.phi_types import PhiType
from pipeline.core.transform.actions import Action
from pipeline.core.transform.context import TransformContext
from pipeline.core.transform.operators.base import Operator

_DOMAIN = b"crypto-hash\x1f"


def crypto_hash(secret: bytes, value: str) -> str:
    """HMAC-SHA256 of ``value`` under ``secret``, 64 lowercase hex digits."""
    return hmac.new(secret, _DOMAIN + value.encode("utf-8"), hashlib.sha256).hexdigest()


class CryptoHashOperator(Operator):
    """``123-45-6789`` -> 64 hex digits, the same for the same value under the same key."""

    action = Action.CRYPTO_HASH
    opaque = True

    def apply(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        return crypto_hash(ctx.secret, value)
