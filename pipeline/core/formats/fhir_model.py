"""What the FHIR R4 models say about an element: its data type, and whether it repeats.

The models are ``fhir.resources``' R4B package (FHIR 4.3.0, the R4 line: the resources this pipeline
handles are the same in R4 and R4B); they validate every output, and their field annotations tell the
walker and the policy validator which data type each element has (``Patient.address`` is an
``Address``, ``Patient.birthDate`` a ``date``), so a rule on a data type applies wherever it occurs.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from functools import cache
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

FHIR_VERSION = "4.3.0"
#: Data types that hold other elements (the walker descends into them); everything else is a primitive.
RESOURCE = "Resource"
_ALIASES = {"encodedBytes": "base64Binary"}


@dataclass(frozen=True, slots=True)
class ElementType:
    """An element's FHIR data type name (``HumanName``, ``dateTime``, ``PatientContact`` for a
    backbone element, ``Resource`` for a contained resource) and whether it is a primitive."""

    name: str
    primitive: bool


@cache
def model_class(name: str) -> Any:
    """The pydantic model of a resource, data type or backbone element; KeyError when there is none."""
    try:
        return get_fhir_model_class(name)
    except (KeyError, ValueError, AttributeError, ImportError):
        raise KeyError(name) from None


def is_model(name: str) -> bool:
    try:
        model_class(name)
    except KeyError:
        return False
    return True


def _type_of(annotation: Any) -> ElementType | None:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is getattr(__import__("types"), "UnionType", None):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                return _type_of(arg)
        return None
    if origin in (list, typing.List):  # noqa: UP006 (the models use typing.List)
        return _type_of(typing.get_args(annotation)[0])
    if origin is typing.Annotated:
        marker = typing.get_args(annotation)[1]
        name = type(marker).__name__
        name = name[:1].lower() + name[1:]
        return ElementType(_ALIASES.get(name, name), True)
    if annotation is bool:
        return ElementType("boolean", True)
    name = getattr(annotation, "__name__", "")
    if name.endswith("Type") and name != "Type":
        base = name[: -len("Type")]
        if base == "FHIRPrimitiveExtension":
            return ElementType("Element", False)
        return ElementType(base, False)
    return None


@cache
def element_type(model: str, element: str) -> ElementType | None:
    """The type of ``element`` in ``model`` (``Patient``, ``address``), or None when it has no such element."""
    try:
        fields = model_class(model).model_fields
    except KeyError:
        return None
    info = fields.get(element)
    if info is None:  # a JSON name that is a Python keyword (``class``) is the alias of ``class_``
        info = next((f for f in fields.values() if f.alias == element), None)
    if info is None:
        return None
    return _type_of(info.annotation)


def is_required(model: str, element: str) -> bool:
    """Whether ``model`` requires ``element`` (cardinality 1..; one type of a required choice counts)."""
    return any(element in required.names for required in required_elements(model))


def fhir_model_fields(model: str) -> Any:
    return model_class(model).model_fields


@dataclass(frozen=True, slots=True)
class RequiredElement:
    """An element a model requires (cardinality 1..1 or 1..*): its JSON name, or for a choice type
    ``[x]`` the name under each of its types (``diagnosisCodeableConcept``, ``diagnosisReference``),
    each with its data type; and whether it repeats."""

    names: tuple[str, ...]
    types: tuple[ElementType, ...]
    repeats: bool


def _repeats(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, typing.List):  # noqa: UP006 (the models use typing.List)
        return True
    return origin in (typing.Union, getattr(__import__("types"), "UnionType", None)) and any(
        _repeats(arg) for arg in typing.get_args(annotation) if arg is not type(None)
    )


@cache
def required_elements(model: str) -> tuple[RequiredElement, ...]:
    """The elements ``model`` requires, from the models' own field definitions (pydantic's required
    fields, ``element_required`` primitives and ``one_of_many_required`` choice groups); empty for a name
    that is no model."""
    try:
        fields = fhir_model_fields(model)
    except KeyError:
        return ()
    single: list[RequiredElement] = []
    choices: dict[str, list[tuple[str, ElementType, bool]]] = {}
    for name, info in fields.items():
        if name.endswith("__ext") or name in ("fhir_comments", "resource_type"):
            continue
        found = _type_of(info.annotation)
        if found is None:
            continue
        json_name = info.alias or name
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if extra.get("one_of_many_required") and extra.get("one_of_many"):
            choices.setdefault(str(extra["one_of_many"]), []).append((json_name, found, _repeats(info.annotation)))
        elif info.is_required() or extra.get("element_required"):
            single.append(RequiredElement((json_name,), (found,), _repeats(info.annotation)))
    for group in choices.values():
        names, types, repeats = zip(*group, strict=True)
        single.append(RequiredElement(tuple(names), tuple(types), any(repeats)))
    return tuple(single)


def child_model(parent: str, element: str, found: ElementType) -> str:
    """The model name to descend into: the type itself, or the backbone element's class
    (``PatientContact``), which the annotation already names."""
    return found.name


#: Primitive data types a rule may name on its own (``date``: every date element).
PRIMITIVES = frozenset(
    {
        "base64Binary",
        "boolean",
        "canonical",
        "code",
        "date",
        "dateTime",
        "decimal",
        "id",
        "instant",
        "integer",
        "markdown",
        "oid",
        "positiveInt",
        "string",
        "time",
        "unsignedInt",
        "uri",
        "url",
        "uuid",
        "xhtml",
    }
)


def check_path(path: str) -> str | None:
    """None when ``path`` names a resource's element (``Patient.address.line``), a data type or one of
    its elements (``HumanName``, ``Address.postalCode``) or a primitive type (``date``); else what is wrong."""
    parts = path.split(".")
    head = parts[0]
    if head in PRIMITIVES:
        return None if len(parts) == 1 else f"{head!r} is a primitive type: it has no elements to name"
    if not head[:1].isupper() or not is_model(head):
        return f"{head!r} is not a FHIR R4 resource or data type (for example Patient, HumanName, Address, date)"
    if len(parts) == 1 and head in _RESOURCE_NAMES:
        return f"a rule on a whole resource ({head}) is not allowed: name its elements ({head}.name)"
    model = head
    for index, element in enumerate(parts[1:], start=1):
        found = element_type(model, element)
        if found is None:
            where = ".".join(parts[:index])
            return f"{where} has no element {element!r}"
        if found.primitive and index < len(parts) - 1:
            return f"{'.'.join(parts[: index + 1])} is a {found.name}: it has no elements to name"
        model = found.name
    return None


_RESOURCE_NAMES = frozenset(
    {
        "Bundle",
        "Patient",
        "RelatedPerson",
        "Practitioner",
        "PractitionerRole",
        "Organization",
        "Encounter",
        "Observation",
        "Condition",
        "DiagnosticReport",
        "DocumentReference",
        "Location",
    }
)
