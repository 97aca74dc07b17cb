"""The fixed PHI vocabulary every stage speaks.

HIPAA's Safe Harbor method (45 CFR 164.514(b)(2)) lists 18 identifier classes. Detectors, schema tags,
policies, metrics labels and evaluation all use the members of :class:`PhiType`, so a label from any
outside source (a model's label map, a labelled corpus) is translated once, here, and nowhere else.
"""

from __future__ import annotations

from enum import StrEnum

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


#: The Safe Harbor letter each type answers to, for reports and model cards.
SAFE_HARBOR_CLASS: dict[PhiType, str] = {
    PhiType.NAME: "A",
    PhiType.STREET: "B",
    PhiType.CITY: "B",
    PhiType.ZIP: "B",
    PhiType.FACILITY: "B",
    PhiType.LOCATION: "B",
    PhiType.DATE: "C",
    PhiType.AGE: "C",
    PhiType.PHONE: "D",
    PhiType.FAX: "E",
    PhiType.EMAIL: "F",
    PhiType.SSN: "G",
    PhiType.MRN: "H",
    PhiType.HEALTH_PLAN: "I",
    PhiType.ACCOUNT: "J",
    PhiType.LICENSE: "K",
    PhiType.VEHICLE: "L",
    PhiType.DEVICE: "M",
    PhiType.URL: "N",
    PhiType.IP: "O",
    PhiType.BIOMETRIC: "P",
    PhiType.PHOTO: "Q",
    PhiType.ID: "R",
}


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
