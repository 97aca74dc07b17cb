"""Presidio's pattern recognizers (its ``recognizers:`` YAML, ``PatternRecognizer.from_dict``) as policy
recognizers and deny lists, with Presidio's entities mapped onto the Safe Harbor types.

An entry is Presidio's own shape: ``name``, ``supported_entity``, ``patterns`` (``name``, ``regex``,
``score``), ``context``, ``deny_list``, ``deny_list_score``, ``supported_language(s)``, ``type``,
``enabled``, ``global_regex_flags``. Each pattern becomes one recognizer (context words shared), each
deny list a deny entry. An entity outside :data:`ENTITY_MAP` (``NRP``, ``ORGANIZATION``, a custom
``TITLE``) is not PHI under Safe Harbor: it is refused, listed, unless the entry maps it (``type: NAME``).
Presidio's predefined recognizers (``type: predefined``) are code, not configuration: they are refused,
the pipeline's detector finds those types itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from yaml.nodes import MappingNode, Node, SequenceNode

from pipeline.core.phi_types import PhiType
from pipeline.core.policy.checker import Checker, PolicyFileError, compose
from pipeline.core.policy.detector import _THRESHOLD as THRESHOLD
from pipeline.core.policy.model import CustomRecognizer, DenyList, TermList

#: Presidio entity -> Safe Harbor type. Entities named like one of our types (``ZIP``, ``MRN``) map to it.
ENTITY_MAP: Mapping[str, PhiType] = MappingProxyType(
    {
        "PERSON": PhiType.NAME,
        "LOCATION": PhiType.LOCATION,
        "GPE": PhiType.LOCATION,
        "ADDRESS": PhiType.STREET,
        "STREET_ADDRESS": PhiType.STREET,
        "PHONE_NUMBER": PhiType.PHONE,
        "EMAIL_ADDRESS": PhiType.EMAIL,
        "US_SSN": PhiType.SSN,
        "DATE_TIME": PhiType.DATE,
        "IP_ADDRESS": PhiType.IP,
        "URL": PhiType.URL,
        "MEDICAL_LICENSE": PhiType.LICENSE,
        "US_DRIVER_LICENSE": PhiType.LICENSE,
        "US_PASSPORT": PhiType.ID,
        "US_ITIN": PhiType.ID,
        "UK_NHS": PhiType.ID,
        "US_BANK_NUMBER": PhiType.ACCOUNT,
        "CREDIT_CARD": PhiType.ACCOUNT,
        "IBAN_CODE": PhiType.ACCOUNT,
        "CRYPTO": PhiType.ACCOUNT,
        "MEDICAL_RECORD_NUMBER": PhiType.MRN,
        "ZIP_CODE": PhiType.ZIP,
        **{t.value: t for t in PhiType},
    }
)
#: Presidio's keys of a pattern recognizer, and what the pipeline does with the ones it cannot honour.
KEYS = (
    "name",
    "supported_entity",
    "patterns",
    "context",
    "deny_list",
    "deny_list_score",
    "supported_language",
    "supported_languages",
    "type",
    "enabled",
    "global_regex_flags",
    "version",
    "country_code",
)
#: Keys only Presidio's shape has (the policy's own recognizers say ``pattern`` and ``type: NAME``).
_PRESIDIO_ONLY = frozenset(
    {"supported_entity", "supported_entities", "patterns", "deny_list", "supported_language", "supported_languages"}
)
#: Presidio's default flags: DOTALL | MULTILINE | IGNORECASE.
DEFAULT_FLAGS = re.DOTALL | re.MULTILINE | re.IGNORECASE


def is_presidio(node: Node) -> bool:
    """True for a ``recognizers:`` entry written in Presidio's shape (it names ``supported_entity``)."""
    if not isinstance(node, MappingNode):
        return False
    keys = {getattr(k, "value", None): v for k, v in node.value}
    kind = getattr(keys.get("type"), "value", None)
    return kind in ("predefined", "custom") or bool(set(keys) & _PRESIDIO_ONLY)


@dataclass
class Imported:
    """What one or more Presidio entries give the policy, and what was left out (with why)."""

    recognizers: list[CustomRecognizer] = field(default_factory=list)
    deny: list[DenyList] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def presidio_entry(
    checker: Checker,
    node: Node,
    out: Imported,
    mapping: Mapping[str, PhiType] | None = None,
    flags: int = DEFAULT_FLAGS,
    importing: bool = False,
) -> None:
    """One Presidio recognizer entry into ``out``; every problem is reported on ``checker`` with its line.
    A predefined recognizer is refused in a policy file, and noted (not imported) by ``policy import``."""
    fields = {k.value: (k, v) for k, v in checker.mapping(node, "recognizer")}
    allowed = (*KEYS, "phi_type")
    for name in sorted(set(fields) - set(allowed)):
        checker.error(fields[name][0], f"recognizer: unknown Presidio setting {name!r} ({', '.join(allowed)})")
    name = checker.scalar(fields["name"][1], "recognizer name") if "name" in fields else None
    label = name or "recognizer"
    if "enabled" in fields and (checker.scalar(fields["enabled"][1], "enabled") or "").lower() == "false":
        out.notes.append(f"{checker.source}:{node.start_mark.line + 1}: {label}: enabled: false, not imported")
        return
    kind = checker.scalar(fields["type"][1], "type") if "type" in fields else "custom"
    if kind == "predefined" and importing:
        out.notes.append(
            f"{checker.source}:{node.start_mark.line + 1}: {label}: predefined (code, not configuration), not "
            "imported: the pipeline's detector finds the Safe Harbor types itself"
        )
        return
    if kind == "predefined":
        checker.error(
            node,
            f"{label}: a predefined Presidio recognizer is code, not configuration; the pipeline's detector "
            "finds these types itself (remove the entry, or copy its patterns as a custom recognizer)",
        )
        return
    phi_type = _entity(checker, fields, label, mapping or {})
    if "global_regex_flags" in fields:
        try:
            flags = int(checker.scalar(fields["global_regex_flags"][1], "global_regex_flags") or "")
        except ValueError:
            checker.error(fields["global_regex_flags"][1], f"{label}: global_regex_flags must be a whole number")
    context = _context(checker, fields)
    patterns = _patterns(checker, fields, label, phi_type, context, _inline(flags))
    terms = tuple(t for _, t in checker.strings(fields["deny_list"][1], "deny_list")) if "deny_list" in fields else ()
    if "patterns" not in fields and not terms:
        checker.error(node, f"{label}: a pattern recognizer needs patterns or a deny_list")
    if phi_type is None:
        return
    out.recognizers.extend(patterns)
    for recognizer in patterns:
        best = recognizer.score + (recognizer.context_boost if recognizer.context else 0.0)
        if best < THRESHOLD:
            out.notes.append(
                f"{checker.source}:{node.start_mark.line + 1}: {recognizer.name}: score {recognizer.score:g} "
                f"(+{recognizer.context_boost:g} with a context word) stays under the pipeline's threshold "
                f"{THRESHOLD:g}, so it never finds anything; Presidio keeps every score by default: raise it"
            )
    if terms:
        out.deny.append(DenyList(phi_type, TermList(terms)))
        if "deny_list_score" in fields:
            out.notes.append(
                f"{checker.source}:{fields['deny_list_score'][0].start_mark.line + 1}: {label}: deny_list_score "
                "not used: a deny-listed term is always PHI here"
            )


def _context(checker: Checker, fields: dict[str, tuple[Node, Node]]) -> tuple[str, ...]:
    """Context words: the entry's ``context``, and those of each ``supported_languages`` item that has some."""
    words = [t for _, t in checker.strings(fields["context"][1], "context")] if "context" in fields else []
    languages = fields.get("supported_languages", (None, None))[1]
    for item in languages.value if isinstance(languages, SequenceNode) else []:
        if isinstance(item, MappingNode):
            for key, value in item.value:
                if getattr(key, "value", None) == "context":
                    words.extend(t for _, t in checker.strings(value, "context"))
    return tuple(dict.fromkeys(w.lower() for w in words))


def _entity(
    checker: Checker, fields: dict[str, tuple[Node, Node]], label: str, mapping: Mapping[str, PhiType]
) -> PhiType | None:
    if "phi_type" in fields:  # the entry maps its entity itself
        text = checker.scalar(fields["phi_type"][1], "phi_type")
        return checker.phi_type(fields["phi_type"][1], text) if text else None
    if "supported_entity" not in fields:
        checker.error(fields.get("name", (None, None))[1], f"{label}: needs supported_entity")
        return None
    entity_node = fields["supported_entity"][1]
    entity = (checker.scalar(entity_node, "supported_entity") or "").strip().upper()
    phi_type = mapping.get(entity) or ENTITY_MAP.get(entity)
    if phi_type is None:
        checker.error(
            entity_node,
            f"{label}: entity {entity!r} is not PHI under Safe Harbor (not one of "
            f"{', '.join(sorted(set(ENTITY_MAP) - {t.value for t in PhiType}))}); map it to a PHI type "
            f"(phi_type: NAME in the entry, or --map {entity}=TYPE) or remove the entry",
        )
    return phi_type


def _patterns(
    checker: Checker,
    fields: dict[str, tuple[Node, Node]],
    label: str,
    phi_type: PhiType | None,
    context: tuple[str, ...],
    prefix: str,
) -> list[CustomRecognizer]:
    if "patterns" not in fields:
        return []
    out = []
    items = fields["patterns"][1].value if hasattr(fields["patterns"][1], "value") else []
    if not isinstance(items, list):
        checker.error(fields["patterns"][1], f"{label}: patterns must be a list of {{name, regex, score}}")
        return []
    for index, item in enumerate(items):
        parts = {k.value: v for k, v in checker.mapping(item, "pattern")}
        for key in sorted(set(parts) - {"name", "regex", "score"}):
            checker.error(item, f"{label}: pattern: unknown setting {key!r} (name, regex, score)")
        regex = checker.scalar(parts["regex"], "regex") if "regex" in parts else None
        if regex is None:
            checker.error(item, f"{label}: a pattern needs a regex")
            continue
        compiled = checker.pattern(parts["regex"], prefix + regex)
        score_text = checker.scalar(parts["score"], "score") if "score" in parts else "0.5"
        try:
            score = float(score_text or "")
        except ValueError:
            score = -1.0
        if not 0.0 <= score <= 1.0:
            checker.error(parts.get("score", item), f"{label}: score must be a number in [0, 1]")
            continue
        pattern_name = checker.scalar(parts["name"], "name") if "name" in parts else str(index + 1)
        if compiled is not None and phi_type is not None:
            out.append(CustomRecognizer(f"{label}/{pattern_name}", compiled, phi_type, score, context))
    return out


def _inline(flags: int) -> str:
    letters = "".join(letter for flag, letter in ((re.I, "i"), (re.M, "m"), (re.S, "s")) if flags & flag)
    return f"(?{letters})" if letters else ""


def import_presidio(text: str, source: str, mapping: Mapping[str, PhiType] | None = None) -> tuple[str, list[str]]:
    """A Presidio recognizer file (``recognizers:`` with ``global_regex_flags``, ``supported_languages``)
    as policy YAML in the pipeline's own shape, and the notes on what was not carried over; raises
    :class:`pipeline.core.policy.loader.PolicyFileError` listing every entry it refuses, with its line."""
    checker = Checker(source)
    root = compose(text, source)
    top = {k.value: (k, v) for k, v in checker.mapping(root, "the Presidio file")}
    for name in sorted(set(top) - {"recognizers", "supported_languages", "global_regex_flags"}):
        checker.error(top[name][0], f"unknown Presidio setting {name!r} (recognizers, supported_languages, ...)")
    flags = DEFAULT_FLAGS
    if "global_regex_flags" in top:
        flags = int(checker.scalar(top["global_regex_flags"][1], "global_regex_flags") or DEFAULT_FLAGS)
    out = Imported()
    entries = top["recognizers"][1] if "recognizers" in top else None
    if not isinstance(entries, SequenceNode):
        checker.error(root, "a Presidio recognizer file has a 'recognizers:' list")
    else:
        for item in entries.value:
            presidio_entry(checker, item, out, mapping, flags, importing=True)
    if checker.problems:
        raise PolicyFileError(source, checker.problems)
    return render(out, source), out.notes


def render(out: Imported, source: str) -> str:
    """The recognizers and deny lists as a policy file (YAML, extending Safe Harbor)."""
    import yaml

    document: dict[str, object] = {"version": 1, "extends": "safe-harbor"}
    if out.recognizers:
        document["recognizers"] = [
            {
                "name": r.name,
                "pattern": r.pattern.pattern,
                "type": r.phi_type.value,
                "score": max(r.score, 0.01),
                **({"context": list(r.context)} if r.context else {}),
            }
            for r in out.recognizers
        ]
    if out.deny:
        document["deny"] = [{"type": d.phi_type.value, "terms": list(d.entries.terms)} for d in out.deny]
    header = f"# Imported from Presidio recognizers in {source} by 'phi-pipeline policy import --from presidio'.\n"
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
