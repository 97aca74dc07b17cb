"""The summary agent's core: its audit events go to chains of its own (issue 20 #3)."""

from __future__ import annotations

import pytest

from pipeline.core.codecs import decode_avro
from pipeline.core.crypto.audit_chain import verify_chain
from pipeline.core.messages import InboundMessage
from pipeline.devtools.inputs import encode_record, signed_input
from pipeline.devtools.synthetic import synthetic_records
from pipeline.runtime.assembly import build_processor, build_summary_processor


@pytest.fixture
def agents(base_settings, keyring):
    """Both agents' cores as a worker wires them (rules only, extractive summaries)."""
    settings = base_settings.with_overrides(
        worker_id="unit", detector_model=None, rules_only=True, summarizer_model=None, summarizer="extractive"
    )
    processor = build_processor(settings, keyring)
    return processor, build_summary_processor(settings, processor)


def _inputs(registry, keyring, count, seed, topic="phi.ingest"):
    entry = registry.get("clinical_record")
    signed = [
        signed_input(keyring, entry.ref, encode_record(entry, r.record, "avro"), r.key)
        for r in synthetic_records(count, seed=seed)
    ]
    return [InboundMessage(s.value, s.key, tuple(s.headers), topic, 0, i, 0) for i, s in enumerate(signed)]


def test_chains_verify_when_the_agents_send_in_another_order_than_they_chained(agents, registry, keyring):
    """The race of the issue, made deterministic: the redaction agent chains batch A, the summary agent
    chains its batch S, the redaction agent chains batch B; then B is sent before S (separate coroutines)."""
    processor, summaries = agents
    first = processor.process_batch(_inputs(registry, keyring, 4, seed=5))
    redacted = [
        InboundMessage(out.value, out.key, out.headers, "phi.redacted", 0, i, 0)
        for i, out in enumerate(o for r in first for o in r.outputs if o.role == "redacted")
    ]
    summarized = summaries.process_batch(redacted)
    second = processor.process_batch(_inputs(registry, keyring, 4, seed=6))
    sent = [out for result in (*first, *second, *summarized) for out in result.outputs if out.role == "audit"]
    events = [decode_avro(registry.get("audit_event"), out.value) for out in sent]
    report = verify_chain(events, keyring)
    assert report.ok, report.summary()
    summary_chains = {e["chain_id"] for e in events if e["event_type"] == "summary"}
    redaction_chains = {e["chain_id"] for e in events if e["event_type"] == "message_processed"}
    assert len(events) == 12 and summary_chains and not summary_chains & redaction_chains
    assert all(c.endswith("/summarize/p0") for c in summary_chains)
