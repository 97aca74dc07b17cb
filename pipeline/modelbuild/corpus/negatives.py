"""Hard negatives: clinical text that looks like PHI and is not.

Blood pressures look like dates (132/84), doses and lab values look like ids, eponyms look like names
(Parkinson, Foley), and many names are ordinary words (day, may, English). A model that never sees these
without a label marks them all; every maker here returns untyped text for templates to embed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import cache

from pipeline.core.detection.lexicons import lexicons
from pipeline.modelbuild.corpus import lexicon as lx

NegMaker = Callable[[random.Random], str]


def medication(rng: random.Random) -> str:
    """'METOPROLOL 25 MG PO BID', 'insulin glargine 18 units SQ QHS', 'ASA 81'."""
    drug = rng.choice(lx.DRUGS)
    dose = rng.choice(
        (
            str(rng.choice((1, 2, 5, 10, 12.5, 20, 25, 40, 50, 81, 100, 125, 250, 325, 500, 650, 1000))),
            f"{rng.randint(1, 60)}",
            f"0.{rng.randint(1, 9)}",
        )
    )
    parts = [drug, f"{dose} {rng.choice(lx.DOSE_UNITS)}"]
    if rng.random() < 0.8:
        parts.append(rng.choice(lx.ROUTES))
    if rng.random() < 0.85:
        parts.append(rng.choice(lx.FREQUENCIES))
    if rng.random() < 0.15:
        parts.append(f"x{rng.randint(3, 14)} days")
    return " ".join(parts)


def medication_list(rng: random.Random) -> str:
    return rng.choice(("; ", ", ", "\n")).join(medication(rng) for _ in range(rng.randint(2, 5)))


def vitals(rng: random.Random) -> str:
    """Vital signs; BP and pain scores share the slash shape of partial dates."""
    items = [
        f"BP {rng.randint(85, 190)}/{rng.randint(40, 110)}",
        f"HR {rng.randint(45, 140)}",
        f"RR {rng.randint(10, 32)}",
        f"T {rng.choice((f'{rng.uniform(96.0, 103.5):.1f}', f'{rng.uniform(35.5, 40.2):.1f}C'))}",
        f"SpO2 {rng.randint(82, 100)}% {rng.choice(('RA', 'on 2L NC', '4L', 'on NRB', 'RA'))}",
        f"wt {rng.randint(40, 160)} kg",
        f"pain {rng.randint(0, 10)}/10",
        f"FSBG {rng.randint(60, 420)}",
        f"I/O {rng.randint(300, 3000)}/{rng.randint(200, 3000)}",
    ]
    rng.shuffle(items)
    return rng.choice((", ", " ", "; ")).join(items[: rng.randint(3, len(items))])


def labs(rng: random.Random) -> str:
    """Lab panel values: numbers and decimals next to short capitalized analyte names."""
    items = [
        f"Na {rng.randint(124, 150)}", f"K {rng.uniform(2.8, 6.2):.1f}", f"Cl {rng.randint(90, 112)}",
        f"HCO3 {rng.randint(14, 32)}", f"BUN {rng.randint(5, 90)}", f"Cr {rng.uniform(0.5, 6.5):.1f}",
        f"Glu {rng.randint(60, 400)}", f"WBC {rng.uniform(2.0, 24.0):.1f}", f"Hgb {rng.uniform(6.5, 16.5):.1f}",
        f"Hct {rng.uniform(20, 48):.1f}", f"Plt {rng.randint(40, 480)}", f"INR {rng.uniform(0.9, 4.5):.1f}",
        f"Trop {rng.uniform(0.01, 2.5):.2f}", f"BNP {rng.randint(20, 4000)}", f"Lactate {rng.uniform(0.5, 8.0):.1f}",
        f"A1c {rng.uniform(5.0, 12.0):.1f}%", f"TSH {rng.uniform(0.1, 9.0):.2f}", f"Mg {rng.uniform(1.2, 2.8):.1f}",
        f"AST/ALT {rng.randint(10, 300)}/{rng.randint(10, 300)}", f"LDL {rng.randint(40, 220)}",
    ]  # fmt: skip
    rng.shuffle(items)
    return rng.choice((", ", " ", "; ", " / ")).join(items[: rng.randint(3, 8)])


def score(rng: random.Random) -> str:
    """Scores, grades and fractions that are not dates: 'GCS 15', 'motor 5/5', '3/6 SEM', 'EF 55%'."""
    return rng.choice(
        (
            f"GCS {rng.randint(3, 15)}",
            f"GCS E{rng.randint(1, 4)}V{rng.randint(1, 5)}M{rng.randint(1, 6)}",
            f"strength {rng.randint(3, 5)}/5",
            f"motor {rng.randint(3, 5)}/5 BUE",
            f"{rng.randint(1, 4)}/6 SEM at RUSB",
            f"EF {rng.randint(15, 70)}%",
            f"pain {rng.randint(0, 10)}/10",
            f"NYHA class {rng.choice(('I', 'II', 'III', 'IV'))}",
            f"CHA2DS2-VASc {rng.randint(0, 9)}",
            f"G{rng.randint(1, 6)}P{rng.randint(0, 5)}",
            f"Mallampati {rng.randint(1, 4)}",
            f"{rng.randint(1, 4)}+ pitting edema",
            f"DTRs {rng.randint(1, 3)}+ and symmetric",
            f"L{rng.randint(1, 4)}-L{rng.randint(2, 5)}",
            f"C{rng.randint(3, 6)}-{rng.randint(4, 7)}",
            f"T{rng.randint(1, 12)} compression fx",
            f"RASS {rng.randint(-5, 4)}",
            f"Braden {rng.randint(6, 23)}",
            f"CIWA {rng.randint(0, 30)}",
            f"{rng.randint(1, 3)}/{rng.randint(3, 4)} blood cx positive",
            f"A&O x{rng.randint(1, 3)}",
            f"PEEP {rng.randint(5, 15)}",
            f"FiO2 {rng.choice((30, 40, 50, 60, 100))}%",
            f"TV {rng.randint(350, 550)}",
            f"{rng.randint(1, 2)}/2 tab",
            f"Q{rng.choice((2, 4, 6, 8))}H",
        )
    )


def eponym(rng: random.Random) -> str:
    return rng.choice(lx.EPONYMS)


def word_use(rng: random.Random) -> str:
    return rng.choice(lx.WORD_USES)


def abbreviations(rng: random.Random) -> str:
    return " ".join(rng.sample(lx.CLINICAL_WORDS, rng.randint(2, 5)))


def room(rng: random.Random) -> str:
    """Bed and room numbers, and generic units: too unspecific to identify anyone."""
    return rng.choice(
        (
            f"bed {rng.randint(1, 40)}",
            f"rm {rng.randint(100, 999)}",
            f"room {rng.randint(100, 999)}{rng.choice(('', 'A', 'B'))}",
            rng.choice(("MICU", "SICU", "CCU", "the ED", "PACU", "step-down", "the floor", "4 West", "telemetry")),
        )
    )


def quantity(rng: random.Random) -> str:
    """Measurements and counts: sizes, volumes, durations."""
    return rng.choice(
        (
            f"{rng.uniform(0.3, 9.9):.1f} x {rng.uniform(0.3, 9.9):.1f} cm",
            f"{rng.randint(2, 40)} mm",
            f"{rng.randint(50, 2000)} mL",
            f"{rng.randint(1, 12)} weeks",
            f"{rng.randint(2, 30)} pack-years",
            f"{rng.randint(1, 6)} drinks/day",
            f"x{rng.randint(2, 5)} days",
            f"{rng.randint(1, 9)} cm",
            f"{rng.randint(2, 24)} hours",
            f"{rng.randint(10, 90)}%",
        )
    )


def non_zip(rng: random.Random) -> str:
    """Five-digit numbers that are not ZIP codes: counts, codes, doses, lot numbers, reference values."""
    return rng.choice(
        (
            f"CPT {rng.choice((99213, 99214, 99223, 93000, 71046, 80053, 85025, 36415, 99291, 74177))}",
            f"plt {rng.randint(12, 450)},000",
            f"platelets {rng.randint(12000, 99000)}",
            f"WBC {rng.randint(10000, 30000)}/uL",
            f"{rng.randint(10, 99)},{rng.randint(100, 999)} units",
            f"heparin {rng.choice((5000, 10000, 12000, 25000))} units",
            f"lot {rng.randint(10000, 99999)}",
            f"catalog {rng.randint(10000, 99999)}",
            f"{rng.randint(10000, 60000)} steps/day",
            f"CK {rng.randint(10000, 90000)}",
            f"D-dimer {rng.randint(10000, 35000)} ng/mL",
            f"viral load {rng.randint(10000, 99999)} copies/mL",
            f"{rng.randint(10000, 99999)} CFU/mL",
            f"vitamin D {rng.choice((50000, 50000, 10000))} IU weekly",
            f"order set {rng.randint(10000, 99999)}",
            f"ICD-10 {rng.choice(('I10', 'E11.65', 'J44.1', 'N18.3', 'I48.91', 'Z79.01', 'F32.9', 'K21.9'))}",
        )
    )


def non_date(rng: random.Random) -> str:
    """Numbers and year-like values that are not dates: doses, volumes, guideline names, ratios."""
    return rng.choice(
        (
            f"{rng.choice((1000, 1200, 1500, 1800, 2000, 2400))} mL fluid restriction",
            f"{rng.choice((1500, 1800, 2000, 2200))} kcal ADA diet",
            f"{rng.choice((1000, 2000, 3000))} mg/day",
            f"ceftriaxone {rng.choice((1000, 2000))} mg IV",
            f"{rng.randint(1, 12)}/{rng.randint(13, 40)} cores positive",
            f"Gleason {rng.randint(3, 5)}+{rng.randint(3, 5)}",
            f"ratio {rng.randint(1, 4)}:{rng.choice((1, 2, 3))}",
            f"titer 1:{rng.choice((40, 80, 160, 320, 640))}",
            f"{rng.randint(1, 3)}.{rng.randint(0, 9)} x {rng.randint(1, 3)}.{rng.randint(0, 9)} cm",
            f"ACC/AHA {rng.choice((2013, 2017, 2019))} guideline",
            f"GOLD {rng.choice(('A', 'B', 'E', 2023))} criteria",
            f"DSM-5 criteria, PHQ-9 {rng.randint(0, 27)}",
            f"{rng.randint(2, 8)}x{rng.randint(2, 12)} week course",
            f"Hgb {rng.randint(7, 15)}.{rng.randint(0, 9)} / Hct {rng.randint(20, 45)}",
            f"version {rng.randint(1, 9)}.{rng.randint(0, 20)}",
            f"{rng.randint(1, 9)} of {rng.randint(10, 12)} doses",
            f"score {rng.randint(10, 30)}/{rng.choice((30, 30, 27))}",
            f"{rng.randint(1, 4)}-{rng.randint(5, 9)} times daily",
        )
    )


def digit_group(rng: random.Random) -> str:
    """Digit groups that are not phone numbers: NDC codes, lot numbers, ranges, counts with separators."""
    return rng.choice(
        (
            f"NDC {rng.randint(1000, 99999):05d}-{rng.randint(100, 9999):04d}-{rng.randint(1, 99):02d}",
            f"lot {rng.randint(100, 999)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
            f"reference range {rng.randint(100, 150)}-{rng.randint(151, 450)}",
            f"{rng.randint(100, 999)} {rng.randint(100, 999)} {rng.randint(1000, 9999)} on the pill bottle imprint",
            f"imprint {rng.choice(('M', 'TEVA', 'IP', 'WATSON'))} {rng.randint(100, 999)}",
            f"total {rng.randint(1, 9)},{rng.randint(100, 999)},{rng.randint(100, 999)} units dispensed",
            f"{rng.randint(100, 999)}-{rng.randint(100, 999)} mg/dL",
            f"cell count {rng.randint(100, 999)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
            f"codes {rng.randint(100, 999)}.{rng.randint(10, 99)}, {rng.randint(100, 999)}.{rng.randint(10, 99)}",
            f"tidal volumes {rng.randint(350, 550)}-{rng.randint(400, 600)}",
        )
    )


def relative_time(rng: random.Random) -> str:
    """Time words that are not dates: relative ('next week'), vague ('for years') or a decade of life."""
    return rng.choice(
        (
            "next week", "last week", "over the weekend", "last month", "for years", "for a few days",
            "this morning", "tonight", "since then", "two weeks ago", "in her 60s", "in his 40s", "every spring",
            "later today", "the day before", "after the holidays", "by then", "at the time", "in a month or so",
        )
    )  # fmt: skip


@cache
def _drug_words() -> tuple[str, ...]:
    """Single-word drug names from the shipped drug lexicon (maintained source, not a hand list)."""
    return tuple(sorted(d for d in lexicons().drugs if d.isalpha() and 4 <= len(d) <= 14))


@cache
def _abbreviation_words() -> tuple[str, ...]:
    return tuple(sorted(a for a in lexicons().abbreviations if 2 <= len(a) <= 6 and a.replace("/", "").isalnum()))


def drug_word(rng: random.Random) -> str:
    """Any drug or brand name from the lexicon, often clipped the way nurses write ('levo', 'vanc')."""
    drug = rng.choice(_drug_words()) if rng.random() < 0.7 else rng.choice(lx.DRUGS).split()[0]
    return drug[:4] if rng.random() < 0.1 else drug


def shorthand(rng: random.Random) -> str:
    """A run of medical abbreviations from the glossary, upper-cased as notes write them."""
    return " ".join(rng.choice(_abbreviation_words()).upper() for _ in range(rng.randint(1, 4)))


def clock(rng: random.Random) -> str:
    """A time of day or a shift: '0200', '@1400', '2am', '7P-7A', '11-7', 'NOC'."""
    h = rng.randint(0, 23)
    return rng.choice(
        (
            f"{h:02d}{rng.choice((0, 15, 30, 45)):02d}",
            f"@{h:02d}00",
            f"{h % 12 or 12}{rng.choice(('am', 'pm', 'AM', 'PM', 'a', 'p'))}",
            f"{h:02d}:{rng.randint(0, 59):02d}",
            rng.choice(("7P-7A", "7A-7P", "11-7", "3-11", "7-3", "NOC", "days", "nights", "0700-1900", "1900-0700")),
        )
    )


def drip(rng: random.Random) -> str:
    """Infusions and titrations: 'levophed @ 0.12 mcg/kg/min', 'heparin gtt 1100 u/hr', 'neo weaned to off'."""
    drug = rng.choice(
        (
            "levophed",
            "levo",
            "neo",
            "neosynephrine",
            "propofol",
            "fentanyl",
            "versed",
            "heparin",
            "insulin",
            "nitro",
            "dopamine",
            "vasopressin",
            "amio",
            "dilt",
            "precedex",
            "lasix",
            "esmolol",
        )
    )
    return rng.choice(
        (
            f"{drug} @ {rng.uniform(0.02, 2):.2f} mcg/kg/min",
            f"{drug} gtt at {rng.randint(1, 30)} {rng.choice(('u/hr', 'mg/hr', 'mcg/min', 'cc/hr'))}",
            f"{drug} titrated {rng.randint(1, 5)}-{rng.randint(6, 10)} mcg/kg/min to keep MAP >{rng.randint(55, 70)}",
            f"{drug} weaned to off at {clock(rng)}",
            f"{drug} increased to {rng.randint(10, 200)} mcg",
        )
    )  # fmt: skip


def vital_range(rng: random.Random) -> str:
    """Ranges and decades of values: 'HR 80s-90s', 'SBP 100-120s', 'sats in the 90s', 'low 100s'."""
    a = rng.randint(5, 14) * 10
    return rng.choice(
        (
            f"HR {a}s-{a + 10}s {rng.choice(('NSR', 'ST', 'SR', 'AF', 'SB', 'afib'))}",
            f"SBP {a}-{a + 30}s",
            f"sats {rng.randint(88, 95)}-{rng.randint(96, 100)}%",
            f"in the {a}s",
            f"{rng.choice(('low', 'mid', 'high'))} {a}s",
            f"RR {rng.choice(('teens', '20s', 'teens-20s', '12-18'))}",
            f"MAP >{rng.randint(55, 70)}",
            f"CVP {rng.randint(2, 18)}-{rng.randint(8, 22)}",
            f"UOP {rng.randint(10, 80)}-{rng.randint(80, 200)}cc/hr",
        )
    )


def ratio(rng: random.Random) -> str:
    """Ratios and staffing: '1:1', '2:1 care', 'I:E 1:2', '1:1 sitter'."""
    return rng.choice(("1:1", "1:1 sitter", "2:1 care", f"I:E 1:{rng.randint(2, 4)}", f"{rng.randint(1, 4)}:1",
                       "1:2 assignment", f"heparin 1:{rng.choice((10, 100, 1000))}"))  # fmt: skip


def strength(rng: random.Random) -> str:
    """Strength grades and fractions written like dates: 'grips 5/5', 'LUE 3/5', 'MAE 4/5 strength'."""
    limb = rng.choice(("grips", "LUE", "RUE", "LLE", "RLE", "BUE", "BLE", "MAE", "strength", "motor"))
    return rng.choice(
        (f"{limb} {rng.randint(0, 5)}/5", f"{limb} {rng.randint(0, 5)}/5 strength", f"{rng.randint(1, 5)}/5 {limb}")
    )


def lines_devices(rng: random.Random) -> str:
    """Lines, tubes and drains: 'R IJ TLC', 'L radial aline', 'PIV x2', 'ETT 7.5 23 @ lip', 'foley'."""
    return rng.choice(("R IJ TLC", "L IJ cordis", "L radial aline", "R fem aline", f"PIV x{rng.randint(1, 3)}",
                       "RUE PICC", f"ETT 7.5 {rng.randint(20, 25)} @ lip", "OGT to LCWS", "foley to gravity",
                       "JP x2 draining serosang", "rectal tube", "dobhoff", "swan", "chest tube to -20 sxn",
                       "A-line", "HD cath", "NGT to LIS", "trach #8 shiley"))  # fmt: skip


def intake_output(rng: random.Random) -> str:
    """Fluid balance: 'I/O +1.2L', 'net neg 500cc', 'UO 35cc/hr'."""
    return rng.choice((f"I/O +{rng.uniform(0.1, 3):.1f}L", f"net neg {rng.randint(1, 30) * 100}cc",
                       f"UO {rng.randint(10, 120)}cc/hr", f"LOS +{rng.randint(1, 12)}L",
                       f"24h I&O {rng.randint(1000, 4000)}/{rng.randint(500, 4000)}"))  # fmt: skip


NEG_MAKERS: dict[str, NegMaker] = {
    "med": medication,
    "meds": medication_list,
    "vitals": vitals,
    "labs": labs,
    "score": score,
    "epo": eponym,
    "word": word_use,
    "abbr": abbreviations,
    "room": room,
    "qty": quantity,
    "nonzip": non_zip,
    "nondate": non_date,
    "digits": digit_group,
    "when": relative_time,
    "drug": drug_word,
    "sh": shorthand,
    "clock": clock,
    "drip": drip,
    "range": vital_range,
    "ratio": ratio,
    "str": strength,
    "lines": lines_devices,
    "io": intake_output,
}
