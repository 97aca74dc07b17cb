"""HMAC-SHA256 signatures over Kafka messages: who may feed the pipeline, and proof outputs are ours.

Why canonical bytes: a signature over ``key + value`` alone would let an attacker move bytes between
the key and the value, replay a value under another message id, or relabel it with another schema.
So the MAC input is a length-prefixed sequence of fields, each ``presence byte (0/1) + 8-byte
big-endian length + bytes``, covering every contract header as well as the key and the value::

    field("phi-pipeline/hmac/v2")  # domain tag: a MAC made here is useless anywhere else
    field(message id, UTF-8)       # the phi-message-id header
    field(schema, UTF-8)           # the phi-schema header; absent (presence 0) when the message has none
    field(record key)              # None (absent) encodes as presence 0, distinct from b""
    field(record value)            # None (tombstone) likewise

Header format (``phi-hmac``)::

    v2:<key-id>:<standard base64 of the 32-byte HMAC-SHA256>

e.g. ``v2:ingest-hmac-v2:3q2+7w...=``. The key id says which keyring key to verify with, so keys rotate
without downtime. Verification uses :func:`hmac.compare_digest` and raises a
:class:`SignatureError` subclass whose ``reason`` (a class attribute) is a stable code for the dead
letter, the audit event and the metrics label:

=========================  ==============================================================
``hmac-missing``           no ``phi-hmac`` header (:class:`MissingSignatureError`)
``hmac-malformed``         not ``v2:<key-id>:<base64 of 32 bytes>`` (:class:`MalformedSignatureError`)
``hmac-unknown-key``       key id not in the keyring (:class:`SignatureUnknownKeyError`)
``hmac-retired-key``       key id is retired (:class:`SignatureRetiredKeyError`)
``hmac-wrong-purpose``     key exists but for another job (:class:`SignatureWrongPurposeError`)
``hmac-mismatch``          MAC does not match (:class:`SignatureMismatchError`)
``hmac-schema-unsigned``   a ``v1`` signature beside a ``phi-schema`` header (:class:`UnsignedSchemaError`)
``message-id-missing``     from :func:`verify_headers` (:class:`MessageIdMissingError`)
``message-id-invalid``     from :func:`verify_headers` (:class:`MessageIdError`)
=========================  ==============================================================

Older messages: ``v1`` signatures (made before the schema header was covered) use the domain tag
``phi-pipeline/hmac/v1`` and cover the message id, key and value only. They still verify, but a
``v1`` signature says nothing about ``phi-schema``: :func:`verify_headers` accepts a ``v1`` message
only when it carries no ``phi-schema`` header (its schema then comes from the signed value's
Confluent id or the configured default), unless the caller passes ``legacy_schema=True`` (the
``consume --verify`` reader of old outputs), in which case the result says the schema is unsigned.
New signatures are always ``v2``.

The normative description for other code bases is ``docs/contract.md`` (with test vectors in
``docs/contract-vectors.json``); :func:`signed_headers` is the whole recipe in Python.
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
    "MessageIdMissingError",
    "MissingSignatureError",
    "RetiredKeyError",
    "SignatureError",
    "SignatureMismatchError",
    "SignatureRetiredKeyError",
    "SignatureUnknownKeyError",
    "SignatureWrongPurposeError",
    "UnknownKeyError",
    "UnsignedSchemaError",
    "VerifiedMessage",
    "canonical_bytes",
    "sign",
    "signed_headers",
    "verify",
    "verify_headers",
]

DOMAIN_TAG = b"phi-pipeline/hmac/v2"
LEGACY_DOMAIN_TAG = b"phi-pipeline/hmac/v1"
SIGNATURE_VERSION = "v2"
LEGACY_SIGNATURE_VERSION = "v1"
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


class UnsignedSchemaError(SignatureError):
    """A ``v1`` signature, which does not cover ``phi-schema``, on a message that carries that header."""

    reason = "hmac-schema-unsigned"


class MessageIdError(SignatureError):
    """The ``phi-message-id`` header is repeated or unusable."""

    reason = "message-id-invalid"


class MessageIdMissingError(MessageIdError):
    """The message has no ``phi-message-id`` header."""

    reason = "message-id-missing"


def _field(data: bytes | None) -> bytes:
    if data is None:
        return _FIELD_HEADER.pack(0, 0)
    return _FIELD_HEADER.pack(1, len(data)) + data


_DOMAIN_FIELD = _field(DOMAIN_TAG)


def canonical_bytes(message_id: str, key: bytes | None, value: bytes | None, schema: str | None = None) -> bytes:
    """The exact bytes a ``v2`` HMAC covers (see the module docstring for the layout)."""
    schema_bytes = None if schema is None else schema.encode("utf-8", "surrogatepass")
    return b"".join(
        (
            _DOMAIN_FIELD,
            _field(message_id.encode("utf-8", "surrogatepass")),
            _field(schema_bytes),
            _field(key),
            _field(value),
        )
    )


def legacy_canonical_bytes(message_id: str, key: bytes | None, value: bytes | None) -> bytes:
    """The bytes a ``v1`` HMAC covered: no schema (kept to verify messages signed before ``v2``)."""
    return b"".join(
        (_field(LEGACY_DOMAIN_TAG), _field(message_id.encode("utf-8", "surrogatepass")), _field(key), _field(value))
    )


def _mac(
    material: bytes, version: str, message_id: str, key: bytes | None, value: bytes | None, schema: str | None
) -> bytes:
    if version == LEGACY_SIGNATURE_VERSION:
        data = legacy_canonical_bytes(message_id, key, value)
    else:
        data = canonical_bytes(message_id, key, value, schema)
    return hmac.new(material, data, hashlib.sha256).digest()


def sign(
    keyring: Keyring,
    purpose: KeyPurpose,
    message_id: str,
    key: bytes | None,
    value: bytes | None,
    schema: str | None = None,
) -> str:
    """The ``phi-hmac`` header value (``v2``) for a message, made with the newest active key of ``purpose``.

    ``schema`` is the ``phi-schema`` header the message will carry (None: it carries none).
    """
    signing_key = keyring.current(purpose)
    tag = b64(_mac(signing_key.material, SIGNATURE_VERSION, message_id, key, value, schema))
    return f"{SIGNATURE_VERSION}:{signing_key.key_id}:{tag}"


def _parse(signature: str | bytes | None) -> tuple[str, str, bytes]:
    if signature is None or len(signature) == 0:
        raise MissingSignatureError(f"message has no {HEADER_HMAC} header; producers must sign (see docs/contract.md)")
    if isinstance(signature, bytes):
        try:
            signature = signature.decode("ascii")
        except UnicodeDecodeError:
            raise MalformedSignatureError(f"{HEADER_HMAC} header is not ASCII") from None
    if len(signature) > _MAX_HEADER_CHARS:
        raise MalformedSignatureError(f"{HEADER_HMAC} header is {len(signature)} characters; too long")
    parts = signature.split(":")
    if len(parts) != 3:
        raise MalformedSignatureError(f"{HEADER_HMAC} header must be v2:<key-id>:<base64 HMAC-SHA256>")
    version, key_id, tag_text = parts
    if version not in (SIGNATURE_VERSION, LEGACY_SIGNATURE_VERSION):
        raise MalformedSignatureError(f"{HEADER_HMAC} header version is not {SIGNATURE_VERSION}")
    if not _KEY_ID_SYNTAX.match(key_id):
        raise MalformedSignatureError(f"{HEADER_HMAC} header key id is empty or has invalid characters")
    try:
        tag = decode_b64(tag_text, f"{HEADER_HMAC} header MAC")
    except ValueError as exc:
        raise MalformedSignatureError(str(exc)) from None
    if len(tag) != hashlib.sha256().digest_size:
        raise MalformedSignatureError(f"{HEADER_HMAC} header MAC is {len(tag)} bytes; HMAC-SHA256 is 32")
    return version, key_id, tag


def verify(
    keyring: Keyring,
    purpose: KeyPurpose,
    signature: str | bytes | None,
    message_id: str,
    key: bytes | None,
    value: bytes | None,
    schema: str | None = None,
) -> str:
    """Check a ``phi-hmac`` header against the message; return the key id it was signed with.

    ``schema`` is the message's ``phi-schema`` header (None: absent); a ``v1`` signature ignores it
    (see :func:`verify_headers` for what that means). Raises a :class:`SignatureError` subclass (never
    returns False) so a caller cannot forget to check.
    """
    return _verify(keyring, purpose, signature, message_id, key, value, schema)[0]


def _verify(
    keyring: Keyring,
    purpose: KeyPurpose,
    signature: str | bytes | None,
    message_id: str,
    key: bytes | None,
    value: bytes | None,
    schema: str | None,
) -> tuple[str, str]:
    """:func:`verify`'s check: the key id and the signature's version."""
    version, key_id, tag = _parse(signature)
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
    expected = _mac(verifying_key.material, version, message_id, key, value, schema)
    if not hmac.compare_digest(expected, tag):
        raise SignatureMismatchError(
            f"HMAC under key {verifying_key.key_id} does not match the message id, schema, key and value: "
            "the message was altered after signing, or signed with other key material"
        )
    return verifying_key.key_id, version


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
    :func:`canonical_bytes` (message id, schema, key, value), HMAC-SHA256 it with the key, and send
    ``v2:<key-id>:<base64>``.
    """
    return [
        (HEADER_MESSAGE_ID, message_id.encode("utf-8")),
        (HEADER_HMAC, sign(keyring, purpose, message_id, key, value, schema).encode("ascii")),
        (HEADER_SCHEMA, schema.encode("utf-8")),
    ]


@dataclass(frozen=True, slots=True)
class VerifiedMessage:
    """What :func:`verify_headers` learned: the message id, the key id and the schema header (or None).

    ``schema_signed`` is False only for a ``v1`` message read with ``legacy_schema=True``: its schema
    header was not covered by the signature.
    """

    message_id: str
    key_id: str
    schema: str | None
    version: str = SIGNATURE_VERSION
    schema_signed: bool = True


def _single(headers: list[tuple[str, bytes | str | None]], name: str) -> bytes | str | None:
    values = [v for k, v in headers if k == name]
    if len(values) > 1:
        if name == HEADER_MESSAGE_ID:
            raise MessageIdError(f"message carries {len(values)} {name} headers; one allowed")
        raise MalformedSignatureError(f"message carries {len(values)} {name} headers; one allowed")
    return values[0] if values else None


def verify_headers(
    keyring: Keyring,
    purpose: KeyPurpose,
    headers: Iterable[tuple[str, bytes | str | None]],
    key: bytes | None,
    value: bytes | None,
    *,
    legacy_schema: bool = False,
) -> VerifiedMessage:
    """Verify a consumed message from its header list (as aiokafka gives them), before any decoding.

    Every contract header is covered: ``phi-message-id`` and ``phi-schema`` (with the key and value).
    A ``v1`` signature beside a ``phi-schema`` header raises :class:`UnsignedSchemaError`, unless
    ``legacy_schema`` is set (readers of outputs written before ``v2``), which returns it with
    ``schema_signed=False``.
    """
    header_list = list(headers)
    raw_id = _single(header_list, HEADER_MESSAGE_ID)
    if raw_id is None or len(raw_id) == 0:
        raise MessageIdMissingError(f"message has no {HEADER_MESSAGE_ID} header")
    if isinstance(raw_id, bytes):
        try:
            raw_id = raw_id.decode("utf-8")
        except UnicodeDecodeError:
            raise MessageIdError(f"{HEADER_MESSAGE_ID} header is not UTF-8") from None
    if len(raw_id.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_ID_BYTES:
        raise MessageIdError(f"{HEADER_MESSAGE_ID} header is longer than {MAX_MESSAGE_ID_BYTES} bytes")
    raw_schema = _single(header_list, HEADER_SCHEMA)
    if isinstance(raw_schema, bytes):
        try:
            raw_schema = raw_schema.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedSignatureError(f"{HEADER_SCHEMA} header is not UTF-8") from None
    signature = _single(header_list, HEADER_HMAC)
    key_id, version = _verify(keyring, purpose, signature, raw_id, key, value, raw_schema)
    schema_signed = version == SIGNATURE_VERSION or raw_schema is None
    if not schema_signed and not legacy_schema:
        raise UnsignedSchemaError(
            f"{HEADER_HMAC} is a v1 signature, which does not cover the {HEADER_SCHEMA} header the message "
            "carries; sign with v2 (docs/contract.md, section 3.3) or drop the header"
        )
    return VerifiedMessage(raw_id, key_id, raw_schema, version, schema_signed)
