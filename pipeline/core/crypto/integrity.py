"""HMAC-SHA256 signatures over Kafka messages: who may feed the pipeline, and proof outputs are ours.

Why canonical bytes: a signature over ``key + value`` alone would let an attacker move bytes between
the key and the value, or replay a value under another message id. So the MAC input is a
length-prefixed sequence of fields, each ``presence byte (0/1) + 8-byte big-endian length + bytes``::

    field("phi-pipeline/hmac/v1")  # domain tag: a MAC made here is useless anywhere else
    field(message id, UTF-8)
    field(record key)              # None (absent) encodes as presence 0, distinct from b""
    field(record value)            # None (tombstone) likewise

Header format (``phi-hmac``)::

    v1:<key-id>:<standard base64 of the 32-byte HMAC-SHA256>

e.g. ``v1:ingest-hmac-v2:3q2+7w...=``. The key id says which keyring key to verify with, so keys rotate
without downtime. Verification uses :func:`hmac.compare_digest` and raises a
:class:`SignatureError` subclass whose ``reason`` is a stable code for the dead letter, the audit
event and the metrics label:

=====================  ==============================================================
``hmac-missing``       no ``phi-hmac`` header (:class:`MissingSignatureError`)
``hmac-malformed``     not ``v1:<key-id>:<base64 of 32 bytes>`` (:class:`MalformedSignatureError`)
``hmac-unknown-key``   key id not in the keyring (:class:`SignatureUnknownKeyError`)
``hmac-retired-key``   key id is retired (:class:`SignatureRetiredKeyError`)
``hmac-wrong-purpose`` key exists but for another job (:class:`SignatureWrongPurposeError`)
``hmac-mismatch``      MAC does not match (:class:`SignatureMismatchError`)
``message-id-missing`` / ``message-id-invalid``  from :func:`verify_headers` (:class:`MessageIdError`)
=====================  ==============================================================

For producers outside this package, :func:`signed_headers` is the whole recipe; it is short on
purpose so it can be copied into another code base.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from pipeline.core.crypto.encoding import b64, decode_b64
from pipeline.core.crypto.keyring import (
    KeyPurpose,
    Keyring,
    RetiredKeyError,
    UnknownKeyError,
    WrongKeyPurposeError,
    describe_key_id,
)
from pipeline.core.errors import PipelineError

__all__ = [
    "DOMAIN_TAG",
    "HEADER_HMAC",
    "HEADER_MESSAGE_ID",
    "HEADER_SCHEMA",
    "MalformedSignatureError",
    "MessageIdError",
    "MissingSignatureError",
    "RetiredKeyError",
    "SignatureError",
    "SignatureMismatchError",
    "SignatureRetiredKeyError",
    "SignatureUnknownKeyError",
    "SignatureWrongPurposeError",
    "UnknownKeyError",
    "VerifiedMessage",
    "canonical_bytes",
    "sign",
    "signed_headers",
    "verify",
    "verify_headers",
]

DOMAIN_TAG = b"phi-pipeline/hmac/v1"
SIGNATURE_VERSION = "v1"
HEADER_MESSAGE_ID = "phi-message-id"
HEADER_HMAC = "phi-hmac"
HEADER_SCHEMA = "phi-schema"
MAX_MESSAGE_ID_BYTES = 256
_MAX_HEADER_CHARS = 256
_KEY_ID_SYNTAX = re.compile(r"^[A-Za-z0-9._-]{1,80}$")
_FIELD_HEADER = struct.Struct(">BQ")


class SignatureError(PipelineError):
    """A message failed verification. ``reason`` is the stable code listed in the module docstring."""

    reason = "hmac-error"


class MissingSignatureError(SignatureError):
    reason = "hmac-missing"


class MalformedSignatureError(SignatureError):
    reason = "hmac-malformed"


class SignatureUnknownKeyError(SignatureError, UnknownKeyError):
    """Also an :class:`UnknownKeyError`, so either ``except`` catches it."""

    reason = "hmac-unknown-key"


class SignatureRetiredKeyError(SignatureError, RetiredKeyError):
    """Also a :class:`RetiredKeyError`."""

    reason = "hmac-retired-key"


class SignatureWrongPurposeError(SignatureError, WrongKeyPurposeError):
    reason = "hmac-wrong-purpose"


class SignatureMismatchError(SignatureError):
    reason = "hmac-mismatch"


class MessageIdError(SignatureError):
    """The ``phi-message-id`` header is missing, repeated or unusable."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _field(data: bytes | None) -> bytes:
    if data is None:
        return _FIELD_HEADER.pack(0, 0)
    return _FIELD_HEADER.pack(1, len(data)) + data


def canonical_bytes(message_id: str, key: bytes | None, value: bytes | None) -> bytes:
    """The exact bytes the HMAC covers (see the module docstring for the layout)."""
    return b"".join((_field(DOMAIN_TAG), _field(message_id.encode("utf-8")), _field(key), _field(value)))


def _mac(material: bytes, message_id: str, key: bytes | None, value: bytes | None) -> bytes:
    return hmac.new(material, canonical_bytes(message_id, key, value), hashlib.sha256).digest()


def sign(keyring: Keyring, purpose: KeyPurpose, message_id: str, key: bytes | None, value: bytes | None) -> str:
    """The ``phi-hmac`` header value for a message, made with the newest active key of ``purpose``."""
    signing_key = keyring.current(purpose)
    tag = b64(_mac(signing_key.material, message_id, key, value))
    return f"{SIGNATURE_VERSION}:{signing_key.key_id}:{tag}"


def _parse(signature: str | bytes | None) -> tuple[str, bytes]:
    if signature is None or len(signature) == 0:
        raise MissingSignatureError(
            f"message has no {HEADER_HMAC} header; producers must sign (see pipeline.core.crypto.integrity)"
        )
    if isinstance(signature, bytes):
        try:
            signature = signature.decode("ascii")
        except UnicodeDecodeError:
            raise MalformedSignatureError(f"{HEADER_HMAC} header is not ASCII") from None
    if len(signature) > _MAX_HEADER_CHARS:
        raise MalformedSignatureError(f"{HEADER_HMAC} header is {len(signature)} characters; too long")
    parts = signature.split(":")
    if len(parts) != 3:
        raise MalformedSignatureError(f"{HEADER_HMAC} header must be v1:<key-id>:<base64 HMAC-SHA256>")
    version, key_id, tag_text = parts
    if version != SIGNATURE_VERSION:
        raise MalformedSignatureError(f"{HEADER_HMAC} header version is not {SIGNATURE_VERSION}")
    if not _KEY_ID_SYNTAX.match(key_id):
        raise MalformedSignatureError(f"{HEADER_HMAC} header key id is empty or has invalid characters")
    try:
        tag = decode_b64(tag_text, f"{HEADER_HMAC} header MAC")
    except ValueError as exc:
        raise MalformedSignatureError(str(exc)) from None
    if len(tag) != hashlib.sha256().digest_size:
        raise MalformedSignatureError(f"{HEADER_HMAC} header MAC is {len(tag)} bytes; HMAC-SHA256 is 32")
    return key_id, tag


def verify(
    keyring: Keyring,
    purpose: KeyPurpose,
    signature: str | bytes | None,
    message_id: str,
    key: bytes | None,
    value: bytes | None,
) -> str:
    """Check a ``phi-hmac`` header against the message; return the key id it was signed with.

    Raises a :class:`SignatureError` subclass (never returns False) so a caller cannot forget to check.
    """
    key_id, tag = _parse(signature)
    try:
        verifying_key = keyring.get(key_id, purpose)
    except WrongKeyPurposeError as exc:
        raise SignatureWrongPurposeError(str(exc)) from None
    except RetiredKeyError:
        raise SignatureRetiredKeyError(key_id) from None
    except UnknownKeyError:
        raise SignatureUnknownKeyError(
            key_id, f"{HEADER_HMAC} names {describe_key_id(key_id)}, which is not in the keyring"
        ) from None
    expected = _mac(verifying_key.material, message_id, key, value)
    if not hmac.compare_digest(expected, tag):
        raise SignatureMismatchError(
            f"HMAC under key {verifying_key.key_id} does not match the message id, key and value: "
            "the message was altered after signing, or signed with other key material"
        )
    return verifying_key.key_id


def signed_headers(
    keyring: Keyring,
    message_id: str,
    key: bytes | None,
    value: bytes | None,
    schema: str,
    purpose: KeyPurpose = KeyPurpose.INGEST_HMAC,
) -> list[tuple[str, bytes]]:
    """Kafka headers for a signed message: ``phi-message-id``, ``phi-hmac``, ``phi-schema``.

    Producers feeding the pipeline call this with their ingest key (the default purpose); the pipeline
    itself signs outputs with ``KeyPurpose.EGRESS_HMAC``. Recipe for other code bases: build
    :func:`canonical_bytes`, HMAC-SHA256 it with the key, and send ``v1:<key-id>:<base64>``.
    """
    return [
        (HEADER_MESSAGE_ID, message_id.encode("utf-8")),
        (HEADER_HMAC, sign(keyring, purpose, message_id, key, value).encode("ascii")),
        (HEADER_SCHEMA, schema.encode("utf-8")),
    ]


@dataclass(frozen=True, slots=True)
class VerifiedMessage:
    """What :func:`verify_headers` learned: the message id, the key id and the schema header (or None)."""

    message_id: str
    key_id: str
    schema: str | None


def _single(headers: list[tuple[str, bytes | str | None]], name: str) -> bytes | str | None:
    values = [v for k, v in headers if k == name]
    if len(values) > 1:
        if name == HEADER_MESSAGE_ID:
            raise MessageIdError("message-id-invalid", f"message carries {len(values)} {name} headers; one allowed")
        raise MalformedSignatureError(f"message carries {len(values)} {name} headers; one allowed")
    return values[0] if values else None


def verify_headers(
    keyring: Keyring,
    purpose: KeyPurpose,
    headers: Iterable[tuple[str, bytes | str | None]],
    key: bytes | None,
    value: bytes | None,
) -> VerifiedMessage:
    """Verify a consumed message from its header list (as aiokafka gives them), before any decoding."""
    header_list = list(headers)
    raw_id = _single(header_list, HEADER_MESSAGE_ID)
    if raw_id is None or len(raw_id) == 0:
        raise MessageIdError("message-id-missing", f"message has no {HEADER_MESSAGE_ID} header")
    if isinstance(raw_id, bytes):
        try:
            raw_id = raw_id.decode("utf-8")
        except UnicodeDecodeError:
            raise MessageIdError("message-id-invalid", f"{HEADER_MESSAGE_ID} header is not UTF-8") from None
    if len(raw_id.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_ID_BYTES:
        raise MessageIdError(
            "message-id-invalid", f"{HEADER_MESSAGE_ID} header is longer than {MAX_MESSAGE_ID_BYTES} bytes"
        )
    key_id = verify(keyring, purpose, _single(header_list, HEADER_HMAC), raw_id, key, value)
    raw_schema = _single(header_list, HEADER_SCHEMA)
    if isinstance(raw_schema, bytes):
        raw_schema = raw_schema.decode("utf-8", "replace")
    return VerifiedMessage(message_id=raw_id, key_id=key_id, schema=raw_schema)
