"""Transformations of detected PHI: one operator per action, applied to text by policy.

Public surface: :func:`transform_text`, :class:`Action`, :class:`TransformContext`,
:class:`TransformedText`, :class:`OutputSpan`, :data:`DEFAULT_TEXT_POLICY`.
"""

from pipeline.core.transform.actions import Action
from pipeline.core.transform.context import TransformContext, ValueCallable
from pipeline.core.transform.engine import OutputSpan, TransformedText, transform_text
from pipeline.core.transform.errors import OperatorUnavailableError, PolicyError
from pipeline.core.transform.policy import DEFAULT_TEXT_POLICY, validate_policy

__all__ = [
    "DEFAULT_TEXT_POLICY",
    "Action",
    "OperatorUnavailableError",
    "OutputSpan",
    "PolicyError",
    "TransformContext",
    "TransformedText",
    "ValueCallable",
    "transform_text",
    "validate_policy",
]
