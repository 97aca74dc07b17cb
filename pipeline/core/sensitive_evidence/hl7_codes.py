"""The coded values of an HL7 v2 message, for :func:`~pipeline.core.sensitive_evidence.coded.classify_codes`.

Read from the parsed message before any field is protected (the format layer calls :func:`codes_in_hl7`
with its segments, ``fields[f][repetition][component][subcomponent]`` of raw leaves, and its unescape).
Coded fields (CE/CWE/CNE: identifier, text, coding system, then the alternate triplet, and in v2.7+ the
second alternate): DG1-3 diagnosis, PRB-3 problem, OBR-4 ordered test, OBX-3 observation and, when OBX-2
is CE/CWE/CNE, the coded result OBX-5; RXO-1, RXE-2, RXD-2, RXG-4 and RXA-5 medicines.

A DG1-3 without a coding system takes DG1-2 (the diagnosis coding method of v2.3) or, failing that, is read
as ICD-10 when it has ICD-10's shape. Withdrawn: a DG1 or PRB whose action code (DG1-21, PRB-1) deletes it,
an OBX whose result status (OBX-11) is W (posted as wrong), D (deleted) or N (not asked), an RXA whose
action code (RXA-21) is D. A test's result for the tests that need one: the abnormal flags (OBX-8), a
coded result, or a short text result in OBX-5.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from pipeline.core.sensitive_evidence.coded import Coded, result_of

Field = Sequence[Sequence[Sequence[str]]]  # repetitions, components, subcomponents
Segment = tuple[str, Sequence[Field]]

#: Segment -> its coded fields (1-based).
CODED_FIELDS: dict[str, tuple[int, ...]] = {
    "DG1": (3,),
    "PRB": (3,),
    "OBR": (4,),
    "OBX": (3,),
    "RXO": (1,),
    "RXE": (2,),
    "RXD": (2,),
    "RXG": (4,),
    "RXA": (5,),
}
#: (identifier, coding system) component pairs of a CE/CWE/CNE value: primary, alternate, second alternate.
_TRIPLETS = ((1, 3), (4, 6), (10, 12))
_CODED_VALUE_TYPES = frozenset({"CE", "CWE", "CNE"})
#: Segment -> (action-code field, the values that withdraw the segment).
_WITHDRAWN = {"DG1": (21, {"D"}), "PRB": (1, {"DE"}), "OBX": (11, {"W", "D", "N"}), "RXA": (21, {"D"})}
_ICD10_SHAPE = re.compile(r"[A-TV-Z][0-9][0-9A-B](?:\.?[0-9A-Z]{1,4})?")


def codes_in_hl7(segments: Sequence[Segment], unescape: Callable[[str], str]) -> list[Coded]:
    """Every coded value of the message's segments (see the module docstring)."""
    found: list[Coded] = []
    for name, fields in segments:
        wanted = CODED_FIELDS.get(name)
        if not wanted:
            continue

        def leaf(field_no: int, comp: int = 1, rep: int = 0, fields: Sequence[Field] = fields) -> str:
            return _leaf(fields, field_no, comp, rep, unescape)

        withdrawn = _withdrawn(name, leaf)
        flags: list[str] = []
        texts: list[str] = []
        if name == "OBX":
            flags = [leaf(8, 1, rep) for rep in range(_repetitions(fields, 8))]
            value_type = leaf(2).strip().upper()
            for rep in range(_repetitions(fields, 5)):
                if value_type in _CODED_VALUE_TYPES:
                    flags.extend(code for code, _ in _pairs(leaf, 5, rep))
                else:
                    texts.append(leaf(5, 1, rep))
        result = result_of(flags, texts)
        for field_no in wanted:
            for rep in range(_repetitions(fields, field_no)):
                for code, system in _pairs(leaf, field_no, rep):
                    system = system or _default_system(name, code, leaf)
                    found.append(Coded(system, code, result, withdrawn=withdrawn))
        if name == "OBX" and leaf(2).strip().upper() in _CODED_VALUE_TYPES:  # a coded result is a code too
            for rep in range(_repetitions(fields, 5)):
                found.extend(Coded(system, code, withdrawn=withdrawn) for code, system in _pairs(leaf, 5, rep))
    return found


def _pairs(leaf: Callable[[int, int, int], str], field_no: int, rep: int) -> list[tuple[str, str]]:
    pairs = []
    for code_at, system_at in _TRIPLETS:
        code = leaf(field_no, code_at, rep).strip()
        if code:
            pairs.append((code, leaf(field_no, system_at, rep).strip()))
    return pairs


def _withdrawn(name: str, leaf: Callable[..., str]) -> bool:
    rule = _WITHDRAWN.get(name)
    return rule is not None and leaf(rule[0]).strip().upper() in rule[1]


def _default_system(name: str, code: str, leaf: Callable[..., str]) -> str | None:
    if name != "DG1":
        return None
    method = leaf(2).strip()
    if method:
        return method
    return "I10" if _ICD10_SHAPE.fullmatch(code.upper()) else None


def _repetitions(fields: Sequence[Field], field_no: int) -> int:
    return len(fields[field_no - 1]) if field_no <= len(fields) else 0


def _leaf(fields: Sequence[Field], field_no: int, comp: int, rep: int, unescape: Callable[[str], str]) -> str:
    if field_no > len(fields):
        return ""
    reps = fields[field_no - 1]
    if rep >= len(reps) or comp > len(reps[rep]) or not reps[rep][comp - 1]:
        return ""
    return unescape(reps[rep][comp - 1][0])
