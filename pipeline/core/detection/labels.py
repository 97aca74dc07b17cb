"""Translation of outside label sets (models, corpora, other tools) into :class:`PhiType`.

One table per source family, merged into one lookup; a label maps to a PhiType, or to ``None`` when the
source marks something Safe Harbor does not count as an identifier (a country, a profession, a job
title). Unknown labels raise, so a new label set is a deliberate addition here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipeline.core.phi_types import PhiType, UnknownPhiTypeError

#: i2b2 2014 de-identification challenge (TYPE attribute) and the older 2006 set.
I2B2_LABELS: Mapping[str, PhiType | None] = {
    "PATIENT": PhiType.NAME,
    "DOCTOR": PhiType.NAME,
    "USERNAME": PhiType.ID,
    "HOSPITAL": PhiType.FACILITY,
    "STREET": PhiType.STREET,
    "CITY": PhiType.CITY,
    "STATE": None,
    "COUNTRY": None,
    "ZIP": PhiType.ZIP,
    "ORGANIZATION": None,
    "LOCATION-OTHER": PhiType.LOCATION,
    "DATE": PhiType.DATE,
    "AGE": PhiType.AGE,
    "PHONE": PhiType.PHONE,
    "FAX": PhiType.FAX,
    "EMAIL": PhiType.EMAIL,
    "URL": PhiType.URL,
    "IPADDR": PhiType.IP,
    "IPADDRESS": PhiType.IP,
    "SSN": PhiType.SSN,
    "MEDICALRECORD": PhiType.MRN,
    "HEALTHPLAN": PhiType.HEALTH_PLAN,
    "ACCOUNT": PhiType.ACCOUNT,
    "LICENSE": PhiType.LICENSE,
    "VEHICLE": PhiType.VEHICLE,
    "DEVICE": PhiType.DEVICE,
    "BIOID": PhiType.BIOMETRIC,
    "IDNUM": PhiType.ID,
    "PROFESSION": None,
}

#: Presidio analyzer entity names and the presidio-research synthetic data set's labels.
PRESIDIO_LABELS: Mapping[str, PhiType | None] = {
    "PERSON": PhiType.NAME,
    "PER": PhiType.NAME,
    "STREET_ADDRESS": PhiType.STREET,
    "GPE": PhiType.CITY,
    "LOCATION": PhiType.LOCATION,
    "LOC": PhiType.LOCATION,
    "DATE_TIME": PhiType.DATE,
    "PHONE_NUMBER": PhiType.PHONE,
    "EMAIL_ADDRESS": PhiType.EMAIL,
    "ZIP_CODE": PhiType.ZIP,
    "US_SSN": PhiType.SSN,
    "IP_ADDRESS": PhiType.IP,
    "DOMAIN_NAME": PhiType.URL,
    "IBAN_CODE": PhiType.ACCOUNT,
    "US_BANK_NUMBER": PhiType.ACCOUNT,
    "US_DRIVER_LICENSE": PhiType.LICENSE,
    "MEDICAL_LICENSE": PhiType.LICENSE,
    "US_PASSPORT": PhiType.ID,
    "US_ITIN": PhiType.ID,
    "CRYPTO": PhiType.ACCOUNT,
    "ORGANIZATION": None,
    "ORG": None,
    "CREDIT_CARD": None,
    "TITLE": None,
    "NRP": None,
    "NORP": None,
    "MISC": None,
}

#: Labels common in clinical de-identification models (PhysioNet, n2c2-derived, generic NER).
MODEL_LABELS: Mapping[str, PhiType | None] = {
    "STAFF": PhiType.NAME,
    "HCW": PhiType.NAME,
    "RELATIVE": PhiType.NAME,
    "NAME": PhiType.NAME,
    "HOSP": PhiType.FACILITY,
    "HOSPITAL": PhiType.FACILITY,
    "FACILITY": PhiType.FACILITY,
    "ADDRESS": PhiType.STREET,
    "LOCATION": PhiType.LOCATION,
    "PHONE": PhiType.PHONE,
    "CONTACT": PhiType.PHONE,
    "ID": PhiType.ID,
    "MRN": PhiType.MRN,
    "DATE": PhiType.DATE,
    "AGE": PhiType.AGE,
    "URL": PhiType.URL,
    "WEB": PhiType.URL,
}

#: The PhysioNet ``deid`` gold standard (Neamatullah et al. 2008): clinicians, patients and their relatives
#: are names; its Location is any place smaller than a state (hospitals, wards named after places, towns,
#: streets); a year alone (DateYear) is not an identifier under Safe Harbor and is reported apart.
PHYSIONET_LABELS: Mapping[str, PhiType | None] = {
    "HCPNAME": PhiType.NAME,
    "PTNAME": PhiType.NAME,
    "PTNAMEINITIAL": PhiType.NAME,
    "RELATIVEPROXYNAME": PhiType.NAME,
    "LOCATION": PhiType.LOCATION,
    "DATE": PhiType.DATE,
    "DATEYEAR": None,
    "PHONE": PhiType.PHONE,
    "AGE": PhiType.AGE,
    "OTHER": PhiType.ID,
}

_LOOKUP: dict[str, PhiType | None] = {}
for _table in (PHYSIONET_LABELS, MODEL_LABELS, PRESIDIO_LABELS, I2B2_LABELS):
    _LOOKUP.update({k.upper(): v for k, v in _table.items()})
_LOOKUP.update({t.value: t for t in PhiType})


def map_label(label: str) -> PhiType | None:
    """Our type for an outside label (BIO prefix allowed), ``None`` for a known non-PHI label.

    Raises :class:`UnknownPhiTypeError` listing how to add it when the label is in no table.
    """
    key = label.strip().upper()
    if len(key) > 2 and key[1] == "-" and key[0] in "BIESLU":
        key = key[2:]
    if key in _LOOKUP:
        return _LOOKUP[key]
    raise UnknownPhiTypeError(
        f"label {label.strip()!r} is not a PHI type nor in a known external label set; "
        "add it to pipeline/core/detection/labels.py"
    )
