"""The coded values of a FHIR R4 resource or Bundle, for :func:`~pipeline.core.sensitive_evidence.coded.classify_codes`.

Read from the parsed JSON before any element is protected. Every ``Coding`` (an object with ``system`` and
``code``) of every resource counts, wherever it sits (``Condition.code``, ``Observation.code`` and
``valueCodeableConcept``, ``MedicationStatement.medicationCodeableConcept``, ``Medication.code``,
``Procedure.code``, ``Encounter.reasonCode``, ``meta.security`` labels, ...), in Bundle entries (nested
Bundles too), contained resources and any other resource inside a resource (a contained resource shares its
container's withdrawal), except in resources about someone or something else than the patient's own
care: ``FamilyMemberHistory`` (a relative's), ``AllergyIntolerance`` (an allergy to a medicine is no
treatment with it), ``Immunization``, and definitional resources (value sets, questionnaires, plan
definitions), with every resource inside them.

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
    for resource, withdrawn in _resources(data, False, 0):
        rtype = resource["resourceType"]
        result, somatic = (_result(resource), _somatic(resource)) if rtype == "Observation" else (Result.UNKNOWN, False)
        for coding in _codings(resource, 0):
            found.append(Coded(coding["system"], coding["code"], result, somatic, withdrawn))
    return found


def _resources(node: Any, withdrawn: bool, depth: int) -> Iterator[tuple[dict[str, Any], bool]]:
    """Every resource in ``node`` (itself, Bundle entries, contained resources, parameters, at any depth)
    with whether it is withdrawn (a resource inside a withdrawn or skipped one is too, or skipped)."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(node, dict):
        if isinstance(node.get("resourceType"), str):
            if node["resourceType"] in SKIPPED:
                return
            withdrawn = withdrawn or _withdrawn(node)
            yield node, withdrawn
        for value in node.values():
            yield from _resources(value, withdrawn, depth + 1)
    elif isinstance(node, list):
        for item in node:
            yield from _resources(item, withdrawn, depth + 1)


def _codings(node: Any, depth: int) -> Iterator[dict[str, str]]:
    """Every Coding under ``node``, not descending into the resources inside it (walked on their own)."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(node, dict):
        if depth and isinstance(node.get("resourceType"), str):
            return
        if isinstance(node.get("code"), str) and isinstance(node.get("system"), str):
            yield node
        for value in node.values():
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
