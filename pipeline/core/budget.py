"""Bounded work per message: a text budget and a detection time budget, past which a message is
dead-lettered (``text-too-large``, ``detect-timeout``) instead of holding its partition.

Policy patterns run on RE2 (linear time) and the repetitions and components of a field are detected
as one text, so work grows with the size of the text; these two budgets bound that size and the time.
The time budget is checked between chunks of a batch (:func:`detect_within`): a batch that runs past
it is retried message by message by the record processor, and a message that alone runs past it is
the one dead-lettered.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from pipeline.core.errors import DetectTimeout, TextTooLarge
from pipeline.core.spans import Span

STAGE = "detect"
#: Characters detected per call between two checks of the clock.
CHUNK_CHARS = 16_384


def check_text_budget(texts: Sequence[str], max_chars: int | None) -> None:
    """Raise :class:`TextTooLarge` when the texts of one message exceed ``max_chars`` in all."""
    if max_chars is None:
        return
    total = sum(len(text) for text in texts)
    if total > max_chars:
        raise TextTooLarge(
            STAGE,
            f"the message has {total} characters of text to detect; the limit is {max_chars} (PHI_MAX_TEXT_CHARS)",
        )


def detect_within(detector: Any, texts: Sequence[str], seconds: float | None) -> list[list[Span]]:
    """``detector.detect_batch(texts)``, stopped with :class:`DetectTimeout` once it has run past ``seconds``
    (None: no budget). Spans never depend on a text's batch neighbours, so the texts are detected in
    chunks of about :data:`CHUNK_CHARS` characters and the clock is read between chunks."""
    if seconds is None:
        return list(detector.detect_batch(texts))
    started = time.perf_counter()
    found: list[list[Span]] = []
    chunk: list[str] = []
    size = 0
    for number, text in enumerate(texts):
        chunk.append(text)
        size += len(text)
        if size >= CHUNK_CHARS or number == len(texts) - 1:
            found.extend(detector.detect_batch(chunk))
            chunk, size = [], 0
            elapsed = time.perf_counter() - started
            if elapsed > seconds:
                raise DetectTimeout(
                    STAGE,
                    f"detection ran {elapsed:.1f}s, past the budget of {seconds:g}s (PHI_DETECT_BUDGET_SECONDS)",
                )
    return found
