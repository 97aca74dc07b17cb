"""Sensitive categories on the real broker (issue 18): one note of every category and one of none, through a
worker with the shipped classifier and a policy that uses every action.

substance use and psychotherapy notes: restricted (the whole record on ``phi.restricted``, never on
``phi.redacted``); HIV/STI and reproductive: free text withheld, structured fields still flow; mental health:
the record flows but no summary is written; genetic: passed with its category listed; none: an ordinary
record and summary. Each decision is an audit event, ``phi_sensitive_records_total`` counts them, and no
planted name reaches any topic.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pipeline.devtools.inputs import encode_record, signed_input
from pipeline.devtools.leaks import LeakScanner
from pipeline.devtools.synthetic import DRUGS, FINDINGS, synthetic_records
from pipeline.interfaces.embedded_broker import free_port
from pipeline.stream.clients import consume, decode_output
from tests.e2e.helpers import log_tail, message_id, send, worker_process

pytestmark = [pytest.mark.broker, pytest.mark.slow]

POLICY = "genetic=pass"  # every other category keeps its default (see pipeline.core.sensitive.DEFAULT_ACTIONS)
NOTES = {
    "substance_use": "Pt {name} with severe opioid use disorder, on methadone 90 mg daily from the OTP; "
    "UDS positive for fentanyl, counselled, referred to addiction medicine.",
    "psychotherapy_notes": "Session 9. {name} talked about her father leaving and cried when describing the "
    "loneliness since the divorce. I noticed I felt protective; we explored the pattern of seeking approval.",
    "hiv_sti": "{name} is HIV positive on Biktarvy, viral load undetectable, CD4 640. RPR nonreactive.",
    "reproductive": "{name} is G2P1 at 24 weeks, prenatal visit today, fetal heart rate 150, glucose test next visit.",
    "mental_health": "{name} has major depressive disorder, PHQ-9 19, started sertraline 50 mg, psychiatry to follow.",
    "genetic": "Germline testing for {name}: pathogenic BRCA2 variant identified after genetic counseling.",
    "none": "{name} POD1 after right knee replacement, ambulating with PT, pain controlled, tolerating diet.",
}
ROUTED = {"substance_use", "psychotherapy_notes"}
WITHHELD = {"hiv_sti", "reproductive"}
NO_SUMMARY = ROUTED | WITHHELD | {"mental_health"}
ACTION = {
    "substance_use": "restrict",
    "psychotherapy_notes": "restrict",
    "hiv_sti": "withhold_text",
    "reproductive": "withhold_text",
    "mental_health": "drop_summary",
    "genetic": "pass",
}


def _metric(text: str, category: str, action: str) -> float:
    """``phi_sensitive_records_total{category, action}`` from a /metrics page (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "phi_sensitive_records_total" and (labels["category"], labels["action"]) == (
                category,
                action,
            ):
                return sample.value
    return 0.0


def test_every_category_and_none_is_routed_withheld_or_passed_as_the_policy_says(
    topic_settings, registry, keyring, tmp_path
):
    settings = topic_settings.with_overrides(
        sensitive_classifier=True,
        sensitive_policy=type(topic_settings.sensitive_policy).parse(POLICY),
        summarizer_enabled=True,
        summarizer_model=None,
        summarizer="extractive",
        metrics_port=free_port(),
    )
    entry = registry.get("clinical_record")
    records = list(synthetic_records(len(NOTES), seed=83))
    ids: dict[str, str] = {}
    originals: dict[str, dict] = {}
    inputs = []
    for (kind, note), synthetic in zip(NOTES.items(), records, strict=True):
        record = dict(synthetic.record, note=note.format(name=synthetic.record["patient_name"]))
        originals[kind] = record
        signed = signed_input(keyring, entry.ref, encode_record(entry, record, "avro"), synthetic.key)
        ids[kind] = signed.message_id
        inputs.append(signed)
    by_id = {v: k for k, v in ids.items()}
    summarized = {ids[k] for k in NOTES if k not in NO_SUMMARY}
    topics = [settings.topic_redacted, settings.topic_restricted, settings.topic_audit, settings.topic_summaries]

    def complete(found) -> bool:
        records = {message_id(m) for m in found if m.topic in (settings.topic_redacted, settings.topic_restricted)}
        decisions = sum(
            1
            for m in found
            if m.topic == settings.topic_audit and decode_output(registry, m)["event_type"] == "sensitive_decision"
        )
        summaries = {message_id(m) for m in found if m.topic == settings.topic_summaries}
        return records >= set(ids.values()) and decisions >= len(ACTION) and summaries >= summarized

    log = tmp_path / "worker.log"
    with worker_process(settings, log):
        send(settings, inputs)
        found = asyncio.run(consume(settings, topics, until=complete, timeout=300))
        # the summary agent has had every record: give a summary that should not exist time to show up
        found += asyncio.run(consume(settings, [settings.topic_summaries], timeout=8, idle_timeout=4.0))
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.metrics_port}/metrics", timeout=5) as response:
            metrics = response.read().decode()
    assert complete(found), log_tail(log)

    redacted = {by_id[message_id(m)]: decode_output(registry, m) for m in found if m.topic == settings.topic_redacted}
    restricted = {
        by_id[message_id(m)]: decode_output(registry, m) for m in found if m.topic == settings.topic_restricted
    }
    assert set(restricted) == ROUTED, log_tail(log)
    assert set(redacted) == set(NOTES) - ROUTED
    every = {**redacted, **restricted}
    for kind, record in every.items():
        listed = {c["category"]: c for c in record["sensitive_categories"]}
        if kind == "none":
            assert listed == {}, listed
            assert record["note"]
            continue
        assert kind in listed, (kind, listed)
        assert listed[kind]["score"] > 0 and listed[kind]["action"] == ACTION[kind]
        if kind in WITHHELD:
            assert record["note"] is None
            withheld = [t for t in record["phi_transformations"] if t["action"] == "withhold"]
            assert [(t["field"], t["phi_type"]) for t in withheld] == [("note", "FREE_TEXT")]
            assert record["mrn"] and record["mrn"] != originals[kind]["mrn"]  # structured fields still flow, tokenized
        else:
            assert record["note"], kind
    assert "mental_health" in {c["category"] for c in restricted["psychotherapy_notes"]["sensitive_categories"]}

    summaries = {by_id[message_id(m)] for m in found if m.topic == settings.topic_summaries}
    assert summaries == set(NOTES) - NO_SUMMARY, summaries

    events = [decode_output(registry, m) for m in found if m.topic == settings.topic_audit]
    decisions = {by_id[e["message_id"]]: e for e in events if e["event_type"] == "sensitive_decision"}
    assert set(decisions) == set(ACTION)
    for kind, event in decisions.items():
        record_action = max(
            (c["action"] for c in every[kind]["sensitive_categories"]),
            key=["pass", "drop_summary", "withhold_text", "restrict"].index,
        )
        assert event["outcome"] == record_action
        assert f"category:{kind}" in event["details"]
        assert event["details"]["classifier"] == "head:detector+evidence"  # the category head on the detector
    processed = {e["message_id"] for e in events if e["event_type"] == "message_processed"}
    assert processed >= set(ids.values())

    for kind, action in ACTION.items():
        assert _metric(metrics, kind, action) >= 1, (kind, action, metrics)
    assert _metric(metrics, "genetic", "restrict") == 0

    scanner = LeakScanner([v for r in records for v in r.planted], benign=" ".join(FINDINGS + DRUGS))
    for kind, record in every.items():
        assert not scanner.scan(json.dumps(record, default=str), kind), kind
    assert not scanner.scan(json.dumps(events, default=str), "audit")
    assert not scanner.scan(metrics, "metrics")
