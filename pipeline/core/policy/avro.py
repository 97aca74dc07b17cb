"""Avro schema tags on the policy model: each tagged field is a rule ``SCHEMA.FIELD.PATH: ACTION TYPE``.

The tags stay the source of truth for Avro records (policy travels with the schema); a policy file's
``avro:`` rules must agree with them. A rule on a field that has no tag, or that asks for another
action than the tag, cannot be enforced without changing the schema, so it is refused at start with
the schema file to change, never passed over.
"""

from __future__ import annotations

from pipeline.core.errors import ConfigError
from pipeline.core.policy.model import Format, Policy, Rule, RuleAction
from pipeline.core.schemas import SchemaEntry, SchemaRegistry


def rules_from_schema(entry: SchemaEntry) -> dict[str, Rule]:
    """The schema's tags as policy rules, keyed ``schema.field.path`` (``clinical_record.guarantor.phone``)."""
    return {
        f"{entry.name}.{policy.name}": Rule(RuleAction(policy.action), policy.phi_type, params=policy.params)
        for policy in entry.policies
    }


def check_avro_rules(policy: Policy, registry: SchemaRegistry) -> None:
    """Raise :class:`ConfigError` listing every ``avro:`` rule the schemas' tags do not already enforce."""
    tagged: dict[str, Rule] = {}
    for entry in registry:
        tagged.update(rules_from_schema(entry))
    problems = []
    for path, rule in policy.rules(Format.AVRO).rules.items():
        where = f"{policy.source}:{rule.line}" if rule.line else policy.source
        tag = tagged.get(path)
        if tag is None:
            problems.append(f"{where}: avro path {path!r} is not a tagged field of any schema in PHI_SCHEMA_DIR")
        elif (tag.action, tag.phi_type, tag.params) != (rule.action, rule.phi_type, rule.params):
            schema = path.split(".", 1)[0]
            problems.append(
                f"{where}: {path} is tagged '{tag.describe()}' in schemas/{schema}.avsc; the tag decides an Avro "
                f"field's action: change the tag there (or make this rule say '{tag.describe()}')"
            )
    if problems:
        raise ConfigError("policy avro rules cannot be enforced:\n  " + "\n  ".join(problems))
