"""Parse a detected date string in the shape it was written, shift it, and write it back in that shape.

Keeping the shape ('03/14/62' stays two-digit-year slashes, '14-Mar-1962' keeps its abbreviation and
case) means a shifted record reads like the original. Trailing text (a time) is kept as is. Shapes
without a year are shifted within a reference leap year; month-only shapes shift by whole months
(at least one, so the month always changes); a lone ordinal day ('the 14th') moves within 28 days.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date, timedelta

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
_MONTH = r"(?P<mon>[A-Za-z]{3,9})"
_REST = r"(?P<rest>.*)"
_REFERENCE_YEAR = 2000  # leap, so 'Feb 29' without a year still parses


def _style_month(original: str, month: int) -> str:
    bare = original.rstrip(".")
    if bare.lower() == "sept":
        name = "Sept" if month == 9 else calendar.month_abbr[month]
    elif len(bare) <= 3:
        name = calendar.month_abbr[month]
    else:
        name = calendar.month_name[month]
    if bare.isupper():
        return name.upper()
    if bare.islower():
        return name.lower()
    return name


def _ordinal(day: int) -> str:
    return "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def _num(original: str, value: int) -> str:
    """``value`` with the zero padding the original field had."""
    return f"{value:02d}" if len(original) == 2 else str(value)


def _day(m: re.Match[str], value: int) -> str:
    """A day number, zero-padded like the original unless it carries an ordinal suffix ('8th')."""
    return str(value) if m["ord"] else _num(m["d"], value)


def _year(original: str, value: int) -> str:
    return f"{value % 100:02d}" if len(original) == 2 else f"{value:04d}"


def _full_year(text: str) -> int:
    value = int(text)
    if len(text) == 2:
        return 1900 + value if value > date.today().year % 100 else 2000 + value
    return value


def _shift_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def _month_delta(days: int) -> int:
    months = round(days / 30.4)
    if months == 0:
        months = 1 if days > 0 else -1
    return months


Shifter = Callable[[re.Match[str], int], str | None]


def _numeric(m: re.Match[str], days: int) -> str | None:
    a, b = int(m["a"]), int(m["b"])
    month_first = a <= 12
    month, day = (a, b) if month_first else (b, a)
    when = date(_full_year(m["y"]), month, day) + timedelta(days=days)
    first, second = (when.month, when.day) if month_first else (when.day, when.month)
    sep = m["sep"]
    return f"{_num(m['a'], first)}{sep}{_num(m['b'], second)}{sep}{_year(m['y'], when.year)}{m['rest']}"


def _iso(m: re.Match[str], days: int) -> str | None:
    when = date(int(m["y"]), int(m["m"]), int(m["d"])) + timedelta(days=days)
    sep = m["sep"]
    return f"{when.year:04d}{sep}{_num(m['m'], when.month)}{sep}{_num(m['d'], when.day)}{m['rest']}"


def _day_month_year(m: re.Match[str], days: int) -> str | None:
    month = _MONTHS.get(m["mon"].lower())
    if month is None:
        return None
    when = date(_full_year(m["y"]), month, int(m["d"])) + timedelta(days=days)
    suffix = _ordinal(when.day) if m["ord"] else ""
    return (
        f"{_day(m, when.day)}{suffix}{m['s1']}{m['of'] or ''}{_style_month(m['mon'], when.month)}{m['dot']}"
        f"{m['s2']}{m['q']}{_year(m['y'], when.year)}{m['rest']}"
    )


def _month_day_year(m: re.Match[str], days: int) -> str | None:
    month = _MONTHS.get(m["mon"].lower())
    if month is None:
        return None
    year = _full_year(m["y"]) if m["y"] else _REFERENCE_YEAR
    when = date(year, month, int(m["d"])) + timedelta(days=days)
    suffix = _ordinal(when.day) if m["ord"] else ""
    tail = f"{m['s2']}{when.year:04d}" if m["y"] else ""
    return f"{_style_month(m['mon'], when.month)}{m['dot']}{m['s1']}{_day(m, when.day)}{suffix}{tail}{m['rest']}"


def _day_month(m: re.Match[str], days: int) -> str | None:
    month = _MONTHS.get(m["mon"].lower())
    if month is None:
        return None
    when = date(_REFERENCE_YEAR, month, int(m["d"])) + timedelta(days=days)
    suffix = _ordinal(when.day) if m["ord"] else ""
    return f"{_day(m, when.day)}{suffix}{m['s1']}{m['of'] or ''}{_style_month(m['mon'], when.month)}{m['rest']}"


def _month_year(m: re.Match[str], days: int) -> str | None:
    month = _MONTHS.get(m["mon"].lower())
    if month is None:
        return None
    year, new_month = _shift_months(int(m["y"]), month, _month_delta(days))
    return f"{_style_month(m['mon'], new_month)}{m['dot']}{m['s1']}{year:04d}{m['rest']}"


def _numeric_month_year(m: re.Match[str], days: int) -> str | None:
    year, month = _shift_months(int(m["y"]), int(m["m"]), _month_delta(days))
    return f"{_num(m['m'], month)}/{year:04d}{m['rest']}"


def _month_day(m: re.Match[str], days: int) -> str | None:
    when = date(_REFERENCE_YEAR, int(m["m"]), int(m["d"])) + timedelta(days=days)
    return f"{_num(m['m'], when.month)}/{_num(m['d'], when.day)}{m['rest']}"


def _ordinal_day(m: re.Match[str], days: int) -> str | None:
    day = int(m["d"])
    moved = (day - 1 + days) % 28 + 1
    if moved == day:
        moved = day % 28 + 1
    return f"{moved}{_ordinal(moved)}{m['rest']}"


_SHAPES: tuple[tuple[re.Pattern[str], Shifter], ...] = (
    (
        re.compile(rf"^(?P<a>\d{{1,2}})(?P<sep>[/.-])(?P<b>\d{{1,2}})(?P=sep)(?P<y>\d{{4}}|\d{{2}}){_REST}$", re.S),
        _numeric,
    ),
    (re.compile(rf"^(?P<y>\d{{4}})(?P<sep>[-/.])(?P<m>\d{{1,2}})(?P=sep)(?P<d>\d{{1,2}}){_REST}$", re.S), _iso),
    (
        re.compile(
            rf"^(?P<d>\d{{1,2}})(?P<ord>st|nd|rd|th)?(?P<s1>[-\s]?)(?P<of>of\s+)?{_MONTH}(?P<dot>\.?)"
            rf"(?P<s2>[-\s]|,\s*)(?P<q>'?)(?P<y>\d{{4}}|\d{{2}}){_REST}$",
            re.S,
        ),
        _day_month_year,
    ),
    (
        re.compile(
            rf"^{_MONTH}(?P<dot>\.?)(?P<s1>[-\s]+)(?P<d>\d{{1,2}})(?!\d)(?P<ord>st|nd|rd|th)?(?:(?P<s2>,?\s+)(?P<y>\d{{4}}))?{_REST}$",
            re.S,
        ),
        _month_day_year,
    ),
    (
        re.compile(rf"^(?P<d>\d{{1,2}})(?!\d)(?P<ord>st|nd|rd|th)?(?P<s1>\s+)(?P<of>of\s+)?{_MONTH}\.?{_REST}$", re.S),
        _day_month,
    ),
    (re.compile(rf"^{_MONTH}(?P<dot>\.?)(?P<s1>,?\s+)(?P<y>\d{{4}}){_REST}$", re.S), _month_year),
    (re.compile(rf"^(?P<m>\d{{1,2}})/(?P<y>\d{{4}}){_REST}$", re.S), _numeric_month_year),
    (re.compile(rf"^(?P<m>\d{{1,2}})/(?P<d>\d{{1,2}})(?!\d){_REST}$", re.S), _month_day),
    (re.compile(rf"^(?P<d>\d{{1,2}})(?:st|nd|rd|th){_REST}$", re.S), _ordinal_day),
)


def shift_date_text(value: str, days: int) -> str | None:
    """``value`` moved by ``days`` in its own format, or None when its shape is not one we can rewrite."""
    for regex, shifter in _SHAPES:
        match = regex.match(value)
        if match is None:
            continue
        try:
            result = shifter(match, days)
        except (ValueError, OverflowError):
            continue
        if result is not None:
            return result
    return None


def year_of(value: str) -> str | None:
    """The four-digit year a date string refers to (two-digit years expanded), or None."""
    for regex, _ in _SHAPES[:4]:
        match = regex.match(value)
        if match and match.groupdict().get("y"):
            return f"{_full_year(match['y']):04d}"
    match = _SHAPES[5][0].match(value) or _SHAPES[6][0].match(value)
    return match["y"] if match else None


class TextDates:
    """Dates as people write them (``03/14/62``, ``14-Mar-1962``): the :class:`DateCodec` of free text."""

    def year(self, value: str) -> str | None:
        return year_of(value)

    def shift(self, value: str, days: int) -> str | None:
        return shift_date_text(value, days)


TEXT_DATES = TextDates()
