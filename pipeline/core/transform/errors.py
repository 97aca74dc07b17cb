"""Errors of the transformation step; messages name types and settings, never a value."""

from __future__ import annotations

from pipeline.core.errors import ConfigError


class PolicyError(ConfigError):
    """A policy pairs a PHI type with an action that cannot apply to it (e.g. date shift on a name)."""


class OperatorUnavailableError(ConfigError):
    """The policy asks for tokenization or encryption but no callable was given in the context."""
