"""Presidio's recognizer files (``recognizers:`` in its own YAML shape): imported as a policy file, or
written straight into one; entities mapped onto the Safe Harbor types, the others refused and listed.

The fixture is our own file in the shape Presidio publishes (presidio-analyzer's example recognizers
and recognizer-registry configuration: ``supported_entity``, ``patterns`` of ``name/regex/score``,
``context``, ``deny_list``, ``deny_list_score``, ``supported_languages`` with per-language context,
``type: predefined``, ``enabled``, ``global_regex_flags``)."""

from __future__ import annotations

import pytest

from pipeline import Deidentifier, PhiType, RuleDetector, parse_policy
from pipeline.core.policy.loader import PolicyFileError
from pipeline.core.policy.presidio import import_presidio
from pipeline.interfaces.cli import main

PRESIDIO = """supported_languages:
  - en
global_regex_flags: 26
recognizers:
  - name: "Zip code Recognizer"
    supported_language: "en"
    patterns:
      - name: "zip code (weak)"
        regex: "(\\\\b\\\\d{5}(?:\\\\-\\\\d{4})?\\\\b)"
        score: 0.1
    context: [zip, code]
    supported_entity: "ZIP"
  - name: "Bed recognizer"
    supported_entity: "MEDICAL_RECORD_NUMBER"
    supported_languages:
      - language: en
        context: [chart, mrn]
    patterns:
      - {name: chart, regex: "CH-\\\\d{6}", score: 0.4}
  - name: "Staff recognizer"
    supported_entity: "PERSON"
    deny_list: [Quillon Varga, Odalys Brennick]
    deny_list_score: 0.9
  - name: "Titles recognizer"
    supported_entity: "TITLE"
    deny_list: [Mr., Mrs.]
  - name: "Group recognizer"
    supported_entity: "NRP"
    deny_list: [Lutheran]
  - name: UsSsnRecognizer
    type: predefined
  - name: "Old recognizer"
    supported_entity: PERSON
    enabled: false
    deny_list: [Nobody]
"""


def test_a_presidio_file_imports_what_is_phi_and_lists_what_is_not():
    with pytest.raises(PolicyFileError) as caught:
        import_presidio(PRESIDIO, "presidio.yaml")
    refused = caught.value.problems
    assert [p.split(": ")[0] for p in refused] == ["presidio.yaml:25", "presidio.yaml:28"]
    assert "entity 'TITLE' is not PHI under Safe Harbor" in refused[0] and "'NRP'" in refused[1]
    text, notes = import_presidio(PRESIDIO, "presidio.yaml", {"TITLE": PhiType.NAME, "NRP": PhiType.ID})
    assert any("UsSsnRecognizer: predefined" in n for n in notes)
    assert any("Old recognizer: enabled: false" in n for n in notes)
    assert any("deny_list_score not used" in n for n in notes)
    assert any("score 0.1" in n and "never finds anything" in n for n in notes)
    policy = parse_policy(text, "imported.yaml")
    by_name = {r.name: r for r in policy.recognizers}
    assert by_name["Bed recognizer/chart"].phi_type is PhiType.MRN
    assert by_name["Bed recognizer/chart"].context == ("chart", "mrn")
    assert by_name["Zip code Recognizer/zip code (weak)"].context == ("zip", "code")
    assert {(d.phi_type, d.entries.terms) for d in policy.deny} >= {
        (PhiType.NAME, ("Quillon Varga", "Odalys Brennick")),
        (PhiType.NAME, ("Mr.", "Mrs.")),
    }


def test_presidio_entries_in_a_policy_file_find_their_values(keyring):
    policy_text = """version: 1
recognizers:
  - name: chart numbers
    supported_entity: MEDICAL_RECORD_NUMBER
    context: [chart]
    patterns:
      - {name: chart, regex: "ch-\\\\d{6}", score: 0.3}
  - name: staff
    supported_entity: PERSON
    deny_list: [Quillon Varga]
"""
    policy = parse_policy(policy_text, "p.yaml")
    deidentifier = Deidentifier(keyring=keyring, detector=RuleDetector(), policy=policy)
    done = deidentifier.text("Seen by quillon varga; chart CH-204931. Ref CH-777777 alone.")
    assert done.content is not None
    assert "quillon" not in done.content.lower() and "CH-204931" not in done.content
    assert done.content.count("[MRN]") == 1  # 0.3 without a context word stays under the threshold


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{name: x, supported_entity: ORGANIZATION, deny_list: [Acme]}", "entity 'ORGANIZATION' is not PHI"),
        ("{name: UsSsnRecognizer, type: predefined}", "a predefined Presidio recognizer is code"),
        ("{name: x, supported_entity: PERSON, patterns: [{name: p, regex: '(?<=Dr )\\w+'}]}", "does not compile"),
        ("{name: x, supported_entity: PERSON, patterns: [{name: p, regex: 'a', score: 2}]}", "score must be"),
        ("{name: x, supported_entity: PERSON, deny_list: [a], colour: red}", "unknown Presidio setting 'colour'"),
    ],
)
def test_a_presidio_entry_the_pipeline_cannot_honour_is_refused_with_its_line(entry, message):
    with pytest.raises(PolicyFileError) as caught:
        parse_policy(f"version: 1\nrecognizers:\n  - {entry}\n", "p.yaml")
    assert any(p.startswith("p.yaml:3: ") and message in p for p in caught.value.problems), caught.value.problems


def test_the_import_command_writes_a_policy_that_checks(tmp_path, capsys):
    source = tmp_path / "presidio.yaml"
    source.write_text(PRESIDIO)
    out = tmp_path / "policy.yaml"
    assert main(["policy", "import", "--from", "presidio", str(source), "-o", str(out)]) == 2
    assert "entity 'TITLE' is not PHI" in capsys.readouterr().err
    argv = ["policy", "import", "--from", "presidio", str(source), "-o", str(out), "--map", "TITLE=NAME"]
    assert main([*argv, "--map", "NRP=ID"]) == 0
    assert "UsSsnRecognizer: predefined" in capsys.readouterr().err
    assert main(["policy", "check", str(out)]) == 0


@pytest.mark.parametrize(("flags", "found"), [(0, False), (2, True), (26, True)])
def test_global_regex_flags_are_presidios_re_flags(keyring, flags, found):
    """0: case-sensitive; re.IGNORECASE (2) and Presidio's default 26 (DOTALL | MULTILINE | IGNORECASE) find
    the lower-case spelling too."""
    entry = "{name: ward, regex: 'Wardlow', score: 0.9}"
    policy_text = f"""version: 1
recognizers:
  - name: ward names
    supported_entity: LOCATION
    global_regex_flags: {flags}
    patterns: [{entry}]
"""
    deidentifier = Deidentifier(keyring=keyring, detector=RuleDetector(), policy=parse_policy(policy_text, "p.yaml"))
    done = deidentifier.text("moved from wardlow to Wardlow today")
    assert done.content is not None and "Wardlow" not in done.content
    assert ("wardlow" not in done.content) is found
