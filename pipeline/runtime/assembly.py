"""Assemble a worker's content path from settings: schemas, policy, detector, classifier, de-identifier,
the worker's envelope around it and the summary agent's core.

One assembly for every command: the worker, ``redact`` and the tests build their de-identifier here, so a file
de-identifies as the stream does. Every failure is a configuration problem an operator can fix, raised as a
:class:`ConfigError` naming the setting to change, before anything connects to Kafka. Keys are read by the
caller (:mod:`pipeline.interfaces.components`: files, OpenBao custody) and passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.config import Settings
from pipeline.core.crypto.keyring import Keyring
from pipeline.core.deidentify import Deidentifier
from pipeline.core.detection.base import Detector
from pipeline.core.errors import ConfigError, SchemaError
from pipeline.core.policy import load_policy
from pipeline.core.policy.avro import check_avro_rules
from pipeline.core.processing import RecordProcessor
from pipeline.core.schemas import SchemaRegistry
from pipeline.core.sensitive import NoteClassifier
from pipeline.core.summary_processing import AgentAuditTrail, SummaryProcessor
from pipeline.runtime.detectors import build_detector

if TYPE_CHECKING:
    from pipeline.runtime.summarizer import Generation


def load_schemas(settings: Settings) -> SchemaRegistry:
    try:
        registry = SchemaRegistry.load(settings.schema_dir)
        registry.get(settings.input_schema)
    except SchemaError as exc:
        raise ConfigError(f"schemas (PHI_SCHEMA_DIR / PHI_INPUT_SCHEMA): {exc}") from None
    return registry


def build_deidentifier(
    settings: Settings,
    keyring: Keyring,
    *,
    detector: Detector | None = None,
    policy_path: Path | None = None,
    classifier: bool = True,
) -> Deidentifier:
    """The one de-identifier every command uses: schemas, policy (checked against the schemas' tags), the
    detector (rules alone only when PHI_RULES_ONLY asks for it, unless one is given) and the
    sensitive-category classifier; each refuses with a :class:`ConfigError` naming what to fix."""
    registry = load_schemas(settings)
    policy = load_policy(policy_path or settings.policy_path)  # PolicyFileError (a ConfigError) lists every problem
    check_avro_rules(policy, registry)
    if detector is None:
        detector = build_detector(
            None if settings.rules_only else settings.detector_model,
            provider=settings.execution_provider,
            threads=settings.inference_threads or None,
        )
    return Deidentifier(
        keyring=keyring,
        detector=detector,
        policy=policy,
        classifier=build_sensitive_classifier(settings, detector) if classifier else None,
        sensitive_policy=settings.sensitive_policy,  # the policy file's sensitive: section wins where it speaks
        registry=registry,
        default_schema=settings.input_schema,
        max_text_chars=settings.max_text_chars,
        detect_budget_seconds=settings.detect_budget_seconds,
    )


def build_processor(settings: Settings, keyring: Keyring) -> RecordProcessor:
    """The worker's envelope around :func:`build_deidentifier`, before anything connects to Kafka."""
    return RecordProcessor(
        deidentifier=build_deidentifier(settings, keyring),
        worker_id=settings.worker_id,
        max_message_bytes=settings.max_message_bytes,
    )


def build_sensitive_classifier(settings: Settings, detector: Detector | None = None) -> NoteClassifier | None:
    """The sensitive-category classifier (None when PHI_SENSITIVE_CLASSIFIER=false); a missing or unreadable
    model stops the worker with a :class:`ConfigError`, never a silent pass-through of sensitive notes. A
    category head beside ``detector``'s model shares its encoder run (one pass per window for both)."""
    if not settings.sensitive_classifier:
        return None
    from pipeline.runtime.onnx_recognizer import OnnxTokenClassifier
    from pipeline.runtime.sensitive_classifier import build_classifier

    models = detector.models if detector is not None else []
    encoder = next((m for m in models if isinstance(m, OnnxTokenClassifier)), None)
    return build_classifier(
        settings.sensitive_model,
        provider=settings.execution_provider,
        threads=settings.inference_threads or None,
        encoder=encoder,
    )


def build_summary_processor(settings: Settings, processor: RecordProcessor) -> SummaryProcessor:
    """The summary agent's core: the generator when a model folder is configured, the section-aware
    extractive summarizer when PHI_SUMMARIZER=extractive asks for it; neither is a :class:`ConfigError`
    (summaries never turn extractive silently)."""
    generate = None
    model_name = None
    if settings.summarizer_model is None and settings.summarizer != "extractive":
        raise ConfigError(
            "summaries need a method: set PHI_SUMMARIZER=extractive for the section-aware extractive summaries, "
            "or PHI_SUMMARIZER_MODEL to a built summarizer (`phi-pipeline model build-summarizer`)"
        )
    if settings.summarizer_model is not None:
        from pipeline.runtime.summarizer import OnnxSummarizer

        summarizer = OnnxSummarizer(
            settings.summarizer_model,
            provider=settings.execution_provider,
            threads=settings.inference_threads or None,
            batch_size=settings.summary_batch_size,
        )
        model_name = f"smollm2-135m-instruct/{settings.summarizer_model.name}"

        def generate(texts: Sequence[str]) -> list[Generation]:
            return summarizer.summarize_batch(texts, max_new_tokens=settings.summary_max_new_tokens)

    return SummaryProcessor(
        registry=processor.registry,
        keyring=processor.keyring,
        detector=processor.deidentifier.detector,  # the de-identifier's own, under the policy
        audit=AgentAuditTrail.for_agent(
            processor.keyring, processor.registry, processor.worker_id, processor.run_id, "summarize"
        ),
        generate=generate,
        model_name=model_name,
    )
