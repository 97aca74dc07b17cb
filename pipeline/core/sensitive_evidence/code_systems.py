"""The code systems whose codes can put a record in a sensitive category, and the names each goes by.

A coded value names its system one way per format: FHIR by URI (``Coding.system``), HL7 v2 by the
coding-system component of a CE/CWE field (HL7 table 0396 mnemonics, ``I10``, ``LN``, ``SCT``) or, in
CDA-shaped feeds, by OID; an Avro schema by the field's ``code_system`` tag. :func:`system_of` reads any
of them (case-insensitive, ``urn:oid:`` optional); a name it does not know is no system here, and its
codes are no evidence. Sources: HL7 FHIR R4 terminology pages (code system URIs), HL7 v2.5.1 table 0396
(coding systems), the HL7 OID registry.
"""

from __future__ import annotations

import functools
from enum import StrEnum

from pipeline.core.errors import SchemaError


class CodeSystem(StrEnum):
    """A code system the coded-value tables cover (its value names it in explanations and schema tags)."""

    ICD10CM = "icd10cm"
    ICD9CM = "icd9cm"
    SNOMED = "snomed"
    LOINC = "loinc"
    RXNORM = "rxnorm"
    ATC = "atc"
    V3_ACTCODE = "v3-actcode"  # HL7 v3 ActCode: the sensitivity labels of FHIR meta.security


#: Every name a system goes by, lower case. WHO ICD-10 (``http://hl7.org/fhir/sid/icd-10``, HL7 ``I10``)
#: reads with the ICD-10-CM tables: the three-character categories they use are the same (ICD-10-CM adds
#: subdivisions; ``B20``-``B24`` of WHO ICD-10 are checked as ICD-10-CM's ``B20``). Procedure code sets
#: (ICD-10-PCS ``I10P``, ICD-9-CM volume 3 ``I9CP``) are not diagnoses and are not listed.
ALIASES: dict[str, CodeSystem] = {
    # ICD-10-CM and WHO ICD-10
    "http://hl7.org/fhir/sid/icd-10-cm": CodeSystem.ICD10CM,
    "http://hl7.org/fhir/sid/icd-10": CodeSystem.ICD10CM,
    "2.16.840.1.113883.6.90": CodeSystem.ICD10CM,
    "2.16.840.1.113883.6.3": CodeSystem.ICD10CM,
    "i10": CodeSystem.ICD10CM,
    "i10c": CodeSystem.ICD10CM,
    "icd10cm": CodeSystem.ICD10CM,
    "icd-10-cm": CodeSystem.ICD10CM,
    "icd10": CodeSystem.ICD10CM,
    "icd-10": CodeSystem.ICD10CM,
    # ICD-9-CM diagnoses
    "http://hl7.org/fhir/sid/icd-9-cm": CodeSystem.ICD9CM,
    "2.16.840.1.113883.6.103": CodeSystem.ICD9CM,
    "2.16.840.1.113883.6.2": CodeSystem.ICD9CM,
    "i9": CodeSystem.ICD9CM,
    "i9c": CodeSystem.ICD9CM,
    "i9cdx": CodeSystem.ICD9CM,
    "icd9cm": CodeSystem.ICD9CM,
    "icd-9-cm": CodeSystem.ICD9CM,
    # SNOMED CT
    "http://snomed.info/sct": CodeSystem.SNOMED,
    "2.16.840.1.113883.6.96": CodeSystem.SNOMED,
    "sct": CodeSystem.SNOMED,
    "snomed": CodeSystem.SNOMED,
    "snomedct": CodeSystem.SNOMED,
    "snomed-ct": CodeSystem.SNOMED,
    # LOINC
    "http://loinc.org": CodeSystem.LOINC,
    "2.16.840.1.113883.6.1": CodeSystem.LOINC,
    "ln": CodeSystem.LOINC,
    "lnc": CodeSystem.LOINC,
    "loinc": CodeSystem.LOINC,
    # RxNorm
    "http://www.nlm.nih.gov/research/umls/rxnorm": CodeSystem.RXNORM,
    "2.16.840.1.113883.6.88": CodeSystem.RXNORM,
    "rxnorm": CodeSystem.RXNORM,
    # WHO ATC (HL7 table 0396 names it WC; its ATC is the American Type Culture Collection, whose strain
    # numbers never have an ATC code's shape, so reading ATC as WHO ATC finds nothing false)
    "http://www.whocc.no/atc": CodeSystem.ATC,
    "2.16.840.1.113883.6.73": CodeSystem.ATC,
    "wc": CodeSystem.ATC,
    "whoatc": CodeSystem.ATC,
    "atc": CodeSystem.ATC,
    # HL7 v3 ActCode (FHIR R4 URI, its DSTU2 form, OID)
    "http://terminology.hl7.org/codesystem/v3-actcode": CodeSystem.V3_ACTCODE,
    "http://hl7.org/fhir/v3/actcode": CodeSystem.V3_ACTCODE,
    "2.16.840.1.113883.5.4": CodeSystem.V3_ACTCODE,
    "v3-actcode": CodeSystem.V3_ACTCODE,
}


def system_of(name: str | None) -> CodeSystem | None:
    """The system a URI, OID or mnemonic names (None for one no table here covers)."""
    if type(name) is str:  # a few names, asked for every coded value of every record: remembered
        return _named_system(name)
    return _read_system(name)


@functools.lru_cache(maxsize=1024)
def _named_system(name: str) -> CodeSystem | None:
    return _read_system(name)


def _read_system(name: str | None) -> CodeSystem | None:
    if not name:
        return None
    key = name.strip().lower().rstrip("/")
    if key.startswith("urn:oid:"):
        key = key[len("urn:oid:") :]
    return ALIASES.get(key)


def parse_system(name: object, where: str) -> CodeSystem:
    """A schema tag's system, or a :class:`SchemaError` naming the field and the systems known."""
    found = system_of(name) if isinstance(name, str) else None
    if found is None:
        known = ", ".join(c.value for c in CodeSystem)
        raise SchemaError(f"{where}: code_system {name!r} is not a code system the pipeline reads; known: {known}")
    return found
