"""``phi-pipeline summarize [FILE|-]``: note summaries of JSONL notes outside Kafka, as the worker makes them.

Reads ``{"id", "text"}`` lines and writes ``{"id", "summary", "method", "reason"}``. Each note goes the
worker's own way: wrapped in a ``clinical_record``, signed with an ingest key, de-identified by the
redaction agent's core (:class:`RecordProcessor`: detection, transformation, sensitive categories) and then
summarized by the summary agent's core (:class:`SummaryProcessor`: generator or extractive summarizer, PHI
re-scan, faithfulness guard) from the signed redacted record. So a file summarizes exactly as the stream
would, and the summarizer never sees the original text.

Settings are the worker's (``PHI_*``): the method is ``PHI_SUMMARIZER=extractive`` or a model folder in
``PHI_SUMMARIZER_MODEL``, and neither is an error at start. Keys are a throwaway keyring unless
``--keyring-from-settings`` (the signatures never leave the process). Input handling is ``detect``'s: a
bad line stops the run with exit status 2 after the lines before it are written, unless ``--skip-invalid``.
``method`` is ``generated``, ``extractive`` or ``skipped`` (a note whose sensitive category drops its
summary, or a note the redaction core refused: ``reason`` says which, as a code, never a value).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

from pipeline.config import Settings
from pipeline.core.codecs import decode_avro, encode_avro
from pipeline.core.crypto.integrity import HEADER_MESSAGE_ID, signed_headers
from pipeline.core.crypto.keyring import KeyPurpose, Keyring
from pipeline.core.errors import PipelineError
from pipeline.core.messages import InboundMessage
from pipeline.core.processing import RecordProcessor
from pipeline.core.roles import Outcome, OutputRole
from pipeline.core.summary_processing import SUMMARY_SCHEMA, SummaryProcessor
from pipeline.interfaces.detect_commands import run_jsonl

_BATCH = 8
#: The record a plain note travels in: the note is its only free text; the structured fields are fixed
#: stand-ins (never the note's), protected by the policy like any record's and not written out.
_STAND_IN = {"patient_name": "-", "mrn": "-", "date_of_birth": "1900-01-01", "admission_date": "1900-01-01"}


def register(subparsers: argparse._SubParsersAction) -> None:
    summarize = subparsers.add_parser(
        "summarize",
        help="summaries of JSONL notes {id, text}, redacted first and summarized as the worker does",
    )
    summarize.add_argument("input", nargs="?", default="-", help="JSONL file, or - for standard input (default)")
    summarize.add_argument("-o", "--output", default="-", help="where to write JSONL (default standard output)")
    summarize.add_argument(
        "--skip-invalid",
        action="store_true",
        help="skip lines that are not UTF-8 JSON objects with a string 'text' (their numbers go to stderr)",
    )
    summarize.add_argument(
        "--keyring-from-settings",
        action="store_true",
        help="sign with the configured keyring (PHI_KEYRING_PATH) instead of a throwaway one",
    )
    summarize.add_argument("--batch-size", type=int, default=_BATCH, help=f"notes per batch (default {_BATCH})")
    summarize.set_defaults(func=run_summarize)


@dataclass
class NoteSummarizer:
    """The worker's two cores, fed plain notes: redact, then summarize the signed redacted record."""

    processor: RecordProcessor
    summaries: SummaryProcessor
    keyring: Keyring
    input_schema: str

    @classmethod
    def from_settings(cls, settings: Settings, keyring: Keyring) -> NoteSummarizer:
        from pipeline.runtime.assembly import build_processor, build_summary_processor

        processor = build_processor(settings, keyring)
        return cls(processor, build_summary_processor(settings, processor), keyring, settings.input_schema)

    def redact(self, notes: Sequence[str]) -> list[tuple[InboundMessage | None, str | None]]:
        """Per note, the signed redacted record as the summary agent receives it, or None and the reason the
        redaction core refused it."""
        entry = self.processor.registry.get(self.input_schema)
        inbound = []
        for number, note in enumerate(notes):
            record = {**_STAND_IN, "record_id": f"note-{number}", "patient_id": f"note-{number}", "note": note}
            value = encode_avro(entry, record)
            headers = signed_headers(self.keyring, f"note-{number}", None, value, entry.ref, KeyPurpose.INGEST_HMAC)
            inbound.append(InboundMessage(value, None, tuple(headers), "summarize-input", 0, number))
        out: list[tuple[InboundMessage | None, str | None]] = []
        for number, result in enumerate(self.processor.process_batch(inbound)):
            redacted = [o for o in result.outputs if o.role == OutputRole.REDACTED]
            if result.outcome is not Outcome.OK or not redacted:
                out.append((None, result.reason or result.outcome.value))
                continue
            o = redacted[0]
            out.append((InboundMessage(o.value, o.key, tuple(o.headers), "redacted", 0, number), None))
        return out

    def redacted_note(self, message: InboundMessage) -> str:
        """The note text of a redacted record (what the summarizer reads)."""
        schema = dict(message.headers)["phi-schema"].decode("utf-8")
        return str(decode_avro(self.processor.registry.get(schema), message.value or b"").get("note") or "")

    def summarize(self, notes: Sequence[str]) -> list[dict[str, str | None]]:
        """``{"summary", "method", "reason"}`` per note, in order."""
        redacted = self.redact(notes)
        messages = [m for m, _ in redacted if m is not None]
        by_id: dict[str, dict[str, str | None]] = {}
        schema = self.processor.registry.get(SUMMARY_SCHEMA)
        for result in self.summaries.process_batch(messages):
            summary = next((o for o in result.outputs if o.role == OutputRole.SUMMARY), None)
            if summary is None:
                by_id[result.message_id] = {"summary": None, "method": "skipped", "reason": result.reason}
                continue
            record = decode_avro(schema, summary.value or b"")
            by_id[result.message_id] = {
                "summary": record["summary"],
                "method": record["method"],
                "reason": record["fallback_reason"],
            }
        out = []
        for message, refused in redacted:
            if message is None:
                out.append({"summary": None, "method": "skipped", "reason": refused})
            else:
                message_id = dict(message.headers)[HEADER_MESSAGE_ID].decode("utf-8")
                out.append(by_id[message_id])
        return out


def run_summarize(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
        if args.keyring_from_settings:
            from pipeline.interfaces.components import load_keyring

            keyring = load_keyring(settings)
        else:
            keyring = Keyring.generate()
        summarizer = NoteSummarizer.from_settings(settings, keyring)
    except PipelineError as exc:
        print(f"summarize: {exc}", file=sys.stderr)
        return 2
    method = summarizer.summaries.model_name or "extractive (PHI_SUMMARIZER=extractive)"
    print(f"summarize: {method}", file=sys.stderr)
    return run_jsonl(args, "summarize", lambda batch, sink: write_batch(summarizer, batch, sink))


def write_batch(summarizer: NoteSummarizer, batch: list[tuple[object, str]], sink: IO[str]) -> None:
    for (record_id, _), result in zip(batch, summarizer.summarize([text for _, text in batch]), strict=True):
        sink.write(json.dumps({"id": record_id, **result}, ensure_ascii=False) + "\n")
