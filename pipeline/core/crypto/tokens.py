"""Deterministic, reversible tokens: AES-SIV over the value, with the PHI type as associated data.

Why deterministic: equal values must give equal tokens so joins, counts and de-duplication still
work on de-identified data. AES-SIV (RFC 5297) is the standard deterministic AEAD: it leaks only
equality, and any change to the token is detected. The PHI type is associated data, so an SSN token
cannot be revealed by claiming it is a NAME, and the same digits as an MRN and as an SSN give unrelated
tokens.

Token format::

    tok:<key-id>:<base64url, no padding, of the AES-SIV output (16-byte SIV + ciphertext)>

e.g. ``tok:token-v2:l8dT...``. The key id is the TOKEN key (512-bit) that made it; the newest active
TOKEN key makes new tokens; older active versions still detokenize; retired ones are refused. Note that
rotating the TOKEN key changes the token of every value for new data, so joins across a rotation need
re-tokenizing the older side.

Errors are :class:`TokenError` (or subclasses) with a stable ``reason``: ``token-malformed``,
``token-unknown-key``, ``token-retired-key``, ``token-wrong-key`` (not a TOKEN key), ``token-invalid``
(altered, or a PHI type other than the one it was made with).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from pipeline.core.crypto.encoding import b64url, decode_b64url
from pipeline.core.crypto.keyring import (
    Key,
    KeyPurpose,
    Keyring,
    RetiredKeyError,
    UnknownKeyError,
    WrongKeyPurposeError,
)
from pipeline.core.errors import PipelineError
from pipeline.core.phi_types import PhiType

TOKEN_PREFIX = "tok"  # noqa: S105 (a format prefix)
_DOMAIN_TAG = b"phi-pipeline/token/v1"
_SIV_BYTES = 16
_MAX_TOKEN_CHARS = 1 << 20


class TokenError(PipelineError):
    """A token cannot be made or reversed. ``reason``, a class attribute, is a stable code (module docstring)."""

    reason = "token-error"

    def __init__(self, message: str) -> None:
        # Explicit base call: subclasses also derive from keyring errors with other signatures.
        PipelineError.__init__(self, message)


class TokenMalformedError(TokenError):
    reason = "token-malformed"


class TokenWrongKeyError(TokenError):
    reason = "token-wrong-key"


class TokenInvalidError(TokenError):
    reason = "token-invalid"


class TokenUnknownKeyError(UnknownKeyError, TokenError):
    reason = "token-unknown-key"
    subject = "token"


class TokenRetiredKeyError(RetiredKeyError, TokenError):
    reason = "token-retired-key"
    subject = "token was made with"
    consequence = "reversed"


@dataclass(frozen=True, slots=True)
class ParsedToken:
    """A token split into its key id and the raw AES-SIV output (no secret involved)."""

    key_id: str
    payload: bytes


def is_token(text: object) -> bool:
    """True if ``text`` has the shape of a token (cheap; does not check the key or the MAC)."""
    return isinstance(text, str) and text.startswith(TOKEN_PREFIX + ":")


def parse_token(token: str) -> ParsedToken:
    """Split ``tok:<key-id>:<payload>``; raises ``TokenError('token-malformed')``."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_CHARS:
        raise TokenMalformedError("token must be a string of reasonable length")
    parts = token.split(":")
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1]:
        raise TokenMalformedError("token must look like tok:<key-id>:<base64url>")
    try:
        # Canonical only, so each value has exactly one token string.
        payload = decode_b64url(parts[2], "token payload")
    except ValueError as exc:
        raise TokenMalformedError(str(exc)) from None
    if len(payload) < _SIV_BYTES:
        raise TokenMalformedError(f"token payload is shorter than the {_SIV_BYTES}-byte SIV")
    return ParsedToken(parts[1], payload)


def _associated_data(phi_type: PhiType) -> list[bytes]:
    found = _BY_TYPE.get(phi_type)  # a PhiType, or its name as text (checked by PhiType() otherwise)
    return found if found is not None else [_DOMAIN_TAG, PhiType(phi_type).value.encode("ascii")]


#: Each type's associated data, made once (``PhiType(...)`` and ``.value`` cost more than the cipher).
_BY_TYPE: dict[object, list[bytes]] = {t: [_DOMAIN_TAG, t.value.encode("ascii")] for t in PhiType}


_TOKEN = KeyPurpose.TOKEN  # read per token: bound once


class Tokenizer:
    """Makes and reverses tokens with the keyring's TOKEN keys.

    Cipher objects are cached per key id: building AESSIV costs more than tokenizing a short value.
    """

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._ciphers: dict[str, tuple[bytes, AESSIV]] = {}
        self._current: tuple[Key, AESSIV, str] | None = None

    def __repr__(self) -> str:
        return f"Tokenizer({self._keyring!r})"

    def _cipher(self, key_id: str, material: bytes) -> AESSIV:
        cached = self._ciphers.get(key_id)
        if cached is None or cached[0] is not material:
            cached = self._ciphers[key_id] = (material, AESSIV(material))
        return cached[1]

    def tokenize(self, value: str, phi_type: PhiType) -> str:
        """The token for ``value`` under the newest active TOKEN key; equal inputs give equal tokens."""
        key = self._keyring.current(_TOKEN)
        current = self._current  # the key of the last token, its cipher and its prefix: one check per token
        if current is None or current[0] is not key:
            current = self._current = (key, self._cipher(key.key_id, key.material), f"{TOKEN_PREFIX}:{key.key_id}:")
        associated = _BY_TYPE.get(phi_type) or _associated_data(phi_type)
        return current[2] + b64url(current[1].encrypt(value.encode("utf-8"), associated))

    def detokenize(self, token: str, phi_type: PhiType) -> str:
        """The original value; ``phi_type`` must be the type the token was made with."""
        parsed = parse_token(token)
        key_id = parsed.key_id
        try:
            key = self._keyring.get(key_id, KeyPurpose.TOKEN)
        except WrongKeyPurposeError:
            raise TokenWrongKeyError(f"token names key {key_id}, which is not a token key") from None
        except RetiredKeyError:
            raise TokenRetiredKeyError(key_id) from None
        except UnknownKeyError:
            raise TokenUnknownKeyError(key_id) from None
        try:
            plain = self._cipher(key.key_id, key.material).decrypt(parsed.payload, _associated_data(phi_type))
        except InvalidTag:
            raise TokenInvalidError(
                f"token does not authenticate as a {PhiType(phi_type).value} token under key {key.key_id}: "
                "it was altered, truncated, or made for another PHI type",
            ) from None
        return plain.decode("utf-8")
