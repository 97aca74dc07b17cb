"""Microsoft's FHIR anonymizer configuration (``fhirPathRules`` and ``parameters``) as a policy file.

Each rule becomes a FHIRPath rule of the policy's ``fhir:`` section, in the same order (first match
wins in both tools): ``keep``, ``redact``, ``dateShift``, ``cryptoHash``, ``encrypt``, ``substitute``,
``perturb`` and ``generalize`` (its FHIRPath ``cases`` and ``otherValues``). The partial-redaction switches
(``enablePartialDatesForRedact``,
``...AgesForRedact``, ``...ZipCodesForRedact``, ``restrictedZipCodeTabulationAreas``) become the
``redact`` rules' parameters. Keys (``dateShiftKey``, ``cryptoHashKey``, ``encryptKey``) are refused in
favour of the keyring: they are noted with their line and not carried over. The policy extends Safe
Harbor: a leaf no rule selects goes to the path and type rules, then the detector (deny by default),
where Microsoft's tool keeps it as it is.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pipeline.core.formats.fhirpath import is_fhirpath
from pipeline.core.policy.checker import Checker, PolicyFileError, compose

KEYS = ("dateShiftKey", "cryptoHashKey", "encryptKey")
_PARAMETERS = (
    *KEYS,
    "dateShiftScope",
    "enablePartialAgesForRedact",
    "enablePartialDatesForRedact",
    "enablePartialZipCodesForRedact",
    "restrictedZipCodeTabulationAreas",
)
_METHODS = {
    "keep": "keep",
    "redact": "redact",
    "dateshift": "date-shift",
    "cryptohash": "crypto-hash",
    "encrypt": "encrypt",
    "substitute": "substitute",
    "perturb": "perturb",
    "generalize": "generalize",
}
_METHOD_NAMES = ("keep", "redact", "dateShift", "cryptoHash", "encrypt", "substitute", "perturb", "generalize")
_RULE_KEYS = ("path", "method", "replaceWith", "span", "rangeType", "roundTo", "cases", "otherValues")
#: The PHI type a redaction records, by the FHIR type or element a path names (ID when none does).
_TYPES = {
    "HumanName": "NAME",
    "Address": "STREET",
    "ContactPoint": "PHONE",
    "Identifier": "ID",
    "date": "DATE",
    "dateTime": "DATE",
    "instant": "DATE",
    "postalCode": "ZIP",
    "city": "CITY",
    "Age": "AGE",
}
_TYPED = {"date-shift": "DATE", "generalize": "DATE"}


def looks_like_ms_fhir(text: str) -> bool:
    """True for a JSON document with ``fhirPathRules`` (the worker and ``redact`` take such a file)."""
    try:
        data = json.loads(text)
    except ValueError:
        return False
    return isinstance(data, dict) and "fhirPathRules" in data


def import_ms_fhir(text: str, source: str) -> tuple[str, list[str]]:
    """The configuration as policy YAML, and notes on what was not carried over (keys with their line);
    raises :class:`PolicyFileError` listing each rule the pipeline cannot honour, with its line."""
    checker = Checker(source)
    root = compose(text, source)
    notes: list[str] = []
    top = {k.value: (k, v) for k, v in checker.mapping(root, "the configuration")}
    for name in sorted(set(top) - {"fhirVersion", "processingErrors", "fhirPathRules", "parameters"}):
        checker.error(top[name][0], f"unknown setting {name!r} (fhirVersion, processingErrors, fhirPathRules, ...)")
    if "fhirVersion" in top and (checker.scalar(top["fhirVersion"][1], "fhirVersion") or "R4") not in ("R4", ""):
        checker.error(top["fhirVersion"][1], "fhirVersion: the pipeline reads FHIR R4 only")
    if "processingErrors" in top:
        notes.append(
            _note(
                source,
                top["processingErrors"][0],
                "processingErrors: a resource that cannot be processed is always dead-lettered with its reason",
            )
        )
    redact = _parameters(checker, top["parameters"][1], notes) if "parameters" in top else {}
    rules: dict[str, Any] = {}
    items = top["fhirPathRules"][1] if "fhirPathRules" in top else None
    if not isinstance(items, SequenceNode):
        checker.error(root, "the configuration needs a 'fhirPathRules' list")
    else:
        for item in items.value:
            converted = _rule(checker, item, redact)
            if converted is not None:
                path, rule = converted
                if path in rules:
                    notes.append(_note(source, item, f"{path}: a second rule on the same path never applies"))
                    continue
                rules[path] = rule
    if checker.problems:
        raise PolicyFileError(source, checker.problems)
    document = {"version": 1, "extends": "safe-harbor", "fhir": {"rules": rules}}
    header = f"# Imported from Microsoft's FHIR anonymizer configuration {source} ('policy import --from ms-fhir').\n"
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=1000), notes


def _note(source: str, node: Node, text: str) -> str:
    return f"{source}:{node.start_mark.line + 1}: {text}"


def _parameters(checker: Checker, node: Node, notes: list[str]) -> dict[str, Any]:
    redact: dict[str, Any] = {}
    for key, value in checker.mapping(node, "parameters"):
        name = key.value
        if name not in _PARAMETERS:
            checker.error(key, f"parameters: unknown setting {name!r} ({', '.join(_PARAMETERS)})")
        elif name in KEYS:
            notes.append(
                _note(
                    checker.source,
                    key,
                    f"{name} refused: keys live in the keyring (the pseudonym key keys "
                    "hashes and date shifts, the encryption key encrypts); the value in this file is not used",
                )
            )
        elif name == "dateShiftScope":
            notes.append(
                _note(
                    checker.source,
                    key,
                    "dateShiftScope: dates shift per patient here (every resource of one patient by the same offset)",
                )
            )
        elif name == "restrictedZipCodeTabulationAreas":
            areas = [text for _, text in checker.strings(value, name)]
            if areas:
                redact["restricted_zip3"] = ",".join(areas)
        else:
            flag = (checker.scalar(value, name) or "").lower()
            if flag not in ("true", "false"):
                checker.error(value, f"{name} must be true or false")
            elif flag == "true":
                redact[
                    {
                        "enablePartialAgesForRedact": "partial_ages",
                        "enablePartialDatesForRedact": "partial_dates",
                        "enablePartialZipCodesForRedact": "partial_zip",
                    }[name]
                ] = 1
    return redact


def _phi_type(path: str, action: str) -> str:
    for name, phi_type in _TYPES.items():
        if f"'{name}'" in path or path.endswith(f".{name}"):
            return phi_type
    return _TYPED.get(action, "ID")


def _cases(checker: Checker, fields: dict[str, tuple[Node, Node]], path: str) -> list[list[str]] | None:
    """A generalize rule's ``cases`` (condition -> result, in order); generalize needs them here as there."""
    if "cases" not in fields:
        checker.error(fields["method"][1], f"{path}: generalize needs its cases ({{condition: result}})")
        return None
    node = fields["cases"][1]
    pairs = [[str(k.value), checker.scalar(v, "case result") or ""] for k, v in checker.mapping(node, "cases")]
    if not pairs:
        checker.error(node, f"{path}: cases must map FHIRPath conditions to results")
        return None
    return pairs


def _rule(checker: Checker, node: Node, redact: dict[str, Any]) -> tuple[str, Any] | None:
    fields = {k.value: (k, v) for k, v in checker.mapping(node, "rule")}
    for name in sorted(set(fields) - set(_RULE_KEYS)):
        checker.error(fields[name][0], f"rule: unknown setting {name!r} ({', '.join(_RULE_KEYS)})")
    if "path" not in fields or "method" not in fields:
        checker.error(node, "a rule needs a path and a method")
        return None
    path = (checker.scalar(fields["path"][1], "path") or "").strip()
    method_node = fields["method"][1]
    action = _METHODS.get((checker.scalar(method_node, "method") or "").lower())
    if action is None:
        checker.error(method_node, "method must be one of: " + ", ".join(_METHOD_NAMES))
        return None
    expression = path if is_fhirpath(path) else f"({path})"  # a plain path is FHIRPath too, ordered with the rest
    rule: dict[str, Any] = {"action": action}
    phi_type = _phi_type(path, action)
    if action != "keep" and (action != "perturb" or phi_type == "AGE"):  # a perturbed measurement has no type
        rule["type"] = phi_type
    params: dict[str, Any] = {}
    if action == "redact" and redact:
        params.update(redact)
    elif action == "substitute":
        replacement = fields.get("replaceWith", (None, None))[1]
        if isinstance(replacement, MappingNode):  # a complex element: written whole, their merge rules
            params["element"] = json.dumps(yaml.safe_load(yaml.serialize(replacement)), ensure_ascii=False)
        elif not isinstance(replacement, ScalarNode):
            checker.error(
                replacement or node,
                f"{path}: substitute needs a replaceWith (a text, or an object for a complex element; not a list)",
            )
            return None
        else:
            params["value"] = str(replacement.value)
    elif action == "perturb":
        span = float(checker.scalar(fields["span"][1], "span") or 0) if "span" in fields else 0.0
        kind = (
            (checker.scalar(fields["rangeType"][1], "rangeType") or "fixed").lower()
            if "rangeType" in fields
            else "fixed"
        )
        if kind not in ("fixed", "proportional"):
            checker.error(fields["rangeType"][1], f"{path}: rangeType must be fixed or proportional")
        params["ratio" if kind == "proportional" else "range"] = span / 2
        if "roundTo" in fields:
            params["round_to"] = int(checker.scalar(fields["roundTo"][1], "roundTo") or 0)
    elif action == "generalize":
        cases = _cases(checker, fields, path)
        if cases is None:
            return None
        params["cases"] = json.dumps(cases)
        if "otherValues" in fields:
            params["other"] = (checker.scalar(fields["otherValues"][1], "otherValues") or "redact").lower()
    if params:
        rule["params"] = params
    return expression, rule
