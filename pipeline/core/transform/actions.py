"""The actions a policy can ask for, per PHI type; shared by free-text and structured-field protection."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    """What to do with one detected value. Values are stable strings used in policies and schemas."""

    REDACT = "redact"
    TOKENIZE = "tokenize"
    ENCRYPT = "encrypt"
    SURROGATE = "surrogate"
    SHIFT = "shift"
    GENERALIZE = "generalize"
    KEEP = "keep"
