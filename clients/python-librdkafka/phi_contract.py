"""The phi-pipeline wire contract (docs/contract.md), implemented from the spec alone.

Standard library only: hashlib, hmac, base64, json, struct, uuid. This module does not import the
pipeline; it is what a team writing a producer or consumer in another language has to reproduce.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import struct
import uuid
from pathlib import Path

HEADER_MESSAGE_ID = "phi-message-id"
HEADER_HMAC = "phi-hmac"
HEADER_SCHEMA = "phi-schema"
DOMAIN = {"v1": b"phi-pipeline/hmac/v1", "v2": b"phi-pipeline/hmac/v2"}
MESSAGE_ID = re.compile(r"[A-Za-z0-9._:@/-]{1,128}")
KEY_ID = re.compile(r"(ingest-hmac|egress-hmac)-v([1-9][0-9]{0,8})")


class ContractError(Exception):
    """A message or keyring that breaks the contract; ``reason`` is the contract's reason code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def field(data: bytes | None) -> bytes:
    """One field of the signed bytes: presence byte, 8-byte big-endian length, the bytes."""
    if data is None:
        return struct.pack(">BQ", 0, 0)
    return struct.pack(">BQ", 1, len(data)) + data


def signed_bytes(version: str, message_id: str, schema: str | None, key: bytes | None, value: bytes | None) -> bytes:
    """The bytes the HMAC covers: v2 has the schema field, v1 does not."""
    parts = [field(DOMAIN[version]), field(message_id.encode("utf-8"))]
    if version == "v2":
        parts.append(field(None if schema is None else schema.encode("utf-8")))
    parts += [field(key), field(value)]
    return b"".join(parts)


def mac_text(material: bytes, data: bytes) -> str:
    """HMAC-SHA256 of ``data``, as standard base64 with padding (44 characters)."""
    return base64.b64encode(hmac.new(material, data, hashlib.sha256).digest()).decode("ascii")


def sign(
    key_id: str, material: bytes, message_id: str, schema: str | None, key: bytes | None, value: bytes | None
) -> str:
    """The ``phi-hmac`` header value (v2)."""
    return f"v2:{key_id}:{mac_text(material, signed_bytes('v2', message_id, schema, key, value))}"


def new_message_id() -> str:
    message_id = f"msg-{uuid.uuid4().hex}"
    assert MESSAGE_ID.fullmatch(message_id)
    return message_id


def signed_headers(
    key_id: str, material: bytes, message_id: str, schema: str, key: bytes | None, value: bytes | None
) -> list[tuple[str, bytes]]:
    return [
        (HEADER_MESSAGE_ID, message_id.encode("utf-8")),
        (HEADER_HMAC, sign(key_id, material, message_id, schema, key, value).encode("ascii")),
        (HEADER_SCHEMA, schema.encode("utf-8")),
    ]


class HmacKeys:
    """The HMAC keys of a keyring file (format ``phi-pipeline-keyring`` version 1), by key id."""

    def __init__(self, path: str | Path) -> None:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        if document.get("format") != "phi-pipeline-keyring" or document.get("format_version") != 1:
            raise ContractError("keyring", "not a phi-pipeline-keyring version 1 file")
        self.keys: dict[str, tuple[str, int, str, bytes]] = {}
        for entry in document["keys"]:
            if entry["purpose"] in ("ingest-hmac", "egress-hmac"):
                material = base64.b64decode(entry["material"], validate=True)
                self.keys[entry["key_id"]] = (entry["purpose"], entry["version"], entry["status"], material)

    def signing_key(self, purpose: str = "ingest-hmac") -> tuple[str, bytes]:
        """The newest active key of ``purpose``: (key id, material)."""
        active = [(v, kid, m) for kid, (p, v, s, m) in self.keys.items() if p == purpose and s == "active"]
        if not active:
            raise ContractError("keyring", f"no active {purpose} key")
        _, key_id, material = max(active)
        return key_id, material

    def verify(
        self,
        headers: list[tuple[str, bytes | None]],
        key: bytes | None,
        value: bytes | None,
        purpose: str = "egress-hmac",
    ) -> tuple[str, str | None]:
        """Check a consumed message; returns (message id, schema) or raises :class:`ContractError`."""

        def single(name: str, duplicate_reason: str) -> bytes | None:
            found = [v for k, v in headers if k == name]
            if len(found) > 1:
                raise ContractError(duplicate_reason, f"{len(found)} {name} headers")
            return found[0] if found else None

        raw_id = single(HEADER_MESSAGE_ID, "message-id-invalid")
        if not raw_id:
            raise ContractError("message-id-missing", "no phi-message-id")
        message_id = raw_id.decode("utf-8")
        raw_schema = single(HEADER_SCHEMA, "hmac-malformed")
        schema = None if raw_schema is None else raw_schema.decode("utf-8")
        header = single(HEADER_HMAC, "hmac-malformed")
        if not header:
            raise ContractError("hmac-missing", "no phi-hmac")
        parts = header.decode("ascii").split(":")
        if len(parts) != 3 or parts[0] not in DOMAIN:
            raise ContractError("hmac-malformed", "not v2:<key-id>:<base64>")
        version, key_id, text = parts
        entry = self.keys.get(key_id)
        if entry is None:
            raise ContractError("hmac-unknown-key", key_id if KEY_ID.fullmatch(key_id) else "?")
        if entry[0] != purpose:
            raise ContractError("hmac-wrong-purpose", key_id)
        if entry[2] != "active":
            raise ContractError("hmac-retired-key", key_id)
        expected = mac_text(entry[3], signed_bytes(version, message_id, schema, key, value))
        if not hmac.compare_digest(expected.encode("ascii"), text.encode("ascii")):
            raise ContractError("hmac-mismatch", "MAC does not match")
        if version == "v1" and schema is not None:
            raise ContractError("hmac-schema-unsigned", "a v1 MAC does not cover phi-schema")
        return message_id, schema
