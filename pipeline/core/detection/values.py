"""Numbers that are clinical values by their shape or their neighbours: never a date, an id or an age.

Nursing notes write settings, pressures, gases and ranges in shapes that look like dates and account
numbers: ventilator settings ('A/C 700x10', 'PSV 12/5', 'CPAP 10/5/40%'), pressures and ranges ('PAP
44-52/20-26', 'HR 92-114'), blood gases ('7.41/38/92'), halves and thirds ('crackles 1/2 way up', '1 1/2
amps'). Real dates and identifiers have none of these shapes, so :mod:`pipeline.core.detection.vetting`
asks here first.

The *number run* around a span is the unbroken stretch of digits and the joiners clinicians put between
them ('/', '-', '.', 'x', '%', '+'); its shape says what it is:

- a percent sign, a multiplication ('700x10'), a trailing joiner ('5/5/'), more than three numbers,
  slashes and hyphens together, or a decimal among slashes: a setting, a pressure or a gas;
- a fraction with a small denominator ('1/2', '3/4') or after a whole number ('1 1/2'): a quantity.

The word right before a number says the rest: a measurement or a ventilator mode ('PAD 10-14', 'SRR
6-18', 'PSV 10/5'), never a word that dates follow ('CXR 10/16', 'LBM 11/3').
"""

from __future__ import annotations

import re

_JOINERS = "/-.xX%+"
_NUMBER_PART = re.compile(r"\d+(?:\.\d+)?")
_MULTIPLY = re.compile(r"\d\s?[xX]\s?\d|\d[xX]$|^[xX]\d")
_FRACTION = re.compile(r"^(?P<a>\d)/(?P<b>\d)$")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z0-9/&'+]*)[\s:=#(,-]{0,3}$")
#: Ventilator modes and measurements that the abbreviation glossary lists under longer forms or not at all.
_SETTING_WORDS = frozenset(
    """
    psv ps ips imv simv cpap bipap peep ac a/c vent settings setting mask pap pad pas pcwp cvp map abp nbp art
    srr rr hr bp sbp dbp tv vt ve fio2 o2 sat sats spo2 sao2 co ci svr hob cp tlc abg vbg pco2 po2 ph
    """.split()
)
#: Words that a date follows ('CXR 10/16', 'cx from 9/14', 'LBM 11/3'): never read as a measurement.
DATE_WORDS = frozenset(
    """
    on since from dated dos dob until till thru through by last next adm admitted admit dc discharged seen
    started stopped began onset due scheduled appt returns returned cxr ct mri echo ekg ecg cath egd us bm lbm
    cx culture cultured cultures surgery procedure placed inserted changed done performed report note sent
    drawn ordered transferred tx extubated intubated extubate extubation arrive arrives arriving
    """.split()
)


def number_run(text: str, start: int, end: int) -> str:
    """The span's first word widened over the digits and joiners touching it ('10/5' in 'CPAP 10/5/40%'
    -> '10/5/40%'); a time after a date ('2000-04-16 11:34') is not part of the date's run."""
    first = text[start:end].split(maxsplit=1)
    left = start
    right = start + len(first[0]) if first else end
    while left > 0 and (text[left - 1].isdigit() or text[left - 1] in _JOINERS):
        left -= 1
    while right < len(text) and (text[right].isdigit() or text[right] in _JOINERS):
        right += 1
    return text[left:right].strip(".-+")


def is_setting_shape(run: str) -> bool:
    """A number run shaped as a setting, pressure, gas or product rather than a date or an identifier."""
    if not any(c.isdigit() for c in run) or re.search(r"[A-WYZa-wyz]", run):
        return False  # letters make it a code ('PM55X1209', '2026-03-14T10:30Z'), not a setting
    if "%" in run or _MULTIPLY.search(run):
        return True
    if run.endswith(("/", "-")) or run.startswith("/"):
        return True
    parts = _NUMBER_PART.findall(run)
    if len(parts) > 3:
        return True
    if "/" in run and "-" in run:
        return not is_date_range(run)
    return "/" in run and any("." in p for p in parts)


def is_small_fraction(value: str, text: str, start: int) -> bool:
    """'1/2', '2/3', '3/4' (numerator below a denominator of at most 4), or any fraction after a whole
    number ('1 1/2'): a quantity, not a month and day."""
    match = _FRACTION.match(value.strip())
    if match is None:
        return False
    if re.search(r"\d[ \t]$", text[max(0, start - 2) : start]):
        return True
    a, b = int(match.group("a")), int(match.group("b"))
    return a < b <= 4


def word_before(text: str, start: int) -> str:
    """The word just before ``start`` (over a few spaces or ':', '=', '#'), lower-cased; '' when none."""
    match = _WORD_BEFORE.search(text, max(0, start - 24), start)
    return match.group(1).lower() if match else ""


#: Ventilator talk shortly before a pair of numbers ('wean down to 10/5', 'CPAP .4%, 5/18', 'on mask
#: ventilation 5/5') makes the pair a pressure setting.
_VENT_BEFORE = re.compile(
    r"(?i)(?:\b(?:vent(?:ilation|ilator|ed)?|cpap|bipap|psv|ips|peep|ps|settings?|extubated\s+from|abg\s+\w+\s+on)\b"
    r"[^.;\n]{0,14}|%[ \t,]*)$"
)
_VENT_NOTE = re.compile(r"(?i)\b(?:psv|cpap|bipap|peep|ips|pressure\s+support|vent\s+settings?)\b")


def ventilated_note(text: str) -> bool:
    """The note talks about ventilator settings, so '5/5' in it is pressure support over PEEP."""
    return _VENT_NOTE.search(text) is not None


def after_ventilator_talk(text: str, start: int) -> bool:
    """A pair of numbers right after ventilator words or a percentage: a setting ('PSV 10/5', '40% 5/8')."""
    return _VENT_BEFORE.search(text, max(0, start - 40), start) is not None


def after_measurement(text: str, start: int) -> bool:
    """The number at ``start`` follows a measurement or a ventilator mode ('PAD 10-14', 'PSV 10/5').

    Only measurement words count: most clinical abbreviations name events that dates follow ('CABG 6/16',
    'HD 8/27', 'XRT 10/29')."""
    word = word_before(text, start)
    forms = {word, word.removesuffix("'s"), word.removesuffix("s")} - {""}
    return bool(forms & _SETTING_WORDS) and not forms & DATE_WORDS


_DATE_RANGE_PART = re.compile(r"\d{1,2}/\d{1,2}(?:/\d{2,4})?")


def is_date_range(run: str) -> bool:
    """'8/14-8/16': month/day pairs joined by a hyphen (a range of dates, not a pressure)."""
    pieces = run.split("-")
    return len(pieces) > 1 and all(_DATE_RANGE_PART.fullmatch(p.strip()) for p in pieces)
