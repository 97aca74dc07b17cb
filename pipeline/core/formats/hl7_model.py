"""What HL7 v2 says about a field: its data type, per version, from ``hl7apy``'s tables.

A policy rule may name a field (``PID-11.5``) or a data type (``XAD.5``: the ZIP of every extended
address, in whatever segment it occurs). The data type of each field comes from the message's own
version (MSH-12) in ``hl7apy``'s reference tables (2.1 to 2.8.2), so ``PID-7`` is ``TS`` in 2.5 and
``DTM`` in 2.6 and later, and the same rule ``TS``/``DTM`` applies either way.
"""

from __future__ import annotations

import re
from functools import cache

from hl7apy import load_library

#: The versions this pipeline accepts (MSH-12): 2.3 to 2.8.
SUPPORTED_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2")
#: The version whose tables name data types when a policy is checked (every data type of 2.3-2.8).
_CHECK_VERSIONS = ("2.3", "2.5", "2.8")
FIELD_PATH = re.compile(
    r"^(?P<seg>[A-Z][A-Z0-9]{2})-(?P<field>\d{1,3})(?:\.(?P<comp>\d{1,2})(?:\.(?P<sub>\d{1,2}))?)?$"
)
TYPE_PATH = re.compile(r"^(?P<type>[A-Z][A-Z0-9]{1,3})(?:\.(?P<comp>\d{1,2})(?:\.(?P<sub>\d{1,2}))?)?$")


@cache
def _library(version: str) -> object:
    return load_library(version)


@cache
def field_types(version: str, segment: str) -> tuple[str, ...]:
    """The data type of each field of ``segment`` in ``version`` (index 0 is field 1); empty when the
    version does not define the segment (a Z-segment, for example)."""
    library = _library(version)
    definition = library.SEGMENTS.get(segment)  # type: ignore[attr-defined]
    if definition is None:
        return ()
    return tuple(str(item[1][2]) if item[1] else "ST" for item in definition[1])


def field_type(version: str, segment: str, field_no: int) -> str | None:
    types = field_types(version, segment)
    return types[field_no - 1] if 0 < field_no <= len(types) else None


@cache
def known_segments() -> frozenset[str]:
    return frozenset(name for v in _CHECK_VERSIONS for name in _library(v).SEGMENTS)  # type: ignore[attr-defined]


@cache
def known_datatypes() -> frozenset[str]:
    names: set[str] = set()
    for version in _CHECK_VERSIONS:
        library = _library(version)
        names.update(library.BASE_DATATYPES)  # type: ignore[attr-defined]
        names.update(key.rsplit("_", 1)[0] for key in library.DATATYPES)  # type: ignore[attr-defined]
        for segment in library.SEGMENTS:  # type: ignore[attr-defined]
            names.update(field_types(version, segment))
    names.discard("varies")
    return frozenset(names)


def check_path(path: str) -> str | None:
    """None when ``path`` is a field path or data type path a rule may name; otherwise what is wrong."""
    match = FIELD_PATH.match(path)
    if match:
        seg = match["seg"]
        if seg not in known_segments() and not seg.startswith("Z"):
            return f"{seg!r} is not an HL7 v2 segment of versions 2.3-2.8 (Z-segments are allowed)"
        if int(match["field"]) == 0:
            return "field numbers start at 1 (PID-3, not PID-0)"
        return None
    match = TYPE_PATH.match(path)
    if match:
        if match["type"] not in known_datatypes():
            return f"{match['type']!r} is not an HL7 v2 data type (for example XPN, XAD, CX, TS)"
        return None
    return "an HL7 v2 path is SEG-FIELD[.COMPONENT[.SUBCOMPONENT]] (PID-11.5) or a data type (XAD.5, TS)"
