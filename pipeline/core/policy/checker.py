"""What every policy reader shares: the YAML node tree with its lines, and a checker that collects every
problem as ``FILE:LINE: what is wrong`` (the policy loader, the Presidio entries and the imports)."""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pipeline.core.errors import ConfigError
from pipeline.core.linear_regex import LinearPattern, PatternError, compile_linear
from pipeline.core.phi_types import PhiType

_MAX_PATTERN_CHARS = 500


class PolicyFileError(ConfigError):
    """A policy file that cannot be used; ``problems`` lists each one as ``FILE:LINE: what is wrong``."""

    reason = "policy"

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"policy {source}: {count}\n" + "\n".join(f"  {p}" for p in problems))


@dataclass
class Checker:
    source: str
    problems: list[str] = field(default_factory=list)

    def error(self, node: Node | None, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else 1
        self.problems.append(f"{self.source}:{line}: {message}")

    def mapping(self, node: Node, what: str) -> list[tuple[ScalarNode, Node]]:
        if not isinstance(node, MappingNode):
            self.error(node, f"{what} must be a mapping (key: value)")
            return []
        pairs: list[tuple[ScalarNode, Node]] = []
        seen: dict[str, int] = {}
        for key, value in node.value:
            if not isinstance(key, ScalarNode):
                self.error(key, f"{what}: keys must be plain text")
                continue
            if key.value in seen:
                self.error(key, f"{what}: {key.value!r} is given twice (first on line {seen[key.value]})")
                continue
            seen[key.value] = key.start_mark.line + 1
            pairs.append((key, value))
        return pairs

    def scalar(self, node: Node, what: str) -> str | None:
        if not isinstance(node, ScalarNode):
            self.error(node, f"{what} must be a single value")
            return None
        return str(node.value)

    def strings(self, node: Node, what: str) -> list[tuple[Node, str]]:
        if isinstance(node, ScalarNode):
            return [(node, str(node.value))]
        if not isinstance(node, SequenceNode):
            self.error(node, f"{what} must be a list")
            return []
        out = []
        for item in node.value:
            text = self.scalar(item, f"each entry of {what}")
            if text is not None:
                out.append((item, text))
        return out

    def phi_type(self, node: Node, text: str) -> PhiType | None:
        try:
            return PhiType(text.strip().upper())
        except ValueError:
            choices = ", ".join(t.value for t in PhiType)
            self.error(node, f"unknown PHI type {text!r}; one of: {choices}")
            return None

    def pattern(self, node: Node, text: str) -> LinearPattern | None:
        if len(text) > _MAX_PATTERN_CHARS:
            self.error(node, f"pattern is {len(text)} characters; at most {_MAX_PATTERN_CHARS}")
            return None
        try:
            return compile_linear(text)
        except PatternError as exc:
            self.error(node, str(exc))
            return None


def compose(text: str, source: str) -> Node:
    """The YAML node tree of ``text`` (lines kept for messages); :class:`PolicyFileError` when it is not YAML."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise PolicyFileError(source, [f"{source}:{line}: {problem}"]) from None
    if root is None:
        raise PolicyFileError(source, [f"{source}:1: the file is empty; start from 'version: 1'"])
    return root
