"""The coded values of a FHIR R4 resource or Bundle, for :func:`~pipeline.core.sensitive_evidence.coded.classify_codes`.

Read from the parsed JSON before any element is protected. Every ``Coding`` (an object with ``system`` and
``code``) of every resource counts, wherever it sits (``Condition.code``, ``Observation.code`` and
``valueCodeableConcept``, ``MedicationStatement.medicationCodeableConcept``, ``Medication.code``,
``Procedure.code``, ``Encounter.reasonCode``, ``meta.security`` labels, ...), in Bundle entries (nested
Bundles too) and contained resources, except in resources about someone or something else than the
patient's own care: ``FamilyMemberHistory`` (a relative's), ``AllergyIntolerance`` (an allergy to a medicine
is no treatment with it), ``Immunization``, and definitional resources (value sets, questionnaires,
plan definitions).

Withdrawn (CRITERIA.md: a refuted diagnosis is no diagnosis): any resource whose ``status`` is
``entered-in-error``; a Condition whose ``verificationStatus`` is ``refuted`` or ``entered-in-error``; a
MedicationStatement ``not-taken``; a Procedure or MedicationAdministration ``not-done``. A Condition whose
``clinicalStatus`` is ``resolved``, ``inactive`` or ``remission`` still counts: it is the patient's own
history (42 CFR Part 2 covers a past disorder in remission). An Observation's result, for the tests that
need one, is read from its interpretation, a coded value or a short string value; its genomic source class
(LOINC 48002-0) tells a somatic result from a germline one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipeline.core.sensitive_evidence.coded import Coded, Result, result_of

#: Resources whose codes are not the patient's own care.
SKIPPED = frozenset(
    {
        "FamilyMemberHistory",
        "AllergyIntolerance",
        "Immunization",
        "ImmunizationRecommendation",
        "ValueSet",
        "CodeSystem",
        "ConceptMap",
        "NamingSystem",
        "Questionnaire",
        "PlanDefinition",
        "ActivityDefinition",
        "ObservationDefinition",
        "SpecimenDefinition",
        "Library",
        "Measure",
        "StructureDefinition",
        "SearchParameter",
        "OperationDefinition",
        "CapabilityStatement",
    }
)
_REFUTED = frozenset({"refuted", "entered-in-error"})
_NOT_DONE = {"MedicationStatement": {"not-taken"}, "Procedure": {"not-done"}, "MedicationAdministration": {"not-done"}}
_GENOMIC_SOURCE_CLASS = "48002-0"
_SOMATIC = "LA6684-0"
_MAX_DEPTH = 64


def codes_in_fhir(data: Any) -> list[Coded]:
    """Every coded value of the resource or Bundle ``data`` (see the module docstring)."""
    found: list[Coded] = []
    for resource in _resources(data, 0):
        rtype = resource.get("resourceType")
        if rtype in SKIPPED:
            continue
        withdrawn = _withdrawn(resource)
        result, somatic = (_result(resource), _somatic(resource)) if rtype == "Observation" else (Result.UNKNOWN, False)
        for coding in _codings(resource, 0):
            found.append(Coded(coding["system"], coding["code"], result, somatic, withdrawn))
    return found


def _resources(data: Any, depth: int) -> Iterator[dict[str, Any]]:
    """The resource itself, its contained resources and, for a Bundle, each entry's (recursively)."""
    if depth > _MAX_DEPTH or not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
        return
    yield data
    for contained in data.get("contained") or ():
        yield from _resources(contained, depth + 1)
    if data["resourceType"] == "Bundle":
        for entry in data.get("entry") or ():
            if isinstance(entry, dict):
                yield from _resources(entry.get("resource"), depth + 1)


def _codings(node: Any, depth: int) -> Iterator[dict[str, str]]:
    """Every Coding under ``node``, not descending into contained resources (walked on their own)."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(node, dict):
        if isinstance(node.get("code"), str) and isinstance(node.get("system"), str):
            yield node
        for key, value in node.items():
            if key not in ("contained", "resource"):
                yield from _codings(value, depth + 1)
    elif isinstance(node, list):
        for item in node:
            yield from _codings(item, depth + 1)


def _codes(concept: Any) -> list[str]:
    if not isinstance(concept, dict):
        return []
    return [c["code"] for c in concept.get("coding") or () if isinstance(c, dict) and isinstance(c.get("code"), str)]


def _withdrawn(resource: dict[str, Any]) -> bool:
    status = resource.get("status")
    if status == "entered-in-error":
        return True
    if status in _NOT_DONE.get(resource["resourceType"], ()):
        return True
    return resource["resourceType"] == "Condition" and bool(_REFUTED & set(_codes(resource.get("verificationStatus"))))


def _result(observation: dict[str, Any]) -> Result:
    flags = [code for concept in observation.get("interpretation") or () for code in _codes(concept)]
    flags += _codes(observation.get("valueCodeableConcept"))
    value = observation.get("valueString")
    return result_of(flags, [value] if isinstance(value, str) else [])


def _somatic(observation: dict[str, Any]) -> bool:
    for component in observation.get("component") or ():
        if isinstance(component, dict) and _GENOMIC_SOURCE_CLASS in _codes(component.get("code")):
            if _SOMATIC in _codes(component.get("valueCodeableConcept")):
                return True
    return False
