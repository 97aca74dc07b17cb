"""Dead letters: a message that cannot be de-identified, with its original sealed inside.

The original bytes (key, value, headers) are sealed under the dead-letter key, bound to the message id
and to which part they are, so an operator can replay after a fix and nothing is read in clear. A
letter that would not fit the output limit names the input's coordinates only (the original stays on
the input topic until its retention); a letter that cannot be written at all becomes the plainest one.
Nothing here names a value: reasons are codes, details are written by the pipeline, never quoted input.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.core.audit import rejected_event, utc_now_iso
from pipeline.core.codecs import encode_avro
from pipeline.core.crypto.envelope import Encryptor
from pipeline.core.crypto.integrity import HEADER_MESSAGE_ID, HEADER_SCHEMA, SignatureError
from pipeline.core.crypto.keyring import Keyring
from pipeline.core.errors import ProcessingFailed, RejectedMessage
from pipeline.core.messages import (
    DEADLETTER_SCHEMA,
    RECORD_OVERHEAD_BYTES,
    SAFE_ID,
    InboundMessage,
    OutboundMessage,
    derived_message_id,
    output_size,
    safe_header,
    signed_output,
)
from pipeline.core.roles import OutputRole
from pipeline.core.schemas import SchemaRegistry

log = logging.getLogger(__name__)
_MAX_DETAIL_CHARS = 1_000
#: Header names a dead letter lists (safe ones only); a message with thousands of headers must not
#: make its dead letter large.
MAX_LISTED_HEADER_NAMES = 32


@dataclass(frozen=True, slots=True)
class Letter:
    """One input's dead letter and the audit event that records it (codes and coordinates, no value)."""

    message_id: str
    stage: str
    reason: str
    outbound: OutboundMessage
    event: dict[str, Any]


class DeadLetters:
    """Writes the dead letter of one input as ``actor``, sized against the output limit it is given."""

    def __init__(self, keyring: Keyring, registry: SchemaRegistry, max_message_bytes: int, actor: str) -> None:
        self.keyring = keyring
        self.encryptor = Encryptor(keyring)
        self.max_message_bytes = max_message_bytes
        self.actor = actor
        self._schema = registry.get(DEADLETTER_SCHEMA)

    def for_failure(
        self, message: InboundMessage, exc: BaseException, stage: str, verified_id: str | None, max_output_bytes: int
    ) -> Letter:
        """The letter for ``exc`` raised in ``stage``: a rejection's own reason, stage and detail; for any
        other exception, its class and the stage only (an exception's text may quote a value)."""
        if isinstance(exc, RejectedMessage):
            reason, stage, detail = exc.reason, exc.stage, exc.detail
        elif isinstance(exc, SignatureError):
            reason, stage, detail = exc.reason, "verify", str(exc)
        else:
            reason = ProcessingFailed.reason
            detail = f"unexpected {type(exc).__name__} in stage {stage}"
            log.warning(
                "%s: unexpected %s in stage %s; the message is dead-lettered (processing-error), its batch goes on",
                message.source,
                type(exc).__name__,
                stage,
            )
        return self.letter(message, reason, stage, detail, verified_id, max_output_bytes)

    def letter(
        self,
        message: InboundMessage,
        reason: str,
        stage: str,
        detail: str,
        verified_id: str | None,
        max_output_bytes: int,
        keep_original: bool = True,
    ) -> Letter:
        """The letter with the original sealed inside when it fits, else its coordinates only."""
        message_id = verified_id or derived_message_id(message)
        detail = detail[:_MAX_DETAIL_CHARS]
        original = _original_size(message)
        keep = keep_original and original <= self.max_message_bytes
        try:
            outbound = self._letter(message, message_id, reason, stage, detail, verified_id, keep, original)
            if keep and outbound.size > max_output_bytes:
                keep = False
                outbound = self._letter(message, message_id, reason, stage, detail, verified_id, keep, original)
        except Exception as exc:  # never lose the message: the plainest letter there is
            log.warning("%s: its dead letter failed (%s); coordinates only", message.source, type(exc).__name__)
            keep = False
            outbound = self._letter(
                message, message_id, reason, stage, f"{reason} in stage {stage}", verified_id, keep, original, bare=True
            )
        if outbound.size > max_output_bytes:
            log.error(
                "%s: even a coordinates-only dead letter (%d bytes) exceeds the output limit (%d bytes); "
                "raise the producer's and brokers' message size limits",
                message.source,
                outbound.size,
                max_output_bytes,
            )
        event = rejected_event(
            actor=self.actor,
            message_id=message_id,
            stage=stage,
            reason=reason,
            source=message.source,
            schema=safe_header(message.headers, HEADER_SCHEMA),
        )
        return Letter(message_id, stage, reason, outbound, event)

    def _letter(
        self,
        message: InboundMessage,
        message_id: str,
        reason: str,
        stage: str,
        detail: str,
        verified_id: str | None,
        keep: bool,
        original: int,
        bare: bool = False,
    ) -> OutboundMessage:
        if not keep:
            detail = (
                f"{detail}; the original ({original} bytes with key and headers) is not copied here: "
                f"it stays at {message.source} until the input topic's retention"
            )
        claimed = None if verified_id or bare else safe_header(message.headers, HEADER_MESSAGE_ID)
        letter = {
            "message_id": message_id,
            "reason": reason,
            "stage": stage,
            "detail": detail,
            "source_topic": message.topic,
            "source_partition": message.partition,
            "source_offset": message.offset,
            "source_timestamp_ms": message.timestamp_ms,
            "schema": None if bare else safe_header(message.headers, HEADER_SCHEMA),
            "header_names": [] if bare else _listed_header_names(message.headers),
            "value_size": len(message.value or b""),
            "sealed_key": self._seal(message.key, message_id, "key") if keep else None,
            "sealed_value": self._seal(message.value, message_id, "value") if keep else None,
            "sealed_headers": self._seal(_headers_bytes(message.headers), message_id, "headers") if keep else None,
            "claimed_message_id": claimed,
            "time": utc_now_iso(),
        }
        value = encode_avro(self._schema, letter)
        return signed_output(self.keyring, OutputRole.DEADLETTER, None, value, message_id, self._schema.ref)

    def _seal(self, data: bytes | None, message_id: str, part: str) -> str | None:
        """Original bytes under the dead-letter key, bound to the message id and to which part they are."""
        if data is None:
            return None
        return self.encryptor.seal_bytes(data, message_id, context=f"deadletter/{part}")


def _original_size(message: InboundMessage) -> int:
    """What copying the input into a dead letter costs: key, value, and every header name and value."""
    return output_size(message.key, message.value, message.headers) - RECORD_OVERHEAD_BYTES


def _headers_bytes(headers: Sequence[tuple[str, bytes]]) -> bytes:
    return json.dumps(
        [[name, base64.b64encode(value or b"").decode("ascii")] for name, value in headers],
        ensure_ascii=True,
    ).encode("ascii")


def _listed_header_names(headers: Sequence[tuple[str, bytes]]) -> list[str]:
    names = sorted({name for name, _ in headers if SAFE_ID.match(name)})
    return names[:MAX_LISTED_HEADER_NAMES]
