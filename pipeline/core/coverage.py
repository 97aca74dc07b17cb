"""Deny by default: how every leaf of a message is decided and counted.

Each leaf of an HL7 v2 message, a FHIR resource or an Avro record ends in one of four decisions:
``ruled`` (a policy rule protected it: redact, tokenize, generalize...), ``detected`` (its text went to
the detector, because a rule said so or because no rule named it), ``dropped`` (it cannot be text and
no rule names it: element ids, comments) or ``kept`` (an explicit ``keep`` rule, and the value has the
shape of what such a rule may keep: a code, a unit, a number or a URL of a public code system).
A value under a ``keep`` rule that does not have that shape (a name typed into a code field) goes to
the detector instead: ``keep`` keeps codes, never free text. A code whose coding system is a public one on
the allow list (a FHIR ``Coding.code`` beside its ``system``, an HL7 v2 coded element's identifier beside
its coding system: ``SCT``, ``LN``, ``I10``, ``RXNORM``...) is vocabulary, not patient data: it is kept
whatever its length (SNOMED CT ids run 6 to 18 digits; an all-digit one must carry a valid SCTID check
digit), where a bare number of more than six digits goes to the detector. Each message's audit event carries the
counts (``leaves_ruled``...); ``phi-pipeline policy explain`` prints every leaf's record.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from stdnum import verhoeff


class Decision(StrEnum):
    """How one leaf was decided (counted per message in its audit event, shown by ``policy explain``)."""

    RULED = "ruled"
    DETECTED = "detected"
    DROPPED = "dropped"
    KEPT = "kept"


#: Public code systems and terminologies whose URLs a ``keep`` rule may keep (prefixes, lower case).
CODE_SYSTEM_URLS = (
    "http://loinc.org",
    "http://snomed.info/",
    "http://www.nlm.nih.gov/research/umls/rxnorm",
    "http://hl7.org/fhir/",
    "https://hl7.org/fhir/",
    "http://terminology.hl7.org/",
    "https://terminology.hl7.org/",
    "http://hl7.org/fhir/sid/icd-10",
    "http://hl7.org/fhir/sid/icd-10-cm",
    "http://hl7.org/fhir/sid/icd-9-cm",
    "http://hl7.org/fhir/sid/ndc",
    "http://hl7.org/fhir/sid/cvx",
    "http://www.ama-assn.org/go/cpt",
    "http://unitsofmeasure.org",
    "urn:ietf:bcp:47",
    "urn:ietf:bcp:13",
    "urn:iso:std:iso:3166",
    "urn:iso:std:iso:4217",
    "http://www.whocc.no/atc",
    "http://nucc.org/provider-taxonomy",
    "http://www.cms.gov/medicare/coding/icd10",
)
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-+/%*\[\]{}'^]{0,39}")
_NUMBER = re.compile(r"[<>]?=?[+-]?(?:\d{1,12}(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?")
_NAME_LIKE = re.compile(r"[A-Z][a-z]{2,}(?:['-][A-Za-z]+)?")
#: Coding-system names (HL7 table 0396) an all-caps rule would otherwise send to the detector.
_SYSTEM_NAMES = frozenset(
    {"RXNORM", "SNOMED", "SNOMEDCT", "LOINC", "UCUM", "HCPCS", "NDFRT", "MEDRX", "MEDCIN", "ICD10"}
)
#: HL7 v2 coding-system names (table 0396) of public code systems: a coded element's identifier beside one
#: is vocabulary (kept by ``keep`` whatever its length).
HL7_CODING_SYSTEMS = frozenset(
    {
        *("SCT", "SCT2", "SNM", "SNM3", "SNOMED", "SNOMEDCT", "LN", "LOINC", "RXNORM", "NDC", "CVX", "MVX", "UCUM"),
        *("I9", "I9C", "I9CDX", "I9CP", "I10", "I10C", "I10P", "ICD10", "ICD10CM", "ICD10PCS", "ICD9CM"),
        *("C4", "C5", "CPT4", "HCPCS", "HPC", "ATC", "NUCCPT", "NDFRT", "MEDRX", "MEDCIN"),
    }
)
_SNOMED_SYSTEMS = frozenset({"SCT", "SCT2", "SNOMEDCT"})
#: Systems under an allow-listed prefix that name identifiers, not codes (``http://hl7.org/fhir/sid/us-ssn``).
_IDENTIFIER_SYSTEM = re.compile(
    r"/sid/(?!icd-|ndc|cvx)|/namingsystem/|ssn|npi|mbi|medicare|medicaid|passport|licen[cs]e|mrn", re.IGNORECASE
)
_LONG_CAPS = re.compile(r"[A-Z]{5,}")  # an all-caps word (a name in HL7's style), not a short code
_PHI_SHAPES = re.compile(r"\d{3}-\d{2}-\d{4}|\d{7,}|@")
_SSN_SHAPE = re.compile(r"\d{3}-\d{2}-\d{4}")
_SCTID_PARTITIONS = frozenset({"00", "01", "02", "10", "11", "12"})


def is_code_system_url(value: str) -> bool:
    """A URL (or URN) of a public code system on the shipped allow list, with nothing appended that is
    shaped like an identifier (``http://hl7.org/fhir/sid/us-ssn/536228147`` is not kept)."""
    folded = value.strip().lower()
    if any(c.isspace() for c in folded) or _PHI_SHAPES.search(folded):
        return False
    for url in CODE_SYSTEM_URLS:
        base = url.rstrip("/")
        if folded == base or (folded.startswith(base) and folded[len(base)] in "/:#?|"):
            return True
    return False


def is_code_system(system: object) -> bool:
    """``system`` names a public code system on the allow list: a FHIR ``Coding.system`` URL (not an
    identifier system such as ``http://hl7.org/fhir/sid/us-ssn``) or an HL7 v2 coding-system name."""
    if not isinstance(system, str):
        return False
    if system.strip().upper() in HL7_CODING_SYSTEMS:
        return True
    return is_code_system_url(system) and _IDENTIFIER_SYSTEM.search(system) is None


def _vocabulary_code(text: str, system: object) -> bool:
    """``text`` is a code of the listed code system ``system``: a code's shape whatever its length (no
    email or SSN shape), and, all digits under SNOMED CT, a valid SCTID (Verhoeff check digit, a concept,
    description or relationship partition)."""
    if not is_code_system(system) or not _CODE.fullmatch(text) or "@" in text or _SSN_SHAPE.search(text):
        return False
    snomed = str(system).strip().upper() in _SNOMED_SYSTEMS or "snomed.info/sct" in str(system).lower()
    if snomed and text.isdigit():
        return 6 <= len(text) <= 18 and text[-3:-1] in _SCTID_PARTITIONS and verhoeff.is_valid(text)
    return True


def identifier_shaped(value: str) -> bool:
    """Something in ``value`` has an identifier's shape: an SSN, a run of seven digits or more, an email."""
    return _PHI_SHAPES.search(value) is not None


def keepable(value: object, system: object = None) -> bool:
    """True when a ``keep`` rule may keep ``value`` as it is: a number, a boolean, a code (no spaces,
    not shaped like a name, an SSN, a phone number or an email address) or an allow-listed URL; with
    ``system`` (the code's coding system), also a code of a listed code system whatever its length."""
    if not isinstance(value, str):
        return isinstance(value, (int, float, bool))
    text = value.strip()
    if not text:
        return True
    if system is not None and _vocabulary_code(text, system):
        return True
    if _NUMBER.fullmatch(text) and sum(c.isdigit() for c in text.split(".")[0]) <= 6:
        return True  # a value; a longer run of digits may be an identifier: the detector decides
    if "://" in text or text.lower().startswith("urn:"):
        return is_code_system_url(text)
    if not _CODE.fullmatch(text) or _PHI_SHAPES.search(text):
        return False
    if text in _SYSTEM_NAMES:
        return True
    return not _NAME_LIKE.fullmatch(text) and not _LONG_CAPS.fullmatch(text)


@dataclass(frozen=True, slots=True)
class LeafRecord:
    """One leaf for ``policy explain``: its path, the rule that decided it (or why none did) and what
    happened to it. Never the value."""

    path: str
    rule: str
    decision: Decision
    action: str


@dataclass
class Coverage:
    """Leaves by decision for one message; with ``explain`` on, every leaf's record too."""

    counts: Counter[Decision] = field(default_factory=Counter)
    explain: bool = False
    records: list[LeafRecord] = field(default_factory=list)

    def add(self, path: str | Callable[[], str], rule: str, decision: Decision, action: str) -> None:
        self.counts[decision] += 1
        if self.explain:
            where = path() if callable(path) else path
            self.records.append(LeafRecord(where, rule, decision, action))

    def count(self, decisions: Iterable[Decision | None]) -> None:
        """Leaves decided, counted at once (None: a leaf not counted); their records come by :meth:`note`.
        Four ``list.count`` calls (identity first, in C) rather than a hash and an add per leaf."""
        found = decisions if type(decisions) is list else list(decisions)
        counts = self.counts
        for decision in _DECISIONS:
            number = found.count(decision)
            if number:
                counts[decision] += number

    def note(self, path: str, rule: str, decision: Decision, action: str) -> None:
        """A record for ``policy explain``, not counted: of what is no leaf of the input (a required FHIR
        element written absent), or of a leaf counted by :meth:`count`."""
        if self.explain:
            self.records.append(LeafRecord(path, rule, decision, action))

    def amend(self, path: str, rule: str, action: str) -> None:
        """A ruled leaf ruled again (Safe Harbor's 90+ after the walk): its record changes, not the counts."""
        if self.explain:
            self.records = [
                LeafRecord(path, rule, Decision.RULED, action) if r.path == path else r for r in self.records
            ]

    def as_details(self) -> dict[str, str]:
        """The counts as audit-event details (``leaves_ruled``: ``"12"``...), every decision present."""
        counts = self.counts
        return {name: str(counts.get(decision, 0)) for decision, name in _DETAIL_NAMES}


#: Each decision with its detail's name, in the enumeration's order (iterating an Enum costs more than
#: the rest of :meth:`Coverage.as_details`).
_DECISIONS = tuple(Decision)
_DETAIL_NAMES = tuple((decision, f"leaves_{decision.value}") for decision in Decision)
