"""Build signed input messages the way a producer must: encode, choose a message id, sign.

Used by ``phi-pipeline produce``, the demo, tests and benchmarks, and a worked example for
producers written elsewhere (the signature recipe itself is in :mod:`pipeline.core.crypto.integrity`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

from pipeline.core.codecs import encode_avro, encode_confluent, encode_json
from pipeline.core.crypto.integrity import HEADER_HMAC, HEADER_MESSAGE_ID, signed_headers
from pipeline.core.crypto.keyring import Key, KeyPurpose, Keyring
from pipeline.core.schemas import SchemaEntry
from pipeline.devtools.synthetic import hostile_inputs

ENCODINGS = ("avro", "json", "confluent")


@dataclass(frozen=True, slots=True)
class SignedInput:
    message_id: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def encode_record(entry: SchemaEntry, record: dict[str, Any], encoding: str) -> bytes:
    if encoding == "avro":
        return encode_avro(entry, record)
    if encoding == "json":
        return encode_json(record)
    if encoding == "confluent":
        return encode_confluent(entry, record)
    raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}")


def new_message_id() -> str:
    return f"msg-{uuid.uuid4().hex}"


def signed_input(
    keyring: Keyring,
    schema_ref: str,
    value: bytes,
    key: str | bytes | None,
    message_id: str | None = None,
) -> SignedInput:
    """Sign already-encoded bytes (any bytes, so tests can sign hostile payloads too)."""
    key_bytes = key.encode("utf-8") if isinstance(key, str) else key
    message_id = message_id or new_message_id()
    headers = signed_headers(keyring, message_id, key_bytes, value, schema_ref)
    return SignedInput(message_id, key_bytes, value, headers)


@dataclass(frozen=True, slots=True)
class HostileMessage:
    """A bad input, signed or mis-signed as its kind needs, and the dead-letter reason it must get."""

    kind: str
    expected_reason: str
    message: SignedInput


def hostile_messages(
    keyring: Keyring, entry: SchemaEntry, record: dict[str, Any], key: str, max_bytes: int
) -> list[HostileMessage]:
    """Every kind of bad payload (properly signed, so it fails later) plus every kind of bad signature."""
    valid_avro = encode_avro(entry, record)
    payloads = hostile_inputs(valid_avro, encode_json(record), max_bytes)
    out = [
        HostileMessage(h.kind, h.expected_reason, signed_input(keyring, h.schema_ref or entry.ref, h.value, key))
        for h in payloads
    ]

    def good() -> SignedInput:  # a fresh, correctly signed message for each variant: no id is reused
        return signed_input(keyring, entry.ref, valid_avro, key)

    flipped = bytearray(valid_avro)
    flipped[len(flipped) // 2] ^= 0x01
    out.append(HostileMessage("tampered-value", "hmac-mismatch", replace(good(), value=bytes(flipped))))
    out.append(HostileMessage("tampered-key", "hmac-mismatch", replace(good(), key=(key + "x").encode())))
    foreign = Keyring([Key.new(KeyPurpose.INGEST_HMAC, 99)])
    out.append(HostileMessage("unknown-key-id", "hmac-unknown-key", signed_input(foreign, entry.ref, valid_avro, key)))
    for kind, reason, edit in (
        ("unsigned", "hmac-missing", lambda n, v: None if n == HEADER_HMAC else v),
        ("malformed-signature", "hmac-malformed", lambda n, v: b"v1:not-a-signature" if n == HEADER_HMAC else v),
        ("no-message-id", "message-id-missing", lambda n, v: None if n == HEADER_MESSAGE_ID else v),
    ):
        message = good()
        headers = [(n, edit(n, v)) for n, v in message.headers]
        out.append(
            HostileMessage(kind, reason, replace(message, headers=[(n, v) for n, v in headers if v is not None]))
        )
    return out
