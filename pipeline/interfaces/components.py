"""Assemble a worker's parts from settings: keyring, schemas, detector, processor.

Every failure here is a configuration problem an operator can fix, so each is raised as a
:class:`ConfigError` naming the setting to change.
"""

from __future__ import annotations

from pipeline.config import Settings
from pipeline.core.crypto.keyring import KeyPurpose, Keyring, KeyringError
from pipeline.core.errors import ConfigError, SchemaError
from pipeline.core.processing import RecordProcessor
from pipeline.core.schemas import SchemaRegistry
from pipeline.runtime.detectors import build_detector


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
    detector = build_detector(
        settings.detector_model, provider=settings.execution_provider, threads=settings.inference_threads or None
    )
    return RecordProcessor(
        registry=load_schemas(settings),
        keyring=keyring or load_keyring(settings),
        detector=detector,
        worker_id=settings.worker_id,
        max_message_bytes=settings.max_message_bytes,
        default_schema=settings.input_schema,
    )
