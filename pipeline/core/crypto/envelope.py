"""Envelope encryption: AES-256-GCM under a fresh data key, the data key wrapped by a key-encryption key.

Why an envelope: each value gets its own random 256-bit data key, so no (key, nonce) pair is ever
reused however many values are encrypted, and rotating the key-encryption key (KEK) needs no bulk
re-encryption of data: old ciphertexts name the KEK version that wraps their data key.

Why a derived wrapping key (format 2): the KEK is long-lived, and AES-GCM with random 96-bit nonces
must not encrypt more than about 2^32 messages under one key (NIST SP 800-38D), which a busy pipeline
could reach within a KEK's lifetime. So the KEK never encrypts directly: each value draws a 256-bit
random salt, and its data key is wrapped under ``HKDF-SHA256(KEK, salt, info)``, a key used exactly
once. Nothing needs counting and no rotation is forced; two values share a wrapping key only if
their salts collide (a 2^-128 event at 2^64 values).

Why associated data: the GCM associated data binds the ciphertext to the message id, field path and
PHI type (and to the KEK id), so a ciphertext copied into another record or another field, or revealed
under another PHI type, fails to decrypt instead of silently yielding a value out of context.

Serialized form::

    enc:<key-id>:<base64url, no padding, of the payload>

    payload = 0x02                      format version
              || salt (32 bytes)        fresh random; wrapping key = HKDF-SHA256(KEK, salt, info)
              || wrap nonce (12 bytes)  fresh random
              || wrapped data key (48)  AES-256-GCM(wrapping key, data key, AD) incl. 16-byte tag
              || data nonce (12 bytes)  fresh random
              || ciphertext || tag(16)  AES-256-GCM(data key, UTF-8 value, AD)

    info = "phi-pipeline/envelope/v2/wrap" 0x00 key id
    AD   = length-prefixed fields: domain tag, key id, format version, message id, field path, PHI type

Format 1 (written before format 2, still read): ``0x01 || wrap nonce || wrapped data key || data nonce
|| ciphertext``, the data key wrapped under the KEK itself. The version byte is in the associated
data, so a format-2 ciphertext relabelled as format 1 (or the reverse) does not open.

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
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

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

CIPHERTEXT_PREFIX = "enc"
FORMAT_VERSION = 2  # written; LEGACY_FORMAT_VERSION is still read
LEGACY_FORMAT_VERSION = 1
NONCE_BYTES = 12
SALT_BYTES = 32
DATA_KEY_BYTES = 32
TAG_BYTES = 16
_WRAPPED_BYTES = DATA_KEY_BYTES + TAG_BYTES
_SALT_BYTES = {LEGACY_FORMAT_VERSION: 0, FORMAT_VERSION: SALT_BYTES}
_WRAP_INFO = b"phi-pipeline/envelope/v2/wrap\x00"
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


class EnvelopeUnknownKeyError(UnknownKeyError, EnvelopeError):
    reason = "enc-unknown-key"
    subject = "ciphertext"


class EnvelopeRetiredKeyError(RetiredKeyError, EnvelopeError):
    reason = "enc-retired-key"
    subject = "ciphertext is wrapped by"
    consequence = "decrypted"


@dataclass(frozen=True, slots=True)
class ParsedCiphertext:
    """A serialized ciphertext split into key id and raw payload (no secret involved)."""

    key_id: str
    payload: bytes

    @property
    def version(self) -> int:
        return self.payload[0]

    @property
    def salt(self) -> bytes:
        """The wrapping-key salt (empty for format 1)."""
        return self.payload[1 : 1 + _SALT_BYTES[self.version]]

    def _part(self, start: int, size: int) -> bytes:
        offset = 1 + _SALT_BYTES[self.version] + start
        return self.payload[offset : offset + size]

    @property
    def wrap_nonce(self) -> bytes:
        return self._part(0, NONCE_BYTES)

    @property
    def wrapped_key(self) -> bytes:
        return self._part(NONCE_BYTES, _WRAPPED_BYTES)

    @property
    def data_nonce(self) -> bytes:
        return self._part(NONCE_BYTES + _WRAPPED_BYTES, NONCE_BYTES)

    @property
    def body(self) -> bytes:
        """The data ciphertext with its tag."""
        return self.payload[_header_bytes(self.version) :]


def _header_bytes(version: int) -> int:
    return 1 + _SALT_BYTES[version] + NONCE_BYTES + _WRAPPED_BYTES + NONCE_BYTES


def wrapping_key(kek_material: bytes, key_id: str, salt: bytes) -> bytes:
    """Format 2's one-use wrapping key: HKDF-SHA256 of the KEK with the value's salt."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=DATA_KEY_BYTES, salt=salt, info=_WRAP_INFO + key_id.encode("ascii"))
    return hkdf.derive(kek_material)


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
    if not payload or payload[0] not in _SALT_BYTES:
        version = payload[0] if payload else "(none)"
        raise EnvelopeMalformedError(
            f"ciphertext format version {version} is not supported (this build reads {sorted(_SALT_BYTES)})"
        )
    if len(payload) < _header_bytes(payload[0]) + TAG_BYTES:
        raise EnvelopeMalformedError(f"ciphertext payload is {len(payload)} bytes; too short")
    return ParsedCiphertext(parts[1], payload)


def _associated_data(
    domain: bytes, key_id: str, version: int, message_id: str | None, field_path: str, last: str
) -> bytes:
    """Presence byte + 8-byte length + bytes per field, so no field can shift into another and a
    missing message id (possible for dead letters) differs from an empty one."""
    parts = (
        domain,
        key_id.encode("ascii"),
        bytes([version]),
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
        ad = _associated_data(domain, kek.key_id, FORMAT_VERSION, message_id, path, last)
        data_key = AESGCM.generate_key(bit_length=256)
        salt = os.urandom(SALT_BYTES)
        wrap_nonce = os.urandom(NONCE_BYTES)
        data_nonce = os.urandom(NONCE_BYTES)
        wrapped = AESGCM(wrapping_key(kek.material, kek.key_id, salt)).encrypt(wrap_nonce, data_key, ad)
        body = AESGCM(data_key).encrypt(data_nonce, data, ad)
        payload = b"".join((bytes([FORMAT_VERSION]), salt, wrap_nonce, wrapped, data_nonce, body))
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
        ad = _associated_data(domain, kek.key_id, parsed.version, message_id, path, last)
        if parsed.version == LEGACY_FORMAT_VERSION:
            unwrap = self._kek(kek)  # format 1: the data key is wrapped under the KEK itself
        else:
            unwrap = AESGCM(wrapping_key(kek.material, kek.key_id, parsed.salt))
        try:
            data_key = unwrap.decrypt(parsed.wrap_nonce, parsed.wrapped_key, ad)
            return AESGCM(data_key).decrypt(parsed.data_nonce, parsed.body, ad)
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
