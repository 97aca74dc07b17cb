"""The sensitive-category policy and decisions (pure): parsing, thresholds, the strictest action wins."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.config import Settings, settings_to_env
from pipeline.core.errors import ConfigError
from pipeline.core.sensitive import (
    DEFAULT_ACTIONS,
    NOTHING_FOUND,
    STRICTNESS,
    SensitiveAction,
    SensitiveCategory,
    SensitivePolicy,
    UnknownCategoryError,
    decide,
    found_categories,
)

C = SensitiveCategory
A = SensitiveAction
HALF = dict.fromkeys(C, 0.5)


def test_policy_parses_pairs_and_keeps_defaults_for_the_rest():
    policy = SensitivePolicy.parse(" genetic = pass , hiv_sti=restrict,")
    assert policy.action_for(C.GENETIC) is A.PASS
    assert policy.action_for(C.HIV_STI) is A.RESTRICT
    assert policy.action_for(C.SUBSTANCE_USE) is DEFAULT_ACTIONS[C.SUBSTANCE_USE]
    assert SensitivePolicy.parse(policy.describe()) == policy
    assert SensitivePolicy.parse("mental_health=withhold-text").action_for(C.MENTAL_HEALTH) is A.WITHHOLD_TEXT


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("alcohol=restrict", "unknown sensitive category"),
        ("genetic=shred", "unknown sensitive-category action"),
        ("genetic", "is not category=action"),
        ("genetic=pass,genetic=restrict", "given twice"),
    ],
)
def test_policy_errors_name_what_to_fix(text, words):
    with pytest.raises(ConfigError, match=words):
        SensitivePolicy.parse(text)


def test_unknown_category_is_its_own_error():
    with pytest.raises(UnknownCategoryError):
        SensitivePolicy.parse("hiv=pass")


def test_settings_read_the_policy_and_hand_it_on_to_a_child_process(tmp_path):
    env = {"PHI_SENSITIVE_POLICY": "genetic=pass", "PHI_SENSITIVE_CLASSIFIER": "false"}
    settings = Settings.from_env(env)
    assert settings.sensitive_policy.action_for(C.GENETIC) is A.PASS
    assert Settings.from_env(settings_to_env(settings)).sensitive_policy == settings.sensitive_policy
    with pytest.raises(ConfigError, match="PHI_SENSITIVE_POLICY"):
        Settings.from_env({"PHI_SENSITIVE_POLICY": "genetic=maybe"})
    with pytest.raises(ConfigError, match="PHI_SENSITIVE_MODEL"):
        Settings.from_env({"PHI_SENSITIVE_MODEL": str(tmp_path / "missing")})
    assert Settings.from_env({"PHI_SENSITIVE_MODEL": str(tmp_path / "missing"), "PHI_SENSITIVE_CLASSIFIER": "no"})


def test_restricted_topic_is_one_of_the_pipeline_topics_and_must_differ():
    settings = Settings.from_env({"PHI_SENSITIVE_CLASSIFIER": "false"})
    assert settings.topic_restricted in settings.topics
    with pytest.raises(ConfigError, match="topics must all be different"):
        Settings.from_env({"PHI_SENSITIVE_CLASSIFIER": "false", "PHI_TOPIC_RESTRICTED": settings.topic_redacted})


def test_nothing_at_threshold_is_nothing_found():
    assert decide([dict.fromkeys(C, 0.49)], HALF, SensitivePolicy()) is NOTHING_FOUND
    assert decide([], HALF, SensitivePolicy()) is NOTHING_FOUND


def test_a_score_at_its_threshold_counts_and_the_strictest_action_wins():
    policy = SensitivePolicy({C.GENETIC: A.PASS, C.HIV_STI: A.WITHHOLD_TEXT, C.MENTAL_HEALTH: A.DROP_SUMMARY})
    decision = decide([{C.GENETIC: 0.5, C.MENTAL_HEALTH: 0.9}, {C.HIV_STI: 0.7}], HALF, policy)
    assert decision.categories == (C.MENTAL_HEALTH, C.HIV_STI, C.GENETIC)  # highest score first
    assert decision.action is A.WITHHOLD_TEXT
    assert [f.as_record()["action"] for f in decision.found] == ["drop_summary", "withhold_text", "pass"]


def test_a_category_score_is_its_highest_over_the_record_texts():
    decision = decide([{C.REPRODUCTIVE: 0.1}, {C.REPRODUCTIVE: 0.8}], HALF, SensitivePolicy())
    assert [(f.category, f.score) for f in decision.found] == [(C.REPRODUCTIVE, 0.8)]


scores = st.dictionaries(st.sampled_from(list(C)), st.floats(0, 1, allow_nan=False))
thresholds = st.fixed_dictionaries({c: st.floats(0.01, 1, allow_nan=False) for c in C})
policies = st.fixed_dictionaries({c: st.sampled_from(list(A)) for c in C}).map(SensitivePolicy)


@given(st.lists(scores, max_size=4), thresholds, policies)
def test_decision_is_the_categories_over_threshold_and_the_strictest_of_their_actions(texts, limits, policy):
    decision = decide(texts, limits, policy)
    merged = {c: max((t[c] for t in texts if c in t), default=0.0) for c in C}
    expected = {c for c in C if merged[c] >= limits[c]}
    assert set(decision.categories) == expected
    actions = [policy.action_for(c) for c in expected]
    assert decision.action is (max(actions, key=STRICTNESS.index) if actions else A.PASS)
    assert [c for c, _ in found_categories(merged, limits)] == list(decision.categories)


def test_deidentified_records_written_before_the_categories_field_still_read(registry):
    import copy
    import io

    import fastavro

    from pipeline.core.schemas import deidentified_schema

    entry = registry.get("clinical_record")
    today = deidentified_schema(entry)
    before = copy.deepcopy(today)
    before["fields"] = [f for f in before["fields"] if f["name"] != "sensitive_categories"]
    listed = next(f for f in today["fields"] if f["name"] == "sensitive_categories")
    assert listed["default"] == []
    record = {f["name"]: None for f in before["fields"]}
    record.update(message_id="m", source_schema="clinical_record:1", phi_transformations=[], diagnosis_codes=[])
    record.update({k: "x" for k in ("record_id", "patient_id", "mrn", "admission_date", "date_of_birth")})
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(before), record)
    buffer.seek(0)
    read = fastavro.schemaless_reader(buffer, fastavro.parse_schema(before), fastavro.parse_schema(today))
    assert read["sensitive_categories"] == [] and read["message_id"] == "m"
