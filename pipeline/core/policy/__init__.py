"""One policy for every input: per format, paths to actions; deny and allow lists; custom recognizers."""

from pipeline.core.policy.loader import PolicyFileError, default_policy, load_policy, parse_policy
from pipeline.core.policy.model import Format, FormatRules, Policy, Rule, RuleAction

__all__ = [
    "Format",
    "FormatRules",
    "Policy",
    "PolicyFileError",
    "Rule",
    "RuleAction",
    "default_policy",
    "load_policy",
    "parse_policy",
]
