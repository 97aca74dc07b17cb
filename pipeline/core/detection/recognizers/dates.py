"""Dates (every element but the year is PHI) in the shapes clinical text uses, with attached times.

Validity is checked (month 1-12, day within the month), so '13/45/2020' or a version '1.2.3' is not a
date. Ambiguous shapes ('2/3', 'the 14th') need a context word such as 'on', 'since' or 'DOS'.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType

from pipeline.core.detection.base import Cue, Doc, Gate, Recognizer, case_blind_matches, words_not_after
from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span

_MONTH_FORMS: dict[str, int] = {}
for _number, _full in enumerate(calendar.month_name[1:], start=1):
    for _form in {_full, _full[:3], "Sept" if _number == 9 else _full[:3]}:
        _MONTH_FORMS[_form.lower()] = _number


def _month_alternation() -> str:
    """Capitalised and upper-case month names; lower case only for unambiguous full names.

    Lower-case 'may', 'march' and abbreviations ('dec' = decreased, 'aug' = Augmentin) are words first.
    """
    forms: set[str] = set()
    for form in _MONTH_FORMS:
        forms.update({form.capitalize(), form.upper()})
        if len(form) > 4 and form != "march":
            forms.add(form)
    return "|".join(sorted(forms, key=len, reverse=True))


MONTH = rf"(?:{_month_alternation()})"
#: MONTH not after a letter, digit or underscore, faster than '(?<![\w])MONTH' (see words_not_after).
_MONTH_NOT_AFTER_WORD = words_not_after(_month_alternation().split("|"))
_TIME = (
    r"(?:(?:,?\s+at\s+|\s*@\s*|\s+|T)\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*(?:[AaPp]\.[Mm]\.|[AaPp][Mm]\b))?"
    r"(?:Z|[+-]\d{2}:?\d{2})?|(?:,?\s+at\s+|\s+)\d{1,2}\s*(?:[AaPp]\.[Mm]\.|[AaPp][Mm]\b))?"
)
_ORD = r"(?:st|nd|rd|th)?"


def month_number(name: str) -> int | None:
    """1-12 for a month name or abbreviation (any case, trailing dot allowed), else None."""
    return _MONTH_FORMS.get(name.rstrip(".").lower())


def _day_ok(month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= (29 if month == 2 else calendar.monthrange(2001, month)[1])


def _month_digits(not_after: str) -> str:
    """A month number 1-12 ('0?[1-9]|1[0-2]', as group ``m``) not preceded by a ``not_after`` character.

    Here and in the day patterns the look-behind follows the first digit (``\\d(?<!X\\d)``, not ``(?<!X)\\d``):
    the same matches, but a pattern that opens with a digit lets the regex engine skip to the next digit
    instead of trying the look-behind at every character (two to three times faster on notes)."""
    b = not_after
    return rf"(?P<m>0(?<!{b}0)[1-9]|[1-9](?<!{b}[1-9])|1(?<!{b}1)[0-2])"


#: A month/day that opens a line or a sentence heads an entry of an event list.
_EVENT_LIST_START = re.compile(r"(?:^|\n|[.;][ \t]+)[ \t]*(?:[-*\u2022][ \t]*)?$")


class DateRecognizer(Recognizer):
    """Full and partial dates; each pattern's named groups say which fields to validate."""

    name = "date"
    _patterns: tuple[tuple[str, re.Pattern[str], float], ...] = (
        (
            "numeric",
            re.compile(
                r"(?P<a>\d(?<![\w/.-]\d)\d?)(?P<sep>[/.-])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})"
                r"(?![\w/-]|\.\d)" + _TIME
            ),
            0.85,
        ),
        (
            "iso",
            re.compile(
                r"(?P<y>(?:1(?<![\w/.-]1)[89]|2(?<![\w/.-]2)[01])\d\d)(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})"
                r"(?![0-9A-SU-Za-z_/-]|\.\d)" + _TIME
            ),
            0.9,
        ),
        (
            "day_month_year",
            re.compile(
                rf"(?P<d>\d(?<!\w\d)\d?){_ORD}[-\s]?(?:of\s+)?(?P<mon>{MONTH})\.?(?:[-\s]|,\s*)'?(?P<y>\d{{4}}|\d{{2}})"
                r"(?![\w])" + _TIME
            ),
            0.9,
        ),
        (
            "month_day_year",
            re.compile(
                rf"(?P<mon>{_MONTH_NOT_AFTER_WORD})\.?[-\s]+(?P<d>\d{{1,2}}){_ORD}(?:,?\s+(?P<y>\d{{4}}))?(?![\w:])"
                + _TIME
            ),
            0.85,
        ),
        (
            "day_month",
            re.compile(rf"(?P<d>\d(?<!\w\d)\d?){_ORD}\s+(?:of\s+)?(?P<mon>{MONTH})\b\.?(?![-\s,]*'?\d)"),
            0.8,
        ),
        ("month_year", re.compile(rf"(?P<mon>{_MONTH_NOT_AFTER_WORD})\.?,?\s+(?P<y>(?:1[89]|20)\d\d)(?![\w])"), 0.7),
        ("numeric_month_year", re.compile(_month_digits(r"[\w/.-]") + r"/(?P<y>(?:19|20)\d\d)(?![\w/])"), 0.55),
        ("month_day_short", re.compile(r"(?P<m>\d(?<![\w/.:-]\d)\d?)/(?P<d>\d{1,2})(?![\w/]|\.\d)"), 0.25),
        # 'mastectomies 11/92', 'OVARIAN CA (12/93)': a month and a two-digit year that cannot be a day.
        (
            "month_short_year",
            re.compile(_month_digits(r"[\w/.:-]") + r"/(?P<yy>3[2-9]|[4-9]\d)(?![\w/%]|\.\d)"),
            0.7,
        ),
        # 'nov. 2016', 'in march of 2022': a month in any case is a month when a year follows.
        (
            "month_year_any_case",
            re.compile(
                r"(?i:(?<![a-z])(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]{0,6}\.?,?"
                r"\s+(?:of\s+)?)(?P<y>(?:19|20)\d\d)(?![\w])"
            ),
            0.75,
        ),
        (
            "ordinal_day",
            re.compile(
                r"(?i:(?<![a-z])(?:on|since|by|until|till|from|before|after|starting|through|of)\s+the\s+)"
                r"(?P<v>(?P<d>\d{1,2})(?:st|nd|rd|th))(?![\w])"
            ),
            0.6,
        ),
    )
    _context = Cue(
        "date",
        [
            "on", "since", "dated", "seen", "admitted", "admit", "discharged", "dc", "dos", "dob", "date",
            "from", "until", "through", "thru", "by", "last", "next", "f/u", "follow up", "followup", "visit",
            "surgery", "started", "stopped", "born", "onset", "as of", "returns", "rtc", "scheduled", "appt",
            "appointment", "due", "effective", "expires", "birthday", "before", "after", "between", "to",
            "cxr", "ct", "mri", "echo", "ekg", "ecg", "cath", "egd", "bm", "cx", "culture", "placed", "inserted",
            "changed", "done", "s/p", "tte", "tee", "us", "eeg", "bx", "biopsy", "op", "cabg", "repair",
            "extubate", "extubated", "extubation", "arrive", "arrives", "arriving", "lbm",
        ],
        before=24,
    )  # fmt: skip
    _negative = Cue(
        "not_date",
        [
            "pain", "bp", "b/p", "blood pressure", "score", "rated", "gcs", "apgar", "ratio", "strength",
            "power", "motor", "grade", "scale", "out of", "x", "take", "takes", "give", "gave",
        ],
        before=16,
    )  # fmt: skip
    _negative_after = re.compile(
        r"[ \t]*(?:pain|tabs?|tablets?|cups?|doses?|strength|scale|mmhg|power|floor|times?|days?|weeks?|cycles?"
        r"|percentile|visits?|attempts?|century|lines?|rounds?|trimester|degree|of\s+the)\b",
        re.IGNORECASE,
    )

    #: The rarely matched patterns' gates (a part every match holds).
    _gates: Mapping[str, Gate] = MappingProxyType(
        {
            "month_year": Gate(re.compile(r"(?:1[89]|20)\d\d")),
            "month_year_any_case": Gate(re.compile(r"(?:19|20)\d\d")),
            "ordinal_day": Gate(re.compile(r"the\s+\d"), lowered=True),
        }
    )
    #: A case-insensitive pattern as a case-sensitive one over the lower-cased copy, used for ASCII notes
    #: (where a case-insensitive match is a case-sensitive one in the lowered copy, offsets alike), with the
    #: look-behind after the month's first letter so the scan skips to a possible one: same matches.
    _lowered: Mapping[str, re.Pattern[str]] = MappingProxyType(
        {
            "month_year_any_case": re.compile(
                "(?P<mon>"
                + words_not_after("jan feb mar apr may jun jul aug sep sept oct nov dec".split(), "[a-z]")
                + r")[a-z]{0,6}\.?,?\s+(?:of\s+)?(?P<y>(?:19|20)\d\d)(?![\w])"
            ),
        }
    )

    def find(self, doc: Doc) -> Iterator[Span]:
        for name, regex, score in self._patterns:
            gate = self._gates.get(name)
            if gate is not None and not gate.passes(doc):
                continue
            for match in case_blind_matches(doc, regex, self._lowered.get(name)):
                if not self._valid(match):
                    continue
                group = "v" if name == "ordinal_day" else 0
                start, end = match.span(group)
                reasons = [f"pattern:{name}", "valid:calendar"]
                final = score
                if name == "month_year_any_case":
                    start = match.start("mon")
                if name in ("month_day_short", "ordinal_day", "numeric_month_year"):
                    final = self._contextual(doc, start, end, score, reasons)
                elif name == "numeric" and len(match.group("y")) == 2:
                    final -= 0.1
                span = self.span(start, end, PhiType.DATE, final, reasons)
                if span is not None:
                    yield span

    def _contextual(self, doc: Doc, start: int, end: int, score: float, reasons: list[str]) -> float:
        negative = self._negative.found(doc, start, end)
        after = self._negative_after.match(doc.text, end)
        if after is not None:
            negative = after.group(0).strip().split()[0].lower()
        if negative is not None:
            reasons.append(f"negative:{negative}")
            return score * 0.4
        cue = self._context.found(doc, start, end)
        if cue is not None:
            reasons.append(f"context:{cue}")
            return score + 0.45
        if _EVENT_LIST_START.search(doc.text, max(0, start - 8), start):
            reasons.append("context:line_start")  # event lists: '\n10/15 RAPID AF', '. 10/30 pt noted'
            return score + 0.45
        return score

    @staticmethod
    def _valid(match: re.Match[str]) -> bool:
        fields = match.groupdict()
        if fields.get("a") is not None:
            a, b = int(fields["a"]), int(fields["b"])
            return _day_ok(a, b) or _day_ok(b, a)
        month = month_number(fields["mon"]) if fields.get("mon") else None
        if month is None and fields.get("m") is not None:
            month = int(fields["m"])
        day = int(fields["d"]) if fields.get("d") is not None else None
        if month is None:
            return day is not None and 1 <= day <= 31
        if day is None:
            return 1 <= month <= 12
        return _day_ok(month, day)
