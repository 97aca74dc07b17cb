"""PHI value makers: each returns text segments, the PHI parts typed, the surrounding words untyped.

A maker returns a list of ``(text, type)`` pairs so that a value and the words around it that are not
PHI ('DR.' before a name, 'YO' after an age, the state between a city and a ZIP) come out together with
exact boundaries. Formats are deliberately many: the model must learn the shape of a date or a phone
number in all the ways clinicians write them, not one canonical form.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable

from pipeline.core.phi_types import PhiType
from pipeline.modelbuild.corpus import lexicon as lx
from pipeline.modelbuild.corpus.lexicon import Lexicon

Seg = tuple[str, PhiType | None]
Maker = Callable[[random.Random, Lexicon], list[Seg]]

MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
)  # fmt: skip


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _letters(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(n))


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return str((10 - total % 10) % 10)


# -- names ------------------------------------------------------------------------------------------


def first_name(rng: random.Random, lex: Lexicon) -> str:
    """Mostly ordinary first names; one in eight is a name that is also an English word."""
    return rng.choice(lex.word_names) if rng.random() < 0.12 else rng.choice(lex.first_names)


def last_name(rng: random.Random, lex: Lexicon) -> str:
    """Mostly surnames; sometimes a word-name ('Day', 'English') or a hyphenated pair."""
    roll = rng.random()
    if roll < 0.12:
        return rng.choice(lex.word_names)
    if roll < 0.16:
        return f"{rng.choice(lex.last_names)}-{rng.choice(lex.last_names)}"
    return rng.choice(lex.last_names)


def person(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """A full name in one of the forms notes use: 'Ana Chen', 'CHEN, ANA', 'Ana M. Chen', 'A. Chen'."""
    first, last = first_name(rng, lex), last_name(rng, lex)
    form = rng.randrange(7)
    if form == 0:
        text = f"{last}, {first}"
    elif form == 1:
        text = f"{first} {rng.choice(lx.INITIALS)}. {last}"
    elif form == 2:
        text = f"{first[0]}. {last}"
    elif form == 3:
        text = f"{first} {rng.choice(lex.first_names)} {last}"
    else:
        text = f"{first} {last}"
    return [(text, PhiType.NAME)]


def titled_person(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """'Mr. Chen', 'Mrs. Ana Chen', 'Ms Okafor': the title stays outside the span."""
    title = rng.choice(("Mr.", "Mrs.", "Ms.", "Miss", "Mr", "Ms", "Mx."))
    name = last_name(rng, lex) if rng.random() < 0.6 else f"{first_name(rng, lex)} {last_name(rng, lex)}"
    return [(f"{title} ", None), (name, PhiType.NAME)]


def clinician(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """'Dr. Lee', 'DR. K. PATEL', 'Patel, MD', 'Kevin Patel NP', 'SEEN BY K. PATEL RN'."""
    last = last_name(rng, lex)
    form = rng.randrange(8)
    if form <= 2:
        title = rng.choice(("Dr.", "Dr", "DR.", "Doctor"))
        name = last if form < 2 else f"{rng.choice(lx.INITIALS)}. {last}"
        return [(f"{title} ", None), (name, PhiType.NAME)]
    if form == 3:
        return [("Dr. ", None), (f"{first_name(rng, lex)} {last}", PhiType.NAME)]
    suffix = rng.choice(lx.CLINICIAN_SUFFIXES)
    if form == 4:
        return [(f"{last}", PhiType.NAME), (f", {suffix}", None)]
    if form == 5:
        return [(f"{rng.choice(lx.INITIALS)}. {last}", PhiType.NAME), (f" {suffix}", None)]
    if form == 6:
        return [(f"{first_name(rng, lex)} {last}", PhiType.NAME), (f", {suffix}", None)]
    return [(f"{first_name(rng, lex)} {last}", PhiType.NAME)]


def relative(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """'HUSBAND JIM', 'DTR MARY', 'wife April', 'son, Mark Jones': the relation word is not PHI."""
    rel = rng.choice(lx.RELATIONS)
    name = first_name(rng, lex) if rng.random() < 0.65 else f"{first_name(rng, lex)} {last_name(rng, lex)}"
    sep = rng.choice((" ", " ", ", ", " (", " - "))
    tail = ")" if sep == " (" else ""
    segs: list[Seg] = [(f"{rel}{sep}", None), (name, PhiType.NAME)]
    if tail:
        segs.append((tail, None))
    return segs


def first_only(rng: random.Random, lex: Lexicon) -> list[Seg]:
    return [(first_name(rng, lex), PhiType.NAME)]


def last_only(rng: random.Random, lex: Lexicon) -> list[Seg]:
    return [(last_name(rng, lex), PhiType.NAME)]


def username(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """A login name: other unique identifier (ID)."""
    first, last = first_name(rng, lex).lower(), last_name(rng, lex).lower().replace(" ", "").replace("'", "")
    return [(rng.choice((f"{first[0]}{last}{_digits(rng, 2)}", f"{first}.{last}", f"{last}{first[0]}")), PhiType.ID)]


# -- dates and times --------------------------------------------------------------------------------


def _ymd(rng: random.Random) -> tuple[int, int, int]:
    return rng.randint(1925, 2035), rng.randint(1, 12), rng.randint(1, 28)


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def date(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """A full or partial calendar date in one of many formats."""
    y, m, d = _ymd(rng)
    mon = MONTHS[m - 1]
    forms = (
        f"{m}/{d}/{y}", f"{m:02d}/{d:02d}/{y}", f"{m}/{d}/{y % 100:02d}", f"{m:02d}-{d:02d}-{y}",
        f"{y}-{m:02d}-{d:02d}", f"{d}-{mon[:3]}-{y}", f"{d:02d}-{mon[:3].upper()}-{y % 100:02d}",
        f"{mon} {d}, {y}", f"{mon[:3]} {d}, {y}", f"{mon[:3]}. {d} {y}", f"{d} {mon} {y}", f"{mon} {_ordinal(d)}",
        f"{_ordinal(d)} of {mon}", f"{m}/{d}", f"{m:02d}/{d:02d}", f"{m}.{d}.{y % 100:02d}", f"{mon} {y}",
        f"{mon[:3]} {y}", f"{y}{m:02d}{d:02d}", f"{m}/{y}", f"{d}.{m}.{y}", f"{mon[:3].upper()} {d}",
    )  # fmt: skip
    return [(rng.choice(forms), PhiType.DATE)]


def partial_date(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """Month/day with no year ('7/22', 'ON 3/4'): the forms most easily confused with doses and scores."""
    m, d = rng.randint(1, 12), rng.randint(1, 28)
    return [(rng.choice((f"{m}/{d}", f"{m:02d}/{d:02d}", f"{m}-{d}", f"{MONTHS[m - 1][:3]} {d}")), PhiType.DATE)]


def year(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """A bare year ('IN 1992'): Safe Harbor keeps years, so it is left untyped (a hard negative)."""
    return [(str(rng.randint(1950, 2030)), None)]


def day_word(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """'the 14th', 'Monday the 3rd'."""
    return [(rng.choice((f"the {_ordinal(rng.randint(1, 31))}", _ordinal(rng.randint(1, 31)))), PhiType.DATE)]


def clock_time(rng: random.Random) -> list[Seg]:
    """Clock times: '14:30', '2:15 PM', '0800', '11pm'."""
    h, mi = rng.randint(0, 23), rng.choice((0, 5, 10, 15, 20, 30, 40, 45, 50, rng.randint(0, 59)))
    h12 = h % 12 or 12
    ampm = rng.choice(("AM", "PM", "am", "pm", "a.m.", "p.m."))
    forms = (f"{h:02d}:{mi:02d}", f"{h}:{mi:02d}", f"{h:02d}{mi:02d}", f"{h12}:{mi:02d} {ampm}", f"{h12}{ampm}")
    return [(rng.choice(forms), None)]


def time(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """A time of day ('14:30', '2:15 PM', '0800'): never PHI under Safe Harbor, so untyped."""
    return clock_time(rng)


def datetime_(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """A date followed by a time ('3/14/2024 14:30'): the date is PHI, the time of day is not."""
    return [date(rng, lex)[0], (f" {rng.choice(('', 'at ', '@ '))}{clock_time(rng)[0][0]}", None)]


# -- ages -------------------------------------------------------------------------------------------


def old_age(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """An age over 89 (PHI) with its unit words outside the span: '92 YO', '101-year-old', 'age 94'."""
    age = str(rng.randint(90, 106))
    form = rng.randrange(6)
    if form == 0:
        return [(age, PhiType.AGE), (rng.choice((" YO", " y/o", " yo", " Y/O", " yr old", " year old")), None)]
    if form == 1:
        return [(age, PhiType.AGE), ("-year-old", None)]
    if form == 2:
        return [("age ", None), (age, PhiType.AGE)]
    if form == 3:
        return [("aged ", None), (age, PhiType.AGE)]
    if form == 4:
        return [(age, PhiType.AGE), (rng.choice(("M", "F", "yoM", "yoF", " M", " F")), None)]
    return [(age, PhiType.AGE), (" years old", None)]


def age_number(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """Just the number of an age over 89, for templates that write the unit themselves."""
    return [(str(rng.randint(90, 106)), PhiType.AGE)]


def young_age(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """An age under 90: not PHI under Safe Harbor, a hard negative in exactly the same forms."""
    age = str(rng.randint(1, 89))
    unit = rng.choice((" YO", " y/o", "-year-old", " yo", " year old", " years old", "M", "F", " YOM", " YOF"))
    return [(f"{age}{unit}" if rng.random() < 0.8 else f"age {age}", None)]


# -- contact ----------------------------------------------------------------------------------------


def _nanp(rng: random.Random) -> tuple[str, str, str]:
    return str(rng.randint(201, 989)), str(rng.randint(200, 999)), _digits(rng, 4)


def phone(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """A telephone number in US and international forms."""
    a, b, c = _nanp(rng)
    forms = (
        f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"{a} {b} {c}", f"+1 {a} {b} {c}", f"1-{a}-{b}-{c}",
        f"({a}){b}-{c}", f"{a}{b}{c}", f"{b}-{c}", f"+1-{a}-{b}-{c}", f"+44 {_digits(rng, 4)} {_digits(rng, 6)}",
        f"+49 {_digits(rng, 3)} {_digits(rng, 7)}", f"0{_digits(rng, 2)} {_digits(rng, 3)} {_digits(rng, 3)}",
        f"({a}) {b}-{c} ext. {_digits(rng, 3)}", f"{a}-{b}-{c} x{_digits(rng, 4)}",
    )  # fmt: skip
    return [(rng.choice(forms), PhiType.PHONE)]


def pager(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """Pager and beeper numbers: short, and easily confused with lab values."""
    number = rng.choice((_digits(rng, 5), f"{_digits(rng, 1)}-{_digits(rng, 4)}"))
    return [("#", None), (number, PhiType.PHONE)] if rng.random() < 0.3 else [(number, PhiType.PHONE)]


def fax(rng: random.Random, lex: Lexicon) -> list[Seg]:
    a, b, c = _nanp(rng)
    return [(rng.choice((f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}")), PhiType.FAX)]


def email(rng: random.Random, lex: Lexicon) -> list[Seg]:
    first = first_name(rng, lex).lower().replace("-", "")
    last = last_name(rng, lex).lower().replace(" ", "").replace("'", "").replace("-", "")
    local = rng.choice((f"{first}.{last}", f"{first[0]}{last}", f"{first}{_digits(rng, 2)}", f"{last}_{first}"))
    return [(f"{local}@{rng.choice(lx.EMAIL_DOMAINS)}", PhiType.EMAIL)]


def url(rng: random.Random, lex: Lexicon) -> list[Seg]:
    host = rng.choice(lx.URL_HOSTS)
    path = rng.choice(
        (f"/p/{_digits(rng, 6)}", f"/u/{last_name(rng, lex).lower()}", "", f"/visit?id={_digits(rng, 8)}")
    )
    return [(f"{rng.choice(('https://', 'http://', ''))}{host}{path}", PhiType.URL)]


def ip(rng: random.Random, lex: Lexicon) -> list[Seg]:
    octets = (
        rng.choice((10, 172, 192, rng.randint(11, 223))),
        rng.randint(0, 255),
        rng.randint(0, 255),
        rng.randint(1, 254),
    )
    return [(".".join(map(str, octets)), PhiType.IP)]


# -- places -----------------------------------------------------------------------------------------


def street(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """'45 W. Oak Ave Apt 3B', 'Koskikatu 25', '1200 Commonwealth Avenue, Unit 4'."""
    name = rng.choice(lex.street_names)
    number = str(rng.randint(1, 9999))
    if " " in name and name.split()[0] in ("Rua", "Calle", "Via", "Rue", "Avenida", "Ulica"):
        text = f"{name} {number}"
    elif name.endswith(("strasse", "katu", "gatan", "Gade")):
        text = f"{name} {rng.randint(1, 120)}"
    else:
        direction = rng.choice(("", "", "", "N. ", "S. ", "W ", "East "))
        text = f"{number} {direction}{name} {rng.choice(lx.STREET_TYPES)}"
    if rng.random() < 0.3:
        sep, unit = rng.choice((" ", ", ")), rng.choice(lx.UNIT_PREFIXES)
        text += f"{sep}{unit} {rng.randint(1, 40)}{rng.choice(('', 'A', 'B', 'C'))}"
    return [(text, PhiType.STREET)]


def city(rng: random.Random, lex: Lexicon) -> list[Seg]:
    return [(rng.choice(lex.cities), PhiType.CITY)]


def zip_code(rng: random.Random, lex: Lexicon) -> list[Seg]:
    z = f"{rng.randint(1001, 99950):05d}"
    return [(z if rng.random() < 0.8 else f"{z}-{_digits(rng, 4)}", PhiType.ZIP)]


def county(rng: random.Random, lex: Lexicon) -> list[Seg]:
    return [(rng.choice(lex.counties), PhiType.LOCATION)]


def address(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """Street, city, state, ZIP: state and country are not identifiers under Safe Harbor and stay untyped."""
    segs = street(rng, lex)
    sep = rng.choice((", ", " ", "\n", ", "))
    segs += [(sep, None), *city(rng, lex)]
    if rng.random() < 0.85:
        segs.append((f"{rng.choice((', ', ' '))}{rng.choice(lx.STATES)} ", None))
        segs += zip_code(rng, lex)
    elif rng.random() < 0.5:
        segs.append((f", {rng.choice(lx.COUNTRIES)}", None))
    return segs


#: Countries written after a foreign address; not identifiers under Safe Harbor, so left untyped.
_ADDRESS_COUNTRIES = (
    "Finland", "Sweden", "Denmark", "Norway", "Iceland", "Estonia", "Latvia", "Lithuania", "Poland",
    "Hungary", "Slovenia", "Czechia", "Austria", "Switzerland", "Belgium", "Netherlands", "Portugal", "Spain",
    "Italy", "France", "Germany", "Brazil", "Argentina", "Uruguay", "Tunisia", "South Africa", "New Zealand",
    "Canada", "Cyprus", "Romania", "Bulgaria", "Croatia", "Greece", "Turkey", "India", "Japan", "Mexico",
)  # fmt: skip


def world_city(rng: random.Random, lex: Lexicon) -> list[Seg]:
    return [(rng.choice(lex.world_cities), PhiType.CITY)]


def postcode(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """Postal codes in the shapes other countries use: '00100', '1051', '111 52', '4000-123', '02-495', 'H2X 1Y4'."""
    letters = "ABCEGHJKLMNPRSTVXY"
    shapes = (
        lambda: f"{rng.randint(1000, 9999)}",
        lambda: f"{rng.randint(1, 99999):05d}",
        lambda: f"{rng.randint(100, 999)} {rng.randint(10, 99)}",
        lambda: f"{rng.randint(1000, 9999)}-{rng.randint(100, 999)}",
        lambda: f"{rng.randint(10, 99)}-{rng.randint(100, 999)}",
        lambda: (
            f"{rng.choice(letters)}{rng.randint(0, 9)}{rng.choice(letters)} "
            f"{rng.randint(0, 9)}{rng.choice(letters)}{rng.randint(0, 9)}"
        ),
        lambda: f"{rng.randint(1000, 9999)} {rng.choice(letters)}{rng.choice(letters)}",
    )
    return [(rng.choice(shapes)(), PhiType.ZIP)]


def world_address(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """A postal address abroad, on one line or several: street and number, postcode and town, country."""
    street_text = f"{rng.choice(lex.world_streets)} {rng.randint(1, 240)}"
    if rng.random() < 0.3:
        unit = rng.choice(("Apt.", "Suite", "lgh", "piso", "Top"))
        street_text += f"{rng.choice((' ', ', '))}{unit} {rng.randint(1, 40)}"
    country = rng.choice(_ADDRESS_COUNTRIES)
    sep = rng.choice(("\n", ", ", "\n "))
    layout = rng.randrange(3)
    segs: list[Seg] = [(street_text, PhiType.STREET), (sep, None)]
    if layout == 0:  # Kauppakatu 14 / 00100 Kuopio / Finland
        segs += [*postcode(rng, lex), (" ", None), *world_city(rng, lex)]
    elif layout == 1:  # Rua Augusta 200 / Coimbra 3000-123 / Portugal
        segs += [*world_city(rng, lex), (" ", None), *postcode(rng, lex)]
    else:  # Laugavegur 12 / Hafnarfjörður / Iceland 220
        segs += [*world_city(rng, lex), (sep, None), (f"{country} ", None), *postcode(rng, lex)]
        return segs
    if rng.random() < 0.7:
        segs.append((f"{sep}{country}", None))
    return segs


def hospital(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """'St. Mary's Hospital', 'Lakeside Medical Center', 'the Ashworth Clinic'."""
    stem = rng.choice(lex.hospital_stems)
    if rng.random() < 0.2:
        return [(f"{stem} {rng.choice(lex.cities)} {rng.choice(lx.HOSPITAL_KINDS)}", PhiType.FACILITY)]
    return [(f"{stem} {rng.choice(lx.HOSPITAL_KINDS)}" if rng.random() < 0.85 else stem, PhiType.FACILITY)]


def ward(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """A named ward or building ('Ellison 12', 'Bigelow 11 East'); generic units (MICU) are not PHI."""
    stem = rng.choice(lex.ward_stems)
    return [(f"{stem} {rng.randint(2, 22)}{rng.choice(('', '', ' East', ' West', 'A', 'B'))}", PhiType.FACILITY)]


# -- identifiers ------------------------------------------------------------------------------------


def ssn(rng: random.Random, lex: Lexicon) -> list[Seg]:
    area = rng.choice([n for n in range(1, 900) if n != 666 and n < 900])
    group, serial = rng.randint(1, 99), rng.randint(1, 9999)
    sep = rng.choice(("-", "-", " ", ""))
    return [(f"{area:03d}{sep}{group:02d}{sep}{serial:04d}", PhiType.SSN)]


def mrn(rng: random.Random, lex: Lexicon) -> list[Seg]:
    forms = (
        _digits(rng, 7),
        _digits(rng, 8),
        f"{_letters(rng, 1)}{_digits(rng, 7)}",
        f"{_digits(rng, 3)}-{_digits(rng, 2)}-{_digits(rng, 2)}",
        f"00{_digits(rng, 6)}",
        _digits(rng, 9),
    )
    return [(rng.choice(forms), PhiType.MRN)]


def health_plan(rng: random.Random, lex: Lexicon) -> list[Seg]:
    forms = (
        f"{_letters(rng, 3)}{_digits(rng, 9)}",
        f"{_digits(rng, 11)}",
        f"{_letters(rng, 1)}{_digits(rng, 8)}",
        f"{_digits(rng, 4)}{_letters(rng, 2)}{_digits(rng, 4)}",
    )
    return [(rng.choice(forms), PhiType.HEALTH_PLAN)]


def account(rng: random.Random, lex: Lexicon) -> list[Seg]:
    forms = (_digits(rng, 10), f"{_digits(rng, 4)}-{_digits(rng, 6)}", f"A{_digits(rng, 9)}", f"{_digits(rng, 12)}")
    return [(rng.choice(forms), PhiType.ACCOUNT)]


def license_(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """Medical licence, NPI (Luhn over the 80840 prefix), DEA-like, driver's licence numbers."""
    body = "1" + _digits(rng, 8)
    npi = body + _luhn_digit("80840" + body)
    forms = (
        npi,
        f"{_letters(rng, 2)}{_digits(rng, 7)}",
        f"MD{_digits(rng, 5)}",
        f"{_letters(rng, 1)}{_digits(rng, 8)}",
        f"RN{_digits(rng, 6)}",
    )
    return [(rng.choice(forms), PhiType.LICENSE)]


def vehicle(rng: random.Random, lex: Lexicon) -> list[Seg]:
    vin_chars = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    vin = "".join(rng.choice(vin_chars) for _ in range(17))
    forms = (
        vin,
        f"{_digits(rng, 1)}{_letters(rng, 3)}{_digits(rng, 3)}",
        f"{_letters(rng, 3)}-{_digits(rng, 4)}",
        f"{_letters(rng, 2)} {_digits(rng, 4)}",
    )
    return [(rng.choice(forms), PhiType.VEHICLE)]


def device(rng: random.Random, lex: Lexicon) -> list[Seg]:
    forms = (
        f"{_letters(rng, 3)}{_digits(rng, 6)}{_letters(rng, 1)}",
        f"SN{_digits(rng, 8)}",
        f"{_digits(rng, 2)}{_letters(rng, 2)}-{_digits(rng, 4)}",
        f"{_letters(rng, 2)}{_digits(rng, 10)}",
    )
    return [(rng.choice(forms), PhiType.DEVICE)]


def biometric(rng: random.Random, lex: Lexicon) -> list[Seg]:
    return [
        (
            rng.choice(
                (
                    f"FP-{_digits(rng, 6)}",
                    f"VP{_digits(rng, 7)}",
                    f"BIO-{_letters(rng, 2)}{_digits(rng, 5)}",
                    f"RET{_digits(rng, 6)}",
                )
            ),
            PhiType.BIOMETRIC,
        )
    ]


def photo(rng: random.Random, lex: Lexicon) -> list[Seg]:
    return [
        (
            rng.choice(
                (
                    f"IMG_{_digits(rng, 4)}.jpg",
                    f"PHOTO-{_digits(rng, 6)}",
                    f"face_{_digits(rng, 5)}.png",
                    f"DSC{_digits(rng, 5)}.JPG",
                )
            ),
            PhiType.PHOTO,
        )
    ]


def other_id(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """Study ids, badge numbers, passport numbers, claim and case numbers."""
    forms = (
        f"{_letters(rng, 3)}-{_digits(rng, 4)}",
        _digits(rng, 9),
        f"{_letters(rng, 1)}{_digits(rng, 8)}",
        f"{_digits(rng, 2)}-{_digits(rng, 5)}",
        f"#{_digits(rng, 6)}",
    )
    return [(rng.choice(forms), PhiType.ID)]


# -- forms seen in real progress notes ---------------------------------------------------------------


def hospital_acronym(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """A hospital by its initials ('LMC', 'SMH', 'BWGH'), as transfer notes write it; 'OSH' is not one."""
    stem = rng.choice(lex.hospital_stems)
    initials = "".join(w[0] for w in stem.replace("St.", "Saint").split() if w[:1].isalpha()).upper()
    return [(initials + rng.choice(("H", "MC", "GH", "MH", "CH", "")), PhiType.FACILITY)]


def company(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """A company or agency ('Hartley Home Care', 'Benson Ambulance'): a location in de-identification corpora."""
    kind = rng.choice(("Home Care", "Ambulance", "Medical Supply", "Nursing Services", "Hospice", "Pharmacy"))
    return [(f"{last_name(rng, lex)} {kind}", PhiType.LOCATION)]


def short_pager(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """A pager after a short cue ('pg 41772', 'P#2-3456', 'BEEPER 14490'): the cue is not PHI."""
    cue = rng.choice(("pg ", "pgr ", "p# ", "P#", "beeper ", "bpr #", "pager #", "page ", "pager: "))
    return [
        (cue, None),
        (rng.choice((_digits(rng, 5), f"{_digits(rng, 1)}-{_digits(rng, 4)}", _digits(rng, 4))), PhiType.PHONE),
    ]


def per_clinician(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """'per md Lee', 'PER NP JONES', 'np Chen aware', 'd/w Dr Patel': the cue is not PHI."""
    cue = rng.choice(("per md ", "per MD ", "per NP ", "NP ", "np ", "per Dr ", "d/w Dr. ", "per ", "PA ", "resident "))
    return [(cue, None), (last_name(rng, lex), PhiType.NAME)]


def two_clinicians(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """'Drs. Lee and Okafor', 'DR SMITH AND JONES': two surnames after one title."""
    title = rng.choice(("Drs. ", "Drs ", "Dr. ", "DRS ", "dr "))
    joiner = rng.choice((" and ", " & ", "/", " AND "))
    return [(title, None), (last_name(rng, lex), PhiType.NAME), (joiner, None), (last_name(rng, lex), PhiType.NAME)]


def kin_first(rng: random.Random, lex: Lexicon) -> list[Seg]:
    """A kinship word and a first name, often all lower case ('wife mary', 'dtr susan', 'son Joe')."""
    rel = rng.choice(("wife", "husband", "son", "daughter", "dtr", "sister", "brother", "niece", "friend", "hcp"))
    name = first_name(rng, lex)
    if rng.random() < 0.5:
        name = name.lower()
    return [(f"{rel} ", None), (name, PhiType.NAME)]


#: Slot name (as written in templates) -> maker. Upper-case names are PHI slots.
PHI_MAKERS: dict[str, Maker] = {
    "PERSON": person,
    "TPERSON": titled_person,
    "DR": clinician,
    "REL": relative,
    "FIRST": first_only,
    "LAST": last_only,
    "USER": username,
    "DATE": date,
    "PDATE": partial_date,
    "YEAR": year,
    "DAYWORD": day_word,
    "TIME": time,
    "DATETIME": datetime_,
    "AGE": old_age,
    "AGENUM": age_number,
    "PHONE": phone,
    "PAGER": pager,
    "FAX": fax,
    "EMAIL": email,
    "URL": url,
    "IP": ip,
    "STREET": street,
    "CITY": city,
    "ZIP": zip_code,
    "COUNTY": county,
    "ADDRESS": address,
    "WCITY": world_city,
    "WADDR": world_address,
    "HOSP": hospital,
    "WARD": ward,
    "SSN": ssn,
    "MRN": mrn,
    "PLAN": health_plan,
    "ACCT": account,
    "LIC": license_,
    "VEH": vehicle,
    "DEV": device,
    "BIO": biometric,
    "PHOTO": photo,
    "ID": other_id,
    "YAGE": young_age,
    "HOSPABBR": hospital_acronym,
    "COMPANY": company,
    "SPAGER": short_pager,
    "PERMD": per_clinician,
    "DRS": two_clinicians,
    "KIN": kin_first,
}
