"""Bounded work per message: a text budget and a detection time budget, past which a message is
dead-lettered (``text-too-large``, ``detect-timeout``) instead of holding its partition.

Policy patterns run on RE2 (linear time) and the repetitions and components of a field are detected
as one text, so work grows with the size of the text; these two budgets bound that size and the time.
The time budget is checked between chunks of a batch: a batch that runs past it is retried message by
message by the record processor, and a message that alone runs past it is the one dead-lettered.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

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


class BudgetedDetector:
    """A detector whose batch stops with :class:`DetectTimeout` once it has run past ``seconds``.

    Spans never depend on a text's batch neighbours, so the texts are detected in chunks of about
    :data:`CHUNK_CHARS` characters and the clock is read between chunks; every other attribute is the
    wrapped detector's."""

    def __init__(self, inner: object, seconds: float) -> None:
        self.inner = inner
        self.seconds = seconds

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def detect(self, text: str) -> list[Span]:
        return self.detect_batch([text])[0]

    def detect_batch(self, texts: Sequence[str]) -> list[list[Span]]:
        started = time.perf_counter()
        found: list[list[Span]] = []
        chunk: list[str] = []
        size = 0
        for text in texts:
            chunk.append(text)
            size += len(text)
            if size >= CHUNK_CHARS:
                found.extend(self._run(chunk, started))
                chunk, size = [], 0
        if chunk:
            found.extend(self._run(chunk, started))
        return found

    def _run(self, chunk: list[str], started: float) -> list[list[Span]]:
        result = list(self.inner.detect_batch(chunk))  # type: ignore[attr-defined]
        elapsed = time.perf_counter() - started
        if elapsed > self.seconds:
            raise DetectTimeout(
                STAGE,
                f"detection ran {elapsed:.1f}s, past the budget of {self.seconds:g}s (PHI_DETECT_BUDGET_SECONDS)",
            )
        return result
