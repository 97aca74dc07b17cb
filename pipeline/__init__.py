"""phi-pipeline: streaming de-identification of electronic protected health information on Kafka.

Layers, imports pointing downward only: ``pipeline.core`` (pure, synchronous) ->
``pipeline.runtime`` (model sessions) -> ``pipeline.stream`` (faust/aiokafka wiring) ->
``pipeline.interfaces`` (command line, embedded broker).

The library, without Kafka (each name is imported on first use, so ``import pipeline`` stays light)::

    from pipeline import Deidentifier, Keyring, RuleDetector

    deidentifier = Deidentifier(keyring=Keyring.generate(), detector=RuleDetector())
    print(deidentifier.text("Seen by Dr. Ann Lee on 03/14/2024.").content)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_EXPORTS = {
    "Action": "pipeline.core.transform.actions",
    "Coverage": "pipeline.core.deidentify",
    "Deidentified": "pipeline.core.deidentify",
    "Deidentifier": "pipeline.core.deidentify",
    "Keyring": "pipeline.core.crypto.keyring",
    "PhiType": "pipeline.core.phi_types",
    "Policy": "pipeline.core.policy.model",
    "RejectedMessage": "pipeline.core.errors",
    "RuleDetector": "pipeline.core.detection.rule_detector",
    "SchemaRegistry": "pipeline.core.schemas",
    "SensitivePolicy": "pipeline.core.sensitive",
    "Transformation": "pipeline.core.structured",
    "build_detector": "pipeline.runtime.detectors",
    "default_policy": "pipeline.core.policy.loader",
    "load_policy": "pipeline.core.policy.loader",
    "parse_policy": "pipeline.core.policy.loader",
}

__all__ = [
    "Action",
    "Coverage",
    "Deidentified",
    "Deidentifier",
    "Keyring",
    "PhiType",
    "Policy",
    "RejectedMessage",
    "RuleDetector",
    "SchemaRegistry",
    "SensitivePolicy",
    "Transformation",
    "__version__",
    "build_detector",
    "default_policy",
    "load_policy",
    "parse_policy",
]

if TYPE_CHECKING:
    from pipeline.core.crypto.keyring import Keyring
    from pipeline.core.deidentify import Coverage, Deidentified, Deidentifier
    from pipeline.core.detection.rule_detector import RuleDetector
    from pipeline.core.errors import RejectedMessage
    from pipeline.core.phi_types import PhiType
    from pipeline.core.policy.loader import default_policy, load_policy, parse_policy
    from pipeline.core.policy.model import Policy
    from pipeline.core.schemas import SchemaRegistry
    from pipeline.core.sensitive import SensitivePolicy
    from pipeline.core.structured import Transformation
    from pipeline.core.transform.actions import Action
    from pipeline.runtime.detectors import build_detector


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
