"""Removed FHIR elements pruned from a de-identified resource, with FHIR's Data Absent Reason where the
definition requires the element.

The walk marks what it removes with :data:`REMOVED`; :func:`prune` drops those marks, empty strings, and the
objects and lists they leave empty (FHIR allows none of them). Where that would leave an element the R4 models
require (cardinality 1..1 or 1..*: ``Claim.priority``, ``ClaimDiagnosis.diagnosis[x]``,
``ContractTerm.offer``) missing from an element that still has content, the element is written with the
standard extension ``http://hl7.org/fhir/StructureDefinition/data-absent-reason`` and the code
``masked`` instead, so the output still validates: a complex element holding only the extension (and,
in turn, its own required elements so), a primitive as its ``_name`` sibling holding it, a repeating one
as one such item, a choice type ``[x]`` under the type the input used. The extension carries only the
code: nothing of the removed value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.core.formats import fhir_model

#: Marks an element the walk removed (pruned here).
REMOVED: Any = object()
DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
MASKED = "masked"
#: Types that cannot stand absent by an extension of their own: a resource has no ``extension``, and an
#: extension's own required ``url`` is what the data-absent-reason extension needs.
_NOT_FILLED = frozenset({fhir_model.RESOURCE, "Extension"})
_DEPTH = 16


def absent_extension() -> dict[str, Any]:
    """An element holding only the Data Absent Reason extension (code ``masked``)."""
    return {"extension": [{"url": DATA_ABSENT_REASON, "valueCode": MASKED}]}


@dataclass
class Pruned:
    """A pruned resource (or :data:`REMOVED` when nothing is left) and the paths written absent."""

    value: Any
    absent: list[str] = field(default_factory=list)


def prune(resource: dict[str, Any]) -> Pruned:
    """``resource`` without its removed elements; a required element they emptied written absent."""
    out = Pruned(REMOVED)
    out.value = _prune(resource, fhir_model.RESOURCE, str(resource.get("resourceType")), out)
    return out


def _prune(value: Any, model: str | None, path: str, out: Pruned) -> Any:
    if isinstance(value, list):
        items = [_prune(item, model, f"{path}[{index}]", out) for index, item in enumerate(value)]
        kept = [item for item in items if item is not REMOVED]
        return kept if kept else REMOVED
    if value == "" or value is None:  # FHIR has no empty strings, and no null outside a parallel array
        return REMOVED
    if not isinstance(value, dict):
        return value
    if model == fhir_model.RESOURCE:  # a contained or entry resource: read against its own type
        model = value.get("resourceType") if isinstance(value.get("resourceType"), str) else None
    done: dict[str, Any] = {}
    for key, item in value.items():
        sibling = f"_{key}"
        if sibling in value and (isinstance(item, list) or isinstance(value[sibling], list)):
            done[key], done[sibling] = _aligned(item, value[sibling], _child_model(model, key), f"{path}.{key}", out)
        elif key not in done:
            done[key] = _prune(item, _child_model(model, key), f"{path}.{key}", out)
    pruned = {key: done[key] for key in value if done[key] is not REMOVED}
    if not pruned or model is None or model == "Extension":  # an extension's url is an attribute: never absent
        return pruned if pruned else REMOVED
    absent_before = len(out.absent)
    for required in fhir_model.required_elements(model):
        present = [n for n in required.names if n in pruned or f"_{n}" in pruned]
        used = [n for n in required.names if n in value or f"_{n}" in value]
        if present or not used:  # still there, or never there (not ours to fill)
            continue
        name = used[0]
        kind = required.types[required.names.index(name)]
        if kind.name in _NOT_FILLED:
            continue
        _fill(pruned, name, kind, required.repeats, value.get(name), 0)
        out.absent.append(f"{path}.{name}")
    if len(out.absent) > absent_before:  # written where the input had them, not at the end
        order = {key.lstrip("_"): index for index, key in enumerate(value)}
        pruned = dict(sorted(pruned.items(), key=lambda kv: order.get(kv[0].lstrip("_"), len(order))))
    return pruned


def _aligned(values: Any, extras: Any, model: str | None, path: str, out: Pruned) -> tuple[Any, Any]:
    """A repeating primitive and its ``_name`` list pruned item by item, so that they stay aligned: an item
    removed from both closes up in both, an item left in one only is null in the other (FHIR JSON's parallel
    arrays); a list left all null is dropped. Either may come back :data:`REMOVED`."""
    values = values if isinstance(values, list) else [values]
    extras = extras if isinstance(extras, list) else [extras]
    name = path.rsplit(".", 1)
    pairs = []
    for index in range(max(len(values), len(extras))):
        value = _prune(values[index], model, f"{path}[{index}]", out) if index < len(values) else REMOVED
        extra = (
            _prune(extras[index], "Element", f"{name[0]}._{name[-1]}[{index}]", out) if index < len(extras) else REMOVED
        )
        if value is not REMOVED or extra is not REMOVED:
            pairs.append((None if value is REMOVED else value, None if extra is REMOVED else extra))
    if not any(extra is not None for _, extra in pairs):
        return ([value for value, _ in pairs] or REMOVED), REMOVED
    return [value for value, _ in pairs], [extra for _, extra in pairs]


def _child_model(model: str | None, key: str) -> str | None:
    """The model an element's value is read against (None: no definition, pruned as is)."""
    if model is None or key == "resourceType":
        return None
    if key.startswith("_"):
        return "Element"
    found = fhir_model.element_type(model, key)
    return None if found is None or found.primitive else found.name


def _fill(holder: dict[str, Any], name: str, kind: fhir_model.ElementType, repeats: bool, was: Any, depth: int) -> None:
    """Write ``name`` into ``holder`` as absent: ``_name`` for a primitive, else the element itself."""
    if kind.primitive:
        if repeats:
            holder[name] = [None]
            holder[f"_{name}"] = [absent_extension()]
        else:
            holder[f"_{name}"] = absent_extension()
        return
    first = was[0] if isinstance(was, list) and was else was
    element = _absent_element(kind.name, first if isinstance(first, dict) else {}, depth + 1)
    holder[name] = [element] if repeats else element


def _absent_element(model: str, was: dict[str, Any], depth: int) -> dict[str, Any]:
    """A complex element holding only the extension, and its own required elements written absent (a
    choice under the type ``was`` used, else its first)."""
    element = absent_extension()
    if depth > _DEPTH:
        return element
    for required in fhir_model.required_elements(model):
        used = [n for n in required.names if n in was or f"_{n}" in was] or list(required.names)
        name = used[0]
        kind = required.types[required.names.index(name)]
        if kind.name not in _NOT_FILLED:
            _fill(element, name, kind, required.repeats, was.get(name), depth)
    return element
