"""The fixed PHI vocabulary every stage speaks.

HIPAA's Safe Harbor method (45 CFR 164.514(b)(2)) lists 18 identifier classes. Detectors, schema tags,
policies, metrics labels and evaluation all use the members of :class:`PhiType`, so a label from any
outside source (a model's label map, a labelled corpus) is translated once, here, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from pipeline.core.errors import PipelineError


class PhiType(StrEnum):
    """One identifier class. Values are stable strings: they appear in schemas, records and metrics."""

    NAME = "NAME"  # patients, relatives, clinicians (Safe Harbor A)
    STREET = "STREET"  # street address (B)
    CITY = "CITY"  # city, town (B)
    ZIP = "ZIP"  # ZIP code (B)
    FACILITY = "FACILITY"  # hospital, clinic, ward, practice (B: location smaller than a state)
    LOCATION = "LOCATION"  # other geographic subdivision smaller than a state: county, precinct (B)
    DATE = "DATE"  # dates other than year, including times tied to a date (C)
    AGE = "AGE"  # ages over 89 (C)
    PHONE = "PHONE"  # telephone and pager numbers (D)
    FAX = "FAX"  # fax numbers (E)
    EMAIL = "EMAIL"  # (F)
    SSN = "SSN"  # (G)
    MRN = "MRN"  # medical record numbers (H)
    HEALTH_PLAN = "HEALTH_PLAN"  # health-plan beneficiary / member numbers (I)
    ACCOUNT = "ACCOUNT"  # account numbers, including payment cards (J)
    LICENSE = "LICENSE"  # certificate and licence numbers, NPI, DEA (K)
    VEHICLE = "VEHICLE"  # vehicle identifiers, serial numbers, licence plates (L)
    DEVICE = "DEVICE"  # device identifiers and serial numbers (M)
    URL = "URL"  # (N)
    IP = "IP"  # IP addresses (O)
    BIOMETRIC = "BIOMETRIC"  # finger and voice prints (P)
    PHOTO = "PHOTO"  # full-face photographs and comparable images (Q)
    ID = "ID"  # any other unique identifying number, characteristic or code (R)


class Surrogate(StrEnum):
    """How the surrogate operator makes a realistic stand-in for a type."""

    NAME = "name"  # a fake name, token by token
    PLACE = "place"  # a fake city or town
    FACILITY = "facility"  # a fake hospital or clinic
    STREET = "street"  # a fake street, the house number format-preserved
    EMAIL = "email"
    URL = "url"
    IP = "ip"
    DATE = "date"  # the patient's date shift
    AGE = "age"  # the Safe Harbor bucket (90+)
    FORMAT = "format"  # digits for digits, letters for letters, separators kept
    NONE = "none"  # no realistic form: a placeholder


@dataclass(frozen=True, slots=True)
class PhiTraits:
    """What the stages need to know of one type: its Safe Harbor letter, whether ``generalize`` applies
    to it, and the surrogate kind."""

    letter: str
    surrogate: Surrogate = Surrogate.FORMAT
    generalizable: bool = False


#: One row per type: adding a type is this row (and the enum member above).
TRAITS: Mapping[PhiType, PhiTraits] = MappingProxyType(
    {
        PhiType.NAME: PhiTraits("A", Surrogate.NAME),
        PhiType.STREET: PhiTraits("B", Surrogate.STREET),
        PhiType.CITY: PhiTraits("B", Surrogate.PLACE),
        PhiType.ZIP: PhiTraits("B", generalizable=True),
        PhiType.FACILITY: PhiTraits("B", Surrogate.FACILITY),
        PhiType.LOCATION: PhiTraits("B", Surrogate.PLACE),
        PhiType.DATE: PhiTraits("C", Surrogate.DATE, generalizable=True),
        PhiType.AGE: PhiTraits("C", Surrogate.AGE, generalizable=True),
        PhiType.PHONE: PhiTraits("D"),
        PhiType.FAX: PhiTraits("E"),
        PhiType.EMAIL: PhiTraits("F", Surrogate.EMAIL),
        PhiType.SSN: PhiTraits("G"),
        PhiType.MRN: PhiTraits("H"),
        PhiType.HEALTH_PLAN: PhiTraits("I"),
        PhiType.ACCOUNT: PhiTraits("J"),
        PhiType.LICENSE: PhiTraits("K"),
        PhiType.VEHICLE: PhiTraits("L"),
        PhiType.DEVICE: PhiTraits("M"),
        PhiType.URL: PhiTraits("N", Surrogate.URL),
        PhiType.IP: PhiTraits("O", Surrogate.IP),
        PhiType.BIOMETRIC: PhiTraits("P", Surrogate.NONE),
        PhiType.PHOTO: PhiTraits("Q", Surrogate.NONE),
        PhiType.ID: PhiTraits("R"),
    }
)
if set(TRAITS) != set(PhiType):  # a type without traits would be handled by no stage: refuse to load
    raise ImportError(f"PHI types without traits: {sorted(set(PhiType) - set(TRAITS))}")

#: The Safe Harbor letter each type answers to, for reports and model cards.
SAFE_HARBOR_CLASS: Mapping[PhiType, str] = MappingProxyType({t: traits.letter for t, traits in TRAITS.items()})


class UnknownPhiTypeError(PipelineError, ValueError):
    """A label that is neither one of ours nor mapped from a known external label set."""

    reason = "unknown-phi-type"


def parse_phi_type(label: str) -> PhiType:
    """Our own type from its name (case-insensitive); raises :class:`UnknownPhiTypeError` with the choices."""
    try:
        return PhiType(label.strip().upper())
    except ValueError:
        choices = ", ".join(t.value for t in PhiType)
        raise UnknownPhiTypeError(f"unknown PHI type {label!r}; expected one of: {choices}") from None
