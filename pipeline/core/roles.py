"""The fixed vocabulary of the pipeline's outputs: what each message a batch produces is for, and how a
message ended. Enums rather than strings, so a misspelt role ('summaries' against 'summary') is an
error where it is written, not a KeyError when the first summary is sent."""

from __future__ import annotations

from enum import StrEnum


class OutputRole(StrEnum):
    """What an outbound message is; the stream layer maps each role to one topic (``Settings.topic_for``)."""

    REDACTED = "redacted"
    DEADLETTER = "deadletter"
    AUDIT = "audit"
    SUMMARY = "summary"
    RESTRICTED = "restricted"  # de-identified records of a sensitive category the policy restricts


class Outcome(StrEnum):
    """How one input message ended: one output, or one dead letter."""

    OK = "ok"
    DEADLETTER = "deadletter"
