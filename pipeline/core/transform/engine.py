"""Apply a policy to the detected spans of one text and record where each replacement landed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span, disjoint_spans
from pipeline.core.transform.actions import Action
from pipeline.core.transform.context import TransformContext
from pipeline.core.transform.errors import OperatorUnavailableError
from pipeline.core.transform.operators import OPERATORS
from pipeline.core.transform.operators.base import placeholder
from pipeline.core.transform.policy import validate_policy


@dataclass(frozen=True, slots=True)
class OutputSpan:
    """Where a replacement sits in the OUTPUT text (end exclusive), its type and the action applied."""

    start: int
    end: int
    type: PhiType
    action: Action


@dataclass(slots=True)
class TransformedText:
    """The de-identified text and its spans. ``action`` is what was applied: a value an operator could not
    handle (an unparseable date under 'shift') is redacted, and says so."""

    text: str
    spans: list[OutputSpan] = field(default_factory=list)


def transform_text(
    text: str, spans: Sequence[Span], policy: Mapping[PhiType, Action], ctx: TransformContext
) -> TransformedText:
    """Replace each span's value as ``policy`` says (types missing from it are redacted).

    Spans may arrive in any order; overlapping spans are joined first (the higher-scoring one's type
    wins) so every detected character is covered exactly once.
    """
    validate_policy(policy)
    ordered = _disjoint(spans, len(text))
    _require_callables(ordered, policy, ctx)
    pieces: list[str] = []
    out_spans: list[OutputSpan] = []
    cursor = 0
    length = 0
    for span in ordered:
        before = text[cursor : span.start]
        pieces.append(before)
        length += len(before)
        action = policy.get(span.type, Action.REDACT)
        value = text[span.start : span.end]
        replacement = OPERATORS[action].apply(value, span.type, ctx)
        if not replacement or (replacement == value and action is not Action.KEEP):
            replacement, action = placeholder(span.type), Action.REDACT
        pieces.append(replacement)
        out_spans.append(OutputSpan(length, length + len(replacement), span.type, action))
        length += len(replacement)
        cursor = span.end
    pieces.append(text[cursor:])
    return TransformedText("".join(pieces), out_spans)


def _disjoint(spans: Sequence[Span], text_length: int) -> list[Span]:
    dropped = [s for s in spans if s.end > text_length]
    if dropped:
        raise ValueError(f"{len(dropped)} span(s) end past the text ({text_length} characters)")
    return disjoint_spans(spans)


def _require_callables(spans: Sequence[Span], policy: Mapping[PhiType, Action], ctx: TransformContext) -> None:
    """Fail before any work when the policy needs a tokenizer or encryptor the context lacks."""
    for span in spans:
        action = policy.get(span.type, Action.REDACT)
        if (action is Action.TOKENIZE and ctx.tokenize is None) or (action is Action.ENCRYPT and ctx.encrypt is None):
            verb = "tokenizes" if action is Action.TOKENIZE else "encrypts"
            field_name = "tokenize" if action is Action.TOKENIZE else "encrypt"
            raise OperatorUnavailableError(
                f"the policy {verb} {span.type.value} but TransformContext.{field_name} is None; "
                f"pass a callable (value, phi_type) -> str or change the policy's action"
            )
