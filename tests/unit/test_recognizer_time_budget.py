"""Every recognizer stays linear on crafted notes: 200,000 characters of the shapes that make regexes backtrack.

A quadratic pattern (an unbounded repetition inside a bounded one) held a worker for 32 s on 100 k
characters of repeated "O'"; a 1 MB note would have held it for an hour. Each recognizer gets a fixed
budget per input, far above what a linear pass needs on a loaded 2-core machine and far below what a
quadratic one takes at this size.
"""

from __future__ import annotations

import time

import pytest

from pipeline.core.detection.base import Doc
from pipeline.core.detection.registry import default_recognizers

SIZE = 200_000
BUDGET_SECONDS = 6.0
UNITS = ("O'", "A.", "Aa ", "1 ", "1 A ", "St ", "Dr. ", "9/", "1-", "a@", "x", "MR ", "AA-")
ATTACKS = {unit: (unit * (SIZE // len(unit) + 1))[:SIZE] for unit in UNITS}


@pytest.mark.slow
@pytest.mark.parametrize("recognizer", default_recognizers(), ids=lambda r: r.name)
def test_recognizer_is_linear_on_adversarial_input(recognizer):
    slowest = (0.0, "")
    for unit, text in ATTACKS.items():
        doc = Doc.of(text)
        started = time.perf_counter()
        for _ in recognizer.find(doc):
            pass
        elapsed = time.perf_counter() - started
        slowest = max(slowest, (elapsed, unit))
    assert slowest[0] < BUDGET_SECONDS, f"{recognizer.name}: {slowest[0]:.1f}s on {SIZE} chars of {slowest[1]!r}"
