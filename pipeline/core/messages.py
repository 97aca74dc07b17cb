"""The messages a worker reads and writes, and the signing every output carries.

:class:`InboundMessage` is a consumed message as the broker gave it; :class:`OutboundMessage` one to
send, its topic named by its role. Every output is signed under the egress key (:func:`signed_output`);
audit events are chained as well (:func:`audit_output`). Sizes are counted as producers and brokers
count them (:func:`output_size`), so an output is checked against their limits before it is sent.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.core.avro_writer import RepeatedMaps
from pipeline.core.codecs import encode_avro
from pipeline.core.crypto.audit_chain import AuditChain
from pipeline.core.crypto.integrity import HEADER_HMAC, HEADER_MESSAGE_ID, HEADER_SCHEMA, sign
from pipeline.core.crypto.keyring import KeyPurpose, Keyring
from pipeline.core.roles import OutputRole
from pipeline.core.schemas import SchemaEntry

SAFE_ID = re.compile(r"^[A-Za-z0-9._:@/-]{1,128}\Z")  # \Z: "$" would also take a trailing newline
DEADLETTER_SCHEMA = "dead_letter"
AUDIT_SCHEMA = "audit_event"
#: Bytes a record costs beyond its key, value and headers in a Kafka record batch, rounded up (batch
#: header 61, record overhead at most 21, and up to 10 bytes of varints per header).
RECORD_OVERHEAD_BYTES = 128
HEADER_OVERHEAD_BYTES = 10


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A consumed message as the broker gave it."""

    value: bytes | None
    key: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None

    @property
    def source(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message to send; ``role`` is mapped to a topic by the stream layer (``Settings.topic_for``)."""

    role: OutputRole
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    @property
    def size(self) -> int:
        """An upper bound on what this message costs against a producer's or a broker's size limit:
        key, value, every header name and value, and the record's framing."""
        return output_size(self.key, self.value, self.headers)


def output_limit(max_message_bytes: int) -> int:
    """The largest output the pipeline sends for inputs up to ``max_message_bytes``."""
    return 2 * max_message_bytes + 65_536


def output_size(key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes | None]]) -> int:
    """An upper bound on a record's size as producers and brokers count it: key, value, each header's
    name and value, and framing."""
    size = RECORD_OVERHEAD_BYTES + len(key or b"") + len(value or b"")
    for name, header_value in headers:
        size += HEADER_OVERHEAD_BYTES + len(name.encode("utf-8", "surrogatepass")) + len(header_value or b"")
    return size


def signed_output(
    keyring: Keyring, role: OutputRole, key: bytes | None, value: bytes, message_id: str, schema: str
) -> OutboundMessage:
    """Every output carries the message id, the schema and an HMAC over both, the key and the value,
    under the egress key."""
    signature = sign(keyring, KeyPurpose.EGRESS_HMAC, message_id, key, value, schema)
    headers = (
        (HEADER_MESSAGE_ID, message_id.encode("utf-8")),
        (HEADER_HMAC, signature.encode("ascii")),
        (HEADER_SCHEMA, schema.encode("utf-8")),
    )
    return OutboundMessage(role, key, value, headers)


def audit_output(keyring: Keyring, schema: SchemaEntry, chain: AuditChain, event: dict[str, Any]) -> OutboundMessage:
    """Chain, encode and sign an audit event, keyed by its chain id so a chain stays in one partition
    and readers see its events in order."""
    chained = chain.append(event)
    key = chained["chain_id"].encode("utf-8")
    value = _encode_event(schema, chained)
    return signed_output(keyring, OutputRole.AUDIT, key, value, chained["event_id"], schema.ref)


#: Per audit schema (by identity, the entry kept): its maps' encodings, which repeat from event to event.
_EVENT_MAPS: dict[int, tuple[SchemaEntry, RepeatedMaps]] = {}


def _encode_event(schema: SchemaEntry, event: dict[str, Any]) -> bytes:
    """The event's Avro bytes, its maps copied from earlier events' where they are the same."""
    if schema.writer is not None:
        found = _EVENT_MAPS.get(id(schema))
        if found is None or found[0] is not schema:
            found = _EVENT_MAPS[id(schema)] = (schema, RepeatedMaps(schema.parsed))
        try:
            return schema.writer(found[1].shared(event))
        except Exception:  # noqa: S110 - a value the compiled writer does not take: fastavro writes it below
            pass
    return encode_avro(schema, event)


def header(headers: Sequence[tuple[str, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == name and value is not None:
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                return None
    return None


def safe_header(headers: Sequence[tuple[str, bytes]], name: str) -> str | None:
    value = header(headers, name)
    return value if value is not None and SAFE_ID.match(value) else None


def derived_message_id(message: InboundMessage) -> str:
    """The id of a message whose own id cannot be trusted (it failed verification, or has none):
    derived from its coordinates, so a replayed input gets the same one."""
    digest = hashlib.sha256(message.source.encode("utf-8")).hexdigest()[:32]
    return f"derived-{digest}"
