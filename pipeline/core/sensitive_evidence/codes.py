"""ICD-10-CM codes of the sensitive categories, in free text and in structured fields.

Ranges follow the ICD-10-CM tabular list (CMS/NCHS, FY2024): chapter 5 blocks F10-F19 (mental and
behavioural disorders due to psychoactive substance use; F17 nicotine dependence is left out, as 42 CFR
2.11 leaves out tobacco), F20-F48 and F50-F69 and F90-F94 (psychiatric disorders; F01-F09, the
neurocognitive disorders, are not), chapter 15 O00-O9A (pregnancy, childbirth and the puerperium),
A50-A64 (infections with a predominantly sexual mode of transmission), B20 and Z21 (HIV disease and
asymptomatic HIV infection) with R75, Z11.3, Z11.4, Z20.2, Z20.6 and O98.7, Z30-Z39 and Z3A
(contraception, procreative management, pregnancy and delivery encounters), N96-N98 and N46 (pregnancy
loss and infertility), Z14-Z15 (genetic carrier status and susceptibility) with Z13.7 and Z31.43-Z31.44
(genetic screening and testing) with Z36.0 (antenatal screening for chromosomal anomalies), the suicide and
self-harm codes R45.851, R45.88, T14.91, Z91.5 and X71-X83 (intentional self-harm), F99 (mental disorder,
not otherwise specified), Z71.7 (HIV counselling) and B97.35 (HIV-2 as the cause of disease). Not evidence:
family history codes (Z80-Z84, see CRITERIA.md), Z38 (liveborn infants: the newborn's own record, not
reproductive care of the patient), F17 and Z72.0 (tobacco), F01-F09 (neurocognitive disorders), B15-B19
(viral hepatitis, listed apart from HIV/STI) and Q90-Q99 (a manifested chromosomal condition, not a test).

In free text a code counts when written with its decimal part (``F10.20``) or after a cue (``ICD``,
``dx``, ``code``): a bare ``B20`` in a nursing note is more often something else.
"""

from __future__ import annotations

import re

from pipeline.core.sensitive import SensitiveCategory

SU = SensitiveCategory.SUBSTANCE_USE
MH = SensitiveCategory.MENTAL_HEALTH
HIV = SensitiveCategory.HIV_STI
RH = SensitiveCategory.REPRODUCTIVE
GEN = SensitiveCategory.GENETIC

#: (first, last, category): inclusive ranges over codes written without the dot, compared by prefix.
RANGES: tuple[tuple[str, str, SensitiveCategory], ...] = (
    ("F10", "F16", SU), ("F18", "F19", SU), ("Z7141", "Z7142", SU), ("Z7151", "Z7152", SU),
    ("O9931", "O9932", SU),
    ("F20", "F48", MH), ("F50", "F69", MH), ("F90", "F94", MH), ("F99", "F99", MH), ("R45851", "R45851", MH),
    ("R4588", "R4588", MH), ("T1491", "T1491", MH), ("Z915", "Z915", MH), ("X71", "X83", MH),
    ("A50", "A64", HIV), ("B20", "B20", HIV), ("Z21", "Z21", HIV), ("R75", "R75", HIV), ("Z113", "Z114", HIV),
    ("Z202", "Z202", HIV), ("Z206", "Z206", HIV), ("O987", "O987", HIV), ("Z717", "Z717", HIV),
    ("B9735", "B9735", HIV),
    ("O00", "O9A", RH), ("Z30", "Z37", RH), ("Z39", "Z39", RH), ("Z3A", "Z3A", RH), ("N96", "N98", RH),
    ("N46", "N46", RH),
    ("Z14", "Z15", GEN), ("Z137", "Z137", GEN), ("Z3143", "Z3144", GEN), ("Z360", "Z360", GEN),
)  # fmt: skip

_CODE = re.compile(r"(?<![A-Za-z0-9])([A-TV-Za-tv-z][0-9][0-9A-Ba-b])(?:\.([0-9A-Za-z]{1,4}))?(?![A-Za-z0-9])")
_CUE = re.compile(r"(?i)(?:icd(?:-?10)?(?:-?cm)?|dx|diagnos[ie]s|codes?)[\s:#=(\[]{0,4}$")


def categories_of_code(code: str) -> set[SensitiveCategory]:
    """The categories an ICD-10-CM code falls in (none for a code outside every range)."""
    return {category for _, category in ranges_of(code, RANGES)}


def ranges_of(code: str, ranges: tuple[tuple[str, str, SensitiveCategory], ...]) -> list[tuple[str, SensitiveCategory]]:
    """(range label, category) of each of ``ranges`` (inclusive, compared by prefix on the code without its
    dot) that holds ``code``."""
    compact = code.replace(".", "").strip().upper()
    found = []
    for first, last, category in ranges:
        head = compact[: max(len(first), len(last))]
        if len(compact) >= len(first) and first <= head <= last:
            found.append((first if first == last else f"{first}-{last}", category))
    return found


def codes_in_text(text: str) -> list[tuple[int, str, set[SensitiveCategory]]]:
    """(offset, code, categories) for each ICD-10-CM code of a sensitive category written in the text."""
    found = []
    for match in _CODE.finditer(text):
        code = match.group(1).upper() + ("." + match.group(2).upper() if match.group(2) else "")
        if match.group(2) is None and not _CUE.search(text[max(0, match.start() - 24) : match.start()]):
            continue
        categories = categories_of_code(code)
        if categories:
            found.append((match.start(), code, categories))
    return found
