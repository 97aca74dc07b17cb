"""The policy file: the shipped Safe Harbor defaults load, and every problem is reported with its line."""

from __future__ import annotations

import re

import pytest

from pipeline.core.detection.rule_detector import RuleDetector
from pipeline.core.phi_types import PhiType
from pipeline.core.policy import Format, PolicyFileError, RuleAction, default_policy, load_policy, parse_policy
from pipeline.core.policy.detector import PolicyDetector
from pipeline.core.transform.actions import Action
from pipeline.interfaces.cli import main


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyFileError) as caught:
        parse_policy(text, "p.yaml")
    return caught.value.problems


def test_the_shipped_policy_loads_and_covers_every_format():
    policy = default_policy()
    assert policy.rules(Format.HL7V2).get("PID-3.1").action is RuleAction.TOKENIZE
    assert policy.rules(Format.HL7V2).get("XAD.5").phi_type is PhiType.ZIP
    assert policy.rules(Format.FHIR).get("HumanName").action is RuleAction.REDACT
    assert policy.rules(Format.FHIR).get("Narrative.div").action is RuleAction.DETECT
    assert set(policy.text) == set(PhiType)


def test_a_file_extends_the_defaults_and_overrides_paths():
    policy = parse_policy(
        "version: 1\nhl7v2:\n  rules:\n    PID-5: surrogate NAME\nfhir:\n  rules:\n    date: date-shift DATE\n"
        "text:\n  DATE: date-shift\n",
        "p.yaml",
    )
    assert policy.rules(Format.HL7V2).get("PID-5").action is RuleAction.SURROGATE
    assert policy.rules(Format.HL7V2).get("PID-3.1").action is RuleAction.TOKENIZE  # from the defaults
    assert policy.rules(Format.FHIR).get("date").action is RuleAction.DATE_SHIFT
    assert policy.text[PhiType.DATE] is Action.DATE_SHIFT
    alone = parse_policy("version: 1\nextends: none\nhl7v2:\n  rules:\n    PID-5: redact NAME\n", "p.yaml")
    assert list(alone.rules(Format.HL7V2).rules) == ["PID-5"]


def test_every_problem_is_listed_with_its_line_in_order():
    text = """version: 1
hl7v2:
  rules:
    PID-5: redact NAMEX
    QQQ-1: redact NAME
    XAD.5: date-shift ZIP
    PID-7: tokenize
fhir:
  rules:
    Patient.adress: redact STREET
    Patient.name: detect NAME
    Patient: redact NAME
    Patient.birthDate.year: keep
deny:
  - terms: [Smith]
recognizers:
  - name: study
    pattern: '(['
    type: ID
    score: 2
bogus: 1
"""
    found = problems(text)
    lines = [int(re.match(r"p\.yaml:(\d+): ", p).group(1)) for p in found]
    assert lines == sorted(lines)
    expected = {
        4: "unknown PHI type 'NAMEX'",
        5: "'QQQ' is not an HL7 v2 segment",
        6: "'date-shift' applies to DATE only, not ZIP",
        7: "'tokenize' needs a PHI type",
        10: "Patient has no element 'adress'",
        11: "'detect' finds the types itself",
        12: "a rule on a whole resource (Patient) is not allowed",
        13: "Patient.birthDate is a date: it has no elements to name",
        15: "deny entry: needs the PHI type",
        18: "pattern does not compile",
        20: "score must be a number in (0, 1]",
        21: "unknown setting 'bogus'",
    }
    for line, words in expected.items():
        assert any(p.startswith(f"p.yaml:{line}: ") and words in p for p in found), (line, words, found)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "the file is empty"),
        ("version: 1\nhl7v2: [1\n", "p.yaml:"),
        ("version: 2\n", "version must be 1"),
        ("hl7v2: {}\n", "needs 'version: 1'"),
        ("version: 1\nextends: hipaa\n", "extends must be safe-harbor or none"),
        ("version: 1\ntext:\n  NAME: shift\n", "'shift' applies to DATE only"),
        ("version: 1\nhl7v2:\n  unlisted_segments: tokenize\n", "unlisted_segments must be"),
        ("version: 1\nhl7v2:\n  rules:\n    PID-5: redact NAME\n    PID-5: keep\n", "given twice"),
        (
            "version: 1\nfhir:\n  rules:\n    HumanName:\n      action: redact\n      value_types: [TX]\n",
            "value_types applies to the HL7 v2 OBX-5 only",
        ),
        ("version: 1\ndate_shift_days: [10, -10]\n", "LOW must not exceed HIGH"),
        ("version: 1\navro:\n  rules:\n    ssn: redact SSN\n", "an Avro path is SCHEMA.FIELD"),
    ],
)
def test_each_kind_of_mistake_has_an_actionable_message(text, words):
    assert any(words in p for p in problems(text)), problems(text)


def test_policy_check_command(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text("version: 1\nfhir:\n  rules:\n    Patient.address.line: surrogate STREET\n")
    assert main(["policy", "check", str(good)]) == 0
    assert "ok" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nfhir:\n  rules:\n    Patient.adress: redact STREET\n")
    assert main(["policy", "check", str(bad)]) == 2
    assert f"{bad}:4: fhir path 'Patient.adress'" in capsys.readouterr().err
    assert main(["policy", "check", str(tmp_path / "missing.yaml")]) == 2
    with pytest.raises(PolicyFileError):
        load_policy(tmp_path / "missing.yaml")


def test_deny_allow_and_custom_recognizers_change_detection():
    policy = parse_policy(
        """version: 1
deny:
  - type: NAME
    terms: [Zorblat]
allow:
  terms: [Parkinson]
recognizers:
  - name: study-id
    pattern: 'STUDY-\\d{6}'
    type: ID
    score: 0.4
    context: [enrolled]
""",
        "p.yaml",
    )
    detector = PolicyDetector(RuleDetector(), policy)
    text = "Zorblat enrolled in STUDY-123456. Parkinson disease, stable on exam today; code STUDY-654321 listed."
    spans = detector.detect(text)
    found = {(text[s.start : s.end], s.type) for s in spans}
    assert ("Zorblat", PhiType.NAME) in found
    assert ("STUDY-123456", PhiType.ID) in found  # context word lifts 0.4 over the threshold
    assert ("STUDY-654321", PhiType.ID) not in found  # no context: 0.4 stays below it
    assert not any(text[s.start : s.end] == "Parkinson" for s in spans)


def test_avro_tags_map_onto_the_policy_model_and_disagreeing_rules_are_refused(registry):
    from pipeline.core.errors import ConfigError
    from pipeline.core.policy.avro import check_avro_rules, rules_from_schema

    rules = rules_from_schema(registry.get("clinical_record"))
    path, tag = next((p, r) for p, r in rules.items() if r.action is RuleAction.TOKENIZE)
    agreeing = parse_policy(f"version: 1\navro:\n  rules:\n    {path}: tokenize {tag.phi_type.value}\n", "p.yaml")
    check_avro_rules(agreeing, registry)
    other = parse_policy(f"version: 1\navro:\n  rules:\n    {path}: redact {tag.phi_type.value}\n", "p.yaml")
    with pytest.raises(ConfigError, match=r"p\.yaml:4: .* the tag decides"):
        check_avro_rules(other, registry)
    missing = parse_policy("version: 1\navro:\n  rules:\n    clinical_record.nope: redact NAME\n", "p.yaml")
    with pytest.raises(ConfigError, match="not a tagged field"):
        check_avro_rules(missing, registry)


def test_sensitive_section_sets_actions_per_category_and_names_each_mistake_with_its_line():
    from pipeline.core.sensitive import SensitiveAction, SensitiveCategory, SensitivePolicy

    policy = parse_policy("version: 1\nsensitive:\n  substance_use: pass\n  genetic: restrict\n", "p.yaml")
    assert policy.sensitive == {
        SensitiveCategory.SUBSTANCE_USE: SensitiveAction.PASS,
        SensitiveCategory.GENETIC: SensitiveAction.RESTRICT,
    }
    merged = SensitivePolicy({**SensitivePolicy().actions, **policy.sensitive})
    assert merged.action_for(SensitiveCategory.GENETIC) is SensitiveAction.RESTRICT
    assert merged.action_for(SensitiveCategory.HIV_STI) is SensitivePolicy().action_for(SensitiveCategory.HIV_STI)
    assert default_policy().sensitive == {}
    with pytest.raises(PolicyFileError) as caught:
        parse_policy("version: 1\nsensitive:\n  substance: pass\n  genetic: hide\n", "p.yaml")
    lines = str(caught.value).splitlines()[1:]
    assert lines[0].strip().startswith("p.yaml:3:") and "substance_use" in lines[0]
    assert lines[1].strip().startswith("p.yaml:4:") and "withhold_text" in lines[1]
