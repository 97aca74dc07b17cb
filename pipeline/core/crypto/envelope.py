"""Envelope encryption: AES-256-GCM under a fresh data key, the data key wrapped by a key-encryption key.

Why an envelope: each value gets its own random 256-bit data key, so no (key, nonce) pair is ever
reused however many values are encrypted, and rotating the key-encryption key (KEK) needs no bulk
re-encryption of data: old ciphertexts name the KEK version that wraps their data key.

Why associated data: the GCM associated data binds the ciphertext to the message id, field path and
PHI type (and to the KEK id), so a ciphertext copied into another record or another field, or revealed
under another PHI type, fails to decrypt instead of silently yielding a value out of context.

Serialized form::

    enc:<key-id>:<base64url, no padding, of the payload>

    payload = 0x01                      format version
              || wrap nonce (12 bytes)  fresh random
              || wrapped data key (48)  AES-256-GCM(KEK, data key, AD) incl. 16-byte tag
              || data nonce (12 bytes)  fresh random
              || ciphertext || tag(16)  AES-256-GCM(data key, UTF-8 value, AD)

    AD = length-prefixed fields: domain tag, key id, format version, message id, field path, PHI type

Field values use the ENCRYPTION key. :meth:`Encryptor.seal_bytes` / :meth:`Encryptor.open_bytes` use
the same layout for arbitrary bytes under the DEADLETTER key and another domain tag (the PHI type is
replaced by a context string, ``deadletter`` by default), so a dead letter's original message is kept
only in encrypted form and cannot be confused with a field ciphertext.

Errors are :class:`EnvelopeError` (or subclasses) with a stable ``reason``: ``enc-malformed``,
``enc-unknown-key``, ``enc-retired-key``, ``enc-wrong-key`` (a key of another purpose), ``enc-invalid``
(altered, or moved to another record, field or PHI type).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pipeline.core.crypto.encoding import b64url, decode_b64url
from pipeline.core.crypto.keyring import (
    Key,
    KeyPurpose,
    Keyring,
    RetiredKeyError,
    UnknownKeyError,
    WrongKeyPurposeError,
    describe_key_id,
)
from pipeline.core.errors import PipelineError
from pipeline.core.phi_types import PhiType

CIPHERTEXT_PREFIX = "enc"
FORMAT_VERSION = 1
NONCE_BYTES = 12
DATA_KEY_BYTES = 32
TAG_BYTES = 16
_WRAPPED_BYTES = DATA_KEY_BYTES + TAG_BYTES
_HEADER_BYTES = 1 + NONCE_BYTES + _WRAPPED_BYTES + NONCE_BYTES
_FIELD_DOMAIN = b"phi-pipeline/envelope/v1/field"
_SEALED_DOMAIN = b"phi-pipeline/envelope/v1/sealed"
_FIELD = struct.Struct(">BQ")


class EnvelopeError(PipelineError):
    """A ciphertext cannot be made or opened. ``reason``, a class attribute, is a stable code (module docstring)."""

    reason = "enc-error"

    def __init__(self, message: str) -> None:
        # Explicit base call: subclasses also derive from keyring errors with other signatures.
        PipelineError.__init__(self, message)


class EnvelopeMalformedError(EnvelopeError):
    reason = "enc-malformed"


class EnvelopeWrongKeyError(EnvelopeError):
    reason = "enc-wrong-key"


class EnvelopeInvalidError(EnvelopeError):
    reason = "enc-invalid"


class EnvelopeUnknownKeyError(EnvelopeError, UnknownKeyError):
    reason = "enc-unknown-key"

    def __init__(self, key_id: str) -> None:
        EnvelopeError.__init__(self, f"ciphertext names {describe_key_id(key_id)}, not in the keyring")
        self.key_id = key_id


class EnvelopeRetiredKeyError(EnvelopeError, RetiredKeyError):
    reason = "enc-retired-key"

    def __init__(self, key_id: str) -> None:
        EnvelopeError.__init__(
            self,
            f"ciphertext is wrapped by key {key_id}, which is retired; it can no longer be decrypted",
        )
        self.key_id = key_id


@dataclass(frozen=True, slots=True)
class ParsedCiphertext:
    """A serialized ciphertext split into key id and raw payload (no secret involved)."""

    key_id: str
    payload: bytes


def is_ciphertext(text: object) -> bool:
    """True if ``text`` has the shape of an envelope ciphertext (cheap; checks no key or tag)."""
    return isinstance(text, str) and text.startswith(CIPHERTEXT_PREFIX + ":")


def parse_ciphertext(text: str) -> ParsedCiphertext:
    """Split ``enc:<key-id>:<payload>``; raises ``EnvelopeError('enc-malformed')``."""
    if not isinstance(text, str):
        raise EnvelopeMalformedError("ciphertext must be a string")
    parts = text.split(":")
    if len(parts) != 3 or parts[0] != CIPHERTEXT_PREFIX or not parts[1]:
        raise EnvelopeMalformedError("ciphertext must look like enc:<key-id>:<base64url>")
    try:
        payload = decode_b64url(parts[2], "ciphertext payload")
    except ValueError as exc:
        raise EnvelopeMalformedError(str(exc)) from None
    if len(payload) < _HEADER_BYTES + TAG_BYTES:
        raise EnvelopeMalformedError(f"ciphertext payload is {len(payload)} bytes; too short")
    if payload[0] != FORMAT_VERSION:
        raise EnvelopeMalformedError(f"ciphertext format version {payload[0]} is not supported")
    return ParsedCiphertext(parts[1], payload)


def _associated_data(domain: bytes, key_id: str, message_id: str | None, field_path: str, last: str) -> bytes:
    """Presence byte + 8-byte length + bytes per field, so no field can shift into another and a
    missing message id (possible for dead letters) differs from an empty one."""
    parts = (
        domain,
        key_id.encode("ascii"),
        bytes([FORMAT_VERSION]),
        None if message_id is None else message_id.encode("utf-8"),
        field_path.encode("utf-8"),
        last.encode("utf-8"),
    )
    return b"".join(_FIELD.pack(0, 0) if p is None else _FIELD.pack(1, len(p)) + p for p in parts)


class Encryptor:
    """Encrypts field values (ENCRYPTION key) and seals whole messages (DEADLETTER key)."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._keks: dict[str, tuple[bytes, AESGCM]] = {}

    def __repr__(self) -> str:
        return f"Encryptor({self._keyring!r})"

    def _kek(self, key: Key) -> AESGCM:
        cached = self._keks.get(key.key_id)
        if cached is None or cached[0] is not key.material:
            cached = self._keks[key.key_id] = (key.material, AESGCM(key.material))
        return cached[1]

    # ---- generic envelope ---------------------------------------------------------------------------

    def _seal(
        self, purpose: KeyPurpose, domain: bytes, data: bytes, message_id: str | None, path: str, last: str
    ) -> str:
        kek = self._keyring.current(purpose)
        ad = _associated_data(domain, kek.key_id, message_id, path, last)
        data_key = AESGCM.generate_key(bit_length=256)
        wrap_nonce = os.urandom(NONCE_BYTES)
        data_nonce = os.urandom(NONCE_BYTES)
        wrapped = self._kek(kek).encrypt(wrap_nonce, data_key, ad)
        body = AESGCM(data_key).encrypt(data_nonce, data, ad)
        payload = b"".join((bytes([FORMAT_VERSION]), wrap_nonce, wrapped, data_nonce, body))
        return f"{CIPHERTEXT_PREFIX}:{kek.key_id}:{b64url(payload)}"

    def _open(
        self, purpose: KeyPurpose, domain: bytes, text: str, message_id: str | None, path: str, last: str
    ) -> bytes:
        parsed = parse_ciphertext(text)
        key_id = parsed.key_id
        try:
            kek = self._keyring.get(key_id, purpose)
        except WrongKeyPurposeError:
            raise EnvelopeWrongKeyError(
                f"ciphertext names key {key_id}; this operation needs a {purpose.value} key"
            ) from None
        except RetiredKeyError:
            raise EnvelopeRetiredKeyError(key_id) from None
        except UnknownKeyError:
            raise EnvelopeUnknownKeyError(key_id) from None
        p = parsed.payload
        wrap_nonce = p[1 : 1 + NONCE_BYTES]
        wrapped = p[1 + NONCE_BYTES : 1 + NONCE_BYTES + _WRAPPED_BYTES]
        data_nonce = p[1 + NONCE_BYTES + _WRAPPED_BYTES : _HEADER_BYTES]
        body = p[_HEADER_BYTES:]
        ad = _associated_data(domain, kek.key_id, message_id, path, last)
        try:
            data_key = self._kek(kek).decrypt(wrap_nonce, wrapped, ad)
            return AESGCM(data_key).decrypt(data_nonce, body, ad)
        except InvalidTag:
            raise EnvelopeInvalidError(
                f"ciphertext does not authenticate under key {kek.key_id} for this message id, field path "
                "and type: it was altered, or copied from another record or field",
            ) from None

    # ---- field values -------------------------------------------------------------------------------

    def encrypt(self, value: str, message_id: str, field_path: str, phi_type: PhiType) -> str:
        """Encrypt one field value, bound to its record (message id), field path and PHI type."""
        return self._seal(
            KeyPurpose.ENCRYPTION,
            _FIELD_DOMAIN,
            value.encode("utf-8"),
            message_id,
            field_path,
            PhiType(phi_type).value,
        )

    def decrypt(self, protected: str, message_id: str, field_path: str, phi_type: PhiType) -> str:
        """Decrypt a value made by :meth:`encrypt` with the same message id, field path and PHI type."""
        plain = self._open(
            KeyPurpose.ENCRYPTION, _FIELD_DOMAIN, protected, message_id, field_path, PhiType(phi_type).value
        )
        return plain.decode("utf-8")

    # ---- whole messages (dead letters) --------------------------------------------------------------

    def seal_bytes(self, data: bytes, message_id: str | None, context: str = "deadletter") -> str:
        """Encrypt arbitrary bytes (a dead letter's original message) under the DEADLETTER key.

        ``message_id`` may be None (a message rejected for lacking one). ``context`` names what the
        bytes are (``deadletter``, or ``deadletter/key`` for a record key) and must be given again to
        open them.
        """
        return self._seal(KeyPurpose.DEADLETTER, _SEALED_DOMAIN, bytes(data), message_id, "", context)

    def open_bytes(self, sealed: str, message_id: str | None, context: str = "deadletter") -> bytes:
        """The bytes given to :meth:`seal_bytes` with the same message id and context (for replay)."""
        return self._open(KeyPurpose.DEADLETTER, _SEALED_DOMAIN, sealed, message_id, "", context)
