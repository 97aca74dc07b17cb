"""Microsoft's FHIR anonymizer configuration: imported as a policy file (or taken as it is), and its
functional cases run as ours (tests/unit/ms_fhir_cases.py): every leaf a rule of theirs selects is
compared with their target; where the method needs their keys (dateShift, cryptoHash) the shape and the
consistency are compared instead. Outputs are validated as R4 by fhir.resources."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Any

import pytest

from pipeline import Deidentifier, RuleDetector
from pipeline.core.crypto.keyring import KeyPurpose, Keyring
from pipeline.core.crypto.tokens import Tokenizer
from pipeline.core.formats.base import FORMAT_FHIR
from pipeline.core.formats.fhir import validate
from pipeline.core.formats.fhirpath import is_fhirpath
from pipeline.core.formats.names import Format
from pipeline.core.formats.registry import FormatProcessors
from pipeline.core.formats.values import ValueProtector
from pipeline.core.policy import load_policy
from pipeline.core.policy.loader import PolicyFileError, parse_policy
from pipeline.core.policy.ms_fhir import import_ms_fhir
from pipeline.interfaces.cli import main
from tests.unit.ms_fhir_cases import CASES, COMMON_CONFIG, config_text

_KEYED = {"date-shift", "crypto-hash", "encrypt", "tokenize"}
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _leaves(value: Any, path: str, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, dict):
        for key, item in value.items():
            _leaves(item, f"{path}.{key}", out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _leaves(item, f"{path}[{index}]", out)
    else:
        out[path] = value
    return out


def _unindexed(leaves: dict[str, Any]) -> dict[str, Counter]:
    """Leaves by path without list positions (both tools drop emptied list items, renumbering the rest)."""
    out: dict[str, Counter] = defaultdict(Counter)
    for path, value in leaves.items():
        out[re.sub(r"\[\d+\]", "[]", path)][json.dumps(value)] += 1
    return out


def run_case(config: dict, resource: dict, target: dict) -> dict[str, list[str]]:
    """Each element path (list positions dropped) by outcome: equal; same-shape (methods keyed by their
    keys: the same number of values of the same lengths); differs; unlisted (no rule of theirs took it)."""
    keyring = Keyring.generate()
    protector = ValueProtector(
        "m", Tokenizer(keyring).tokenize, lambda *a: "enc", keyring.current(KeyPurpose.PSEUDONYM).material
    )
    policy = parse_policy(import_ms_fhir(config_text(config), "config.json")[0], "imported.yaml")
    document = FormatProcessors(dict(policy.formats)).protect(
        FORMAT_FHIR, json.dumps(resource).encode(), protector, explain=True
    )
    deidentifier = Deidentifier(keyring=keyring, detector=RuleDetector(), policy=policy)
    output = json.loads(deidentifier.document(FORMAT_FHIR, json.dumps(resource).encode()).content)
    validate(output)  # fhir.resources: the output is valid R4
    root = resource["resourceType"]
    ours, theirs = _unindexed(_leaves(output, root, {})), _unindexed(_leaves(target, root, {}))
    actions: dict[str, set[str]] = defaultdict(set)
    for record in document.coverage.records:
        rule = record.rule.split(": ")[0]
        actions[re.sub(r"\[\d+\]", "[]", record.path)].add(record.action if is_fhirpath(rule) else "unlisted")
    outcome: dict[str, list[str]] = {"equal": [], "same-shape": [], "differs": [], "unlisted": []}
    for path, done in sorted(actions.items()):
        if "unlisted" in done:
            outcome["unlisted"].append(path)
        elif done & _KEYED:
            shape = Counter(len(v) for v in ours[path].elements()) == Counter(len(v) for v in theirs[path].elements())
            outcome["same-shape" if shape else "differs"].append(path)
        else:
            outcome["equal" if ours[path] == theirs[path] else "differs"].append(path)
    return outcome


def date_offsets(config: dict, resource: dict) -> set[int]:
    """The day offsets that take every shifted full date of the output back to a date of the input."""
    policy = parse_policy(import_ms_fhir(config_text(config), "config.json")[0], "imported.yaml")
    deidentifier = Deidentifier(keyring=Keyring.generate(), detector=RuleDetector(), policy=policy)
    output = json.loads(deidentifier.document(FORMAT_FHIR, json.dumps(resource).encode()).content)
    before = {date.fromisoformat(v[:10]) for v in _leaves(resource, "", {}).values() if _full_date(v)}
    after = {date.fromisoformat(v[:10]) for v in _leaves(output, "", {}).values() if _full_date(v)} - before
    candidates = {(s - b).days for s in after for b in before}
    return {d for d in candidates if all(s - timedelta(days=d) in before for s in after)}


def _full_date(value: Any) -> bool:
    return isinstance(value, str) and bool(_DAY.match(value))


def test_the_common_configuration_matches_their_target_on_every_element_its_rules_select():
    config, resource, target = CASES["patient-basic/common-config"]
    outcome = run_case(config, resource, target)
    # Patient.id: ours is the resource-id pseudonym (32 hex, the same in every reference to it), theirs a
    # 64-hex HMAC; the KeepTest address's text and line: 'keep' keeps codes only here, free text goes to the
    # detector (which writes [STREET])
    assert outcome["differs"] == ["Patient.address[].line[]", "Patient.address[].text", "Patient.id"]
    assert len(outcome["equal"]) == 33 and len(outcome["same-shape"]) == 8
    assert outcome["unlisted"] == [  # no rule of theirs: they keep these as they are; Safe Harbor's rules here
        "Patient._birthDate.extension[].url",
        "Patient.active",
        "Patient.contact[].gender",
        "Patient.contact[].relationship[].coding[].code",
        "Patient.contact[].relationship[].coding[].system",
        "Patient.deceasedBoolean",
        "Patient.gender",
        "Patient.managingOrganization.reference",
    ]
    assert len(date_offsets(config, resource)) == 1  # every date of the resource moved by one offset


def test_redact_all_leaves_only_the_resource_type_and_its_id_pseudonym():
    outcome = run_case(*CASES["patient-basic/redact-all-config"])
    assert outcome["differs"] == ["Patient.id"]  # we keep a pseudonymous id; they remove it
    assert len(outcome["equal"]) == 51 and not outcome["unlisted"]


def test_substitute_primitive_writes_their_value_and_the_rest_is_not_theirs_to_keep():
    outcome = run_case(*CASES["patient-substitute-primitive/substitute-primitive"])
    assert outcome["equal"] == ["Patient.name[].family"] and not outcome["differs"]
    assert len(outcome["unlisted"]) == 52  # kept as they are by them; deny by default here


def test_a_bundle_under_the_common_configuration_keeps_its_references_consistent(keyring):
    config, bundle, target = CASES["bundle-basic/common-config"]
    outcome = run_case(config, bundle, target)
    # the Observation's subject: a 32-hex pseudonym (theirs: a 64-hex HMAC), the same as the Patient's id
    assert outcome["differs"] == ["Bundle.entry[].resource.subject.reference"] and len(outcome["equal"]) == 7
    policy = parse_policy(import_ms_fhir(config_text(config), "c.json")[0], "i.yaml")
    deidentifier = Deidentifier(keyring=keyring, detector=RuleDetector(), policy=policy)
    out = json.loads(deidentifier.document(FORMAT_FHIR, json.dumps(bundle).encode()).content)
    patient, _, observation = (entry["resource"] for entry in out["entry"])
    assert observation["subject"]["reference"] == f"Patient/{patient['id']}"
    assert all("fullUrl" not in entry and "text" not in entry["resource"] for entry in out["entry"])


def test_generalize_with_fhirpath_cases_matches_their_target():
    outcome = run_case(*CASES["patient-generalize/generalize-patient-config"])
    assert not outcome["differs"] and len(outcome["equal"]) == 16  # dates, ZIP codes, a language, an integer
    assert len(outcome["unlisted"]) == 39  # names, telecom, text: kept as they are by them


def test_a_case_fhirpath_cannot_evaluate_is_refused_with_its_line():
    rule = {"path": "nodesByType('date')", "method": "generalize", "cases": {"$this.frobnicate()": "@2000"}}
    with pytest.raises(PolicyFileError) as caught:
        load_policy_text(json.dumps({"fhirPathRules": [rule]}, indent=2))
    [problem] = caught.value.problems
    assert problem.startswith("c.json:") and "Not implemented: frobnicate" in problem


def load_policy_text(text: str) -> object:
    return parse_policy(import_ms_fhir(text, "c.json")[0], "c.json")


def test_keys_are_refused_with_their_line_and_the_json_is_taken_directly(tmp_path, capsys):
    source = tmp_path / "common.json"
    source.write_text(config_text(COMMON_CONFIG))
    _, notes = import_ms_fhir(source.read_text(), "common.json")
    assert [n.split(": ")[:2] for n in notes if "refused" in n] == [
        ["common.json:82", "dateShiftKey refused"],
        ["common.json:83", "cryptoHashKey refused"],
    ]
    assert load_policy(source).rules  # the worker and redact take the JSON as it is
    out = tmp_path / "policy.yaml"
    assert main(["policy", "import", "--from", "ms-fhir", str(source), "-o", str(out)]) == 0
    assert "dateShiftKey refused" in capsys.readouterr().err
    assert main(["policy", "check", str(out)]) == 0


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"method": "perturb", "span": 10, "rangeType": "fixed", "roundTo": 1}, {"range": 5.0, "round_to": 1}),
        ({"method": "perturb", "span": 0.2, "rangeType": "proportional"}, {"ratio": 0.1}),
        ({"method": "substitute", "replaceWith": "REDACTED"}, {"value": "REDACTED"}),
        ({"method": "encrypt"}, None),
        ({"method": "cryptoHash"}, None),
        ({"method": "keep"}, None),
        ({"method": "generalize", "cases": {"$this > 3": "3"}}, {"cases": '[["$this > 3", "3"]]'}),
    ],
)
def test_each_method_maps_onto_the_action_table(rule, expected):
    config = {"fhirPathRules": [{"path": "Observation.valueQuantity.value", **rule}]}
    text, _ = import_ms_fhir(json.dumps(config), "c.json")
    policy = parse_policy(text, "i.yaml")
    fhir_rules = {p: r for p, r in policy.formats[Format.FHIR].rules.items() if is_fhirpath(p)}
    assert list(fhir_rules) == ["(Observation.valueQuantity.value)"]
    params = dict(fhir_rules["(Observation.valueQuantity.value)"].params.items)
    assert params == (expected or {})


def test_a_list_replacewith_is_refused():  # an object is a complex element (tests/unit/test_ms_fhir_cases_b.py)
    config = {"fhirPathRules": [{"path": "Patient.name", "method": "substitute", "replaceWith": [{"family": "x"}]}]}
    with pytest.raises(PolicyFileError, match="not a list"):
        import_ms_fhir(json.dumps(config), "c.json")
