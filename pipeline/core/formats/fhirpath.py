"""FHIRPath rules for FHIR (``fhirpathpy``, R4 model): which leaves each expression selects, in rule order.

A FHIR rule whose path has a function call (``nodesByType('HumanName')``, ``Patient.telecom.where(system
= 'phone')``, ``descendants().ofType(date)``) is FHIRPath; a plain dotted path or a data-type name keeps
the project's own syntax. Microsoft's anonymizer functions ``nodesByType('T')`` and ``nodesByName('n')``
are rewritten to standard FHIRPath (``descendants().ofType(T)``, ``descendants().select(n)``).

To know which leaves an expression selected, each resource is copied with every value tagged with its
path (``Patient.name[0].family``, the walker's own path): strings and numbers as subclasses that compare
like the value, objects as a dict subclass. A selected object selects every leaf beneath it. Rules apply
in the order written and the first that selects a leaf takes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fhirpathpy import compile as compile_fhirpath
from fhirpathpy.models import models

from pipeline.core.formats.rules import Rule
from pipeline.core.transform.fhirpath_cases import syntax_problem

_MODEL = models["r4"]
_OPTIONS = {"returnRawData": True}
_NODES_BY_TYPE = re.compile(r"nodesByType\(\s*'([A-Za-z][A-Za-z0-9]*)'\s*\)")
_NODES_BY_NAME = re.compile(r"nodesByName\(\s*'([A-Za-z][A-Za-z0-9]*)'\s*\)")
_BASE_TYPE = re.compile(r"^\(?(?:Resource|DomainResource)\b")
_SAMPLE = {"resourceType": "Patient", "name": [{"family": "x"}]}


def is_fhirpath(path: str) -> bool:
    """True when ``path`` is FHIRPath rather than the project's dotted path (it calls a function)."""
    return "(" in path


def standard(expression: str) -> str:
    """Microsoft's ``nodesByType``/``nodesByName`` as standard FHIRPath, and a leading ``Resource`` (any
    resource, which fhirpathpy's type check does not see through) as the resource itself."""
    expression = _BASE_TYPE.sub(lambda m: "(%context" if m.group(0).startswith("(") else "%context", expression)
    expression = _NODES_BY_TYPE.sub(r"descendants().ofType(\1)", expression)
    return _NODES_BY_NAME.sub(r"descendants().select(\1)", expression)


def problem(expression: str) -> str | None:
    """What is wrong with a FHIRPath expression (syntax, an unknown function), or None."""
    text = standard(expression)
    syntax = syntax_problem(text)
    if syntax:
        return syntax
    try:
        compile_fhirpath(text, model=_MODEL, options=_OPTIONS)(_SAMPLE, {})
    except Exception as exc:  # fhirpathpy raises bare Exception for an unknown function
        return f"FHIRPath cannot evaluate it ({str(exc)[:120]})"
    return None


class _Str(str):  # a value that knows its path (``where``)
    where: str


class _Int(int):  # a value that knows its path (``where``)
    where: str


class _Float(float):  # a value that knows its path (``where``)
    where: str


class _Dict(dict):
    __slots__ = ("where",)


def _tag(value: Any, path: str) -> Any:
    if isinstance(value, dict):
        out = _Dict({k: _tag(v, f"{path}.{k}") for k, v in value.items()})
        out.where = path
        return out
    if isinstance(value, list):
        return [_tag(v, f"{path}[{i}]") for i, v in enumerate(value)]
    kind = {str: _Str, int: _Int, float: _Float}.get(type(value))
    if kind is None:
        return value
    tagged = kind(value)
    tagged.where = path
    return tagged


@dataclass(frozen=True)
class FhirPathRule:
    """One FHIRPath rule: the expression as written, its compiled form and the rule it applies."""

    expression: str
    rule: Rule
    evaluate: Callable[[Any, dict[str, Any]], list[Any]]


def compile_rules(rules: Mapping[str, Rule]) -> tuple[FhirPathRule, ...]:
    """The FHIRPath rules among ``rules``, in their order (the loader checked each with :func:`problem`)."""
    return tuple(
        FhirPathRule(path, rule, compile_fhirpath(standard(path), model=_MODEL, options=_OPTIONS))
        for path, rule in rules.items()
        if is_fhirpath(path)
    )


def select(rules: tuple[FhirPathRule, ...], resource: dict[str, Any], root: str) -> list[tuple[FhirPathRule, set[str]]]:
    """Per rule, in order, the paths (under ``root``) of what its expression selects in ``resource``."""
    if not rules:
        return []
    tagged = _tag(resource, root)
    out = []
    for compiled in rules:
        paths = set()
        for item in compiled.evaluate(tagged, {}):
            where = getattr(getattr(item, "data", item), "where", None)
            if where is not None:
                paths.add(where)
        out.append((compiled, paths))
    return out


def ancestors(path: str) -> list[str]:
    """``Patient.name[0].family`` -> itself, ``Patient.name[0]``, ``Patient.name``, ``Patient``."""
    out = [path]
    for index in range(len(path) - 1, 0, -1):
        if path[index] in ".[":
            out.append(path[:index])
    return out
