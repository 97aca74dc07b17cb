"""Assemble a worker's parts from settings: keyring, schemas, detector, processor.

Every failure here is a configuration problem an operator can fix, so each is raised as a
:class:`ConfigError` naming the setting to change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pipeline.config import Settings
from pipeline.core.crypto.keyring import KeyPurpose, Keyring, KeyringError
from pipeline.core.errors import ConfigError, SchemaError
from pipeline.core.policy import load_policy
from pipeline.core.policy.avro import check_avro_rules
from pipeline.core.policy.detector import PolicyDetector
from pipeline.core.processing import RecordProcessor
from pipeline.core.schemas import SchemaRegistry
from pipeline.core.sensitive import NoteClassifier
from pipeline.core.summary_processing import AgentAuditTrail, SummaryProcessor
from pipeline.interfaces.logs import configure_logging
from pipeline.runtime.detectors import build_detector

if TYPE_CHECKING:
    from pipeline.runtime.summarizer import Generation


def load_settings() -> Settings:
    """The ``PHI_*`` settings, validated, with logging set to their level: the first step of every command
    that talks to Kafka, so a wrong setting stops it before anything connects and logs are configured once."""
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    return settings


def load_keyring(settings: Settings) -> Keyring:
    try:
        if settings.keyring_path is not None:
            keyring = Keyring.load(settings.keyring_path)
        elif settings.keyring:
            keyring = Keyring.from_env(environ={"PHI_KEYRING": settings.keyring})
        else:
            raise ConfigError(
                "no keyring configured: set PHI_KEYRING_PATH to a keyring file "
                "(create one with `phi-pipeline keys init --path keyring.json`)"
            )
        for purpose in KeyPurpose:
            keyring.current(purpose)
    except KeyringError as exc:
        raise ConfigError(f"keyring: {exc}") from None
    return keyring


def load_schemas(settings: Settings) -> SchemaRegistry:
    try:
        registry = SchemaRegistry.load(settings.schema_dir)
        registry.get(settings.input_schema)
    except SchemaError as exc:
        raise ConfigError(f"schemas (PHI_SCHEMA_DIR / PHI_INPUT_SCHEMA): {exc}") from None
    return registry


def build_processor(settings: Settings, keyring: Keyring | None = None) -> RecordProcessor:
    """Keyring, schemas, then the detector (rules alone only when PHI_RULES_ONLY asks for it): each refuses
    with a :class:`ConfigError` naming what to fix, before anything connects to Kafka."""
    keyring = keyring or load_keyring(settings)
    registry = load_schemas(settings)
    detector = build_detector(
        None if settings.rules_only else settings.detector_model,
        provider=settings.execution_provider,
        threads=settings.inference_threads or None,
    )
    policy = load_policy(settings.policy_path)  # PolicyFileError (a ConfigError) lists every problem
    check_avro_rules(policy, registry)
    return RecordProcessor(
        registry=registry,
        keyring=keyring,
        detector=PolicyDetector(detector, policy) if policy.changes_detection else detector,
        worker_id=settings.worker_id,
        max_message_bytes=settings.max_message_bytes,
        default_schema=settings.input_schema,
        policy=policy,
        classifier=build_sensitive_classifier(settings),
        sensitive_policy=settings.sensitive_policy,
    )


def build_sensitive_classifier(settings: Settings) -> NoteClassifier | None:
    """The sensitive-category classifier (None when PHI_SENSITIVE_CLASSIFIER=false); a missing or unreadable
    model stops the worker with a :class:`ConfigError`, never a silent pass-through of sensitive notes."""
    if not settings.sensitive_classifier:
        return None
    from pipeline.runtime.sensitive_classifier import build_classifier

    return build_classifier(
        settings.sensitive_model, provider=settings.execution_provider, threads=settings.inference_threads or None
    )


def build_summary_processor(settings: Settings, processor: RecordProcessor) -> SummaryProcessor:
    """The summary agent's core: the generator when a model folder is configured, extractive otherwise."""
    generate = None
    model_name = None
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
        detector=processor.detector,
        audit=AgentAuditTrail.for_agent(
            processor.keyring, processor.registry, processor.worker_id, processor.run_id, "summarize"
        ),
        generate=generate,
        model_name=model_name,
    )
