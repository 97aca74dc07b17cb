"""Ages over 89, the only ages Safe Harbor counts as identifiers. The span covers the number only."""

from __future__ import annotations

import re

from pipeline.core.detection.base import Gate, Pattern, PatternRecognizer
from pipeline.core.phi_types import PhiType

_OLD = r"(?P<age>9\d|1[0-2]\d)"


class AgeOver89Recognizer(PatternRecognizer):
    """'92 yo', '95-year-old', 'aged 91', 'age: 104', 'in her 90s'; younger ages are left alone."""

    def __init__(self) -> None:
        super().__init__(
            "age_over_89",
            PhiType.AGE,
            [
                Pattern(
                    "age_unit",
                    re.compile(
                        r"(?P<age>9(?<![\w.]9)\d|1(?<![\w.]1)[0-2]\d)(?:\s*|-)(?i:yo|y/o|y\.o\.?|yrs?\.?(?:\s*old)?"
                        r"|years?(?:[- ]old|\s+of\s+age)?|-year-old|year-old|y)(?![A-Za-z])"
                    ),
                    0.9,
                    "age",
                ),
                Pattern(
                    "age_label",
                    re.compile(rf"(?i:(?<![a-z])(?:aged?|age\s*:|age\s+of|ages))\s*{_OLD}(?![\w.])"),
                    0.9,
                    "age",
                    Gate(words=("age",)),
                ),
                Pattern(
                    "age_decade",
                    re.compile(r"(?i:(?<![a-z])(?:his|her|their|early|mid|late)[\s-]+)(?P<age>90s|nineties|100s)\b"),
                    0.8,
                    "age",
                    Gate(re.compile("90s|nineties|100s")),
                ),
                Pattern(
                    "age_word",
                    re.compile(r"(?i)\b(?:nonagenarian|centenarian|supercentenarian)\b"),
                    0.7,
                    gate=Gate(words=("nonagenarian", "centenarian")),
                ),
            ],
        )
