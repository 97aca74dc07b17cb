"""Load and check a policy file (YAML): every problem is listed with its line, none is skipped.

A rule the pipeline cannot enforce (an unknown path, an action the PHI type cannot take, a pattern
that does not compile) is an error at load, never a silent pass-through. A file extends the shipped
Safe Harbor defaults (``extends: safe-harbor``, the default) and overrides them path by path, or starts
from nothing (``extends: none``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from yaml.nodes import Node, ScalarNode, SequenceNode

from pipeline.core.errors import ConfigError
from pipeline.core.formats.fhirpath import is_fhirpath
from pipeline.core.formats.fhirpath import problem as fhirpath_problem
from pipeline.core.formats.names import BY_FORMAT
from pipeline.core.linear_regex import LinearPattern
from pipeline.core.phi_types import PhiType
from pipeline.core.policy.checker import Checker, PolicyFileError, compose
from pipeline.core.policy.model import (
    CustomRecognizer,
    DenyList,
    Format,
    FormatRules,
    Policy,
    Rule,
    TermList,
)
from pipeline.core.policy.ms_fhir import import_ms_fhir, looks_like_ms_fhir
from pipeline.core.policy.presidio import Imported, is_presidio, presidio_entry
from pipeline.core.sensitive import SensitiveAction, SensitiveCategory, parse_action, parse_category
from pipeline.core.transform.actions import Action
from pipeline.core.transform.operators import OPERATORS

DEFAULT_NAME = "safe-harbor"
_TOP_KEYS = (
    "version",
    "extends",
    "text",
    "date_shift_days",
    *(fmt.value for fmt in Format),  # one section per format
    "deny",
    "allow",
    "recognizers",
    "sensitive",
)


def _rule(checker: Checker, key: ScalarNode, node: Node, fmt: Format) -> Rule | None:
    value_types: frozenset[str] = frozenset()
    type_node: Node = node
    raw_params: dict[str, object] = {}
    params_node: Node = node
    if isinstance(node, ScalarNode):
        words = str(node.value).split()
        if not words or len(words) > 2:
            checker.error(node, f"{key.value}: write 'ACTION [PHI_TYPE]', for example 'redact NAME'")
            return None
        action_text, type_text = words[0], (words[1] if len(words) > 1 else None)
        action_node = node
    else:
        fields = dict((k.value, (k, v)) for k, v in checker.mapping(node, f"rule {key.value}"))
        unknown = sorted(set(fields) - {"action", "type", "value_types", "params"})
        for name in unknown:
            checker.error(fields[name][0], f"{key.value}: unknown setting {name!r} (action, type, value_types, params)")
        if "params" in fields:
            params_node = fields["params"][1]
            for name, value in checker.mapping(params_node, f"{key.value}: params"):
                text = checker.scalar(value, f"{key.value}: params {name.value}")
                if text is not None:
                    raw_params[str(name.value)] = text
        if "action" not in fields:
            checker.error(node, f"{key.value}: a rule needs an action")
            return None
        action_node = fields["action"][1]
        action_text = checker.scalar(action_node, f"{key.value}: action") or ""
        type_text = None
        if "type" in fields:
            type_node = fields["type"][1]
            type_text = checker.scalar(type_node, f"{key.value}: type")
        if "value_types" in fields:
            if fmt is not Format.HL7V2 or not key.value.startswith("OBX-5"):
                checker.error(fields["value_types"][0], f"{key.value}: value_types applies to the HL7 v2 OBX-5 only")
            value_types = frozenset(t.upper() for _, t in checker.strings(fields["value_types"][1], "value_types"))
    try:
        action = Action.parse(action_text)
    except ValueError as exc:
        checker.error(action_node, f"{key.value}: {exc}")
        return None
    phi_type = checker.phi_type(type_node, type_text) if type_text else None
    if type_text and phi_type is None:
        return None
    params, problems = OPERATORS[action].check_params(raw_params, action_text.strip())
    for problem in problems:
        checker.error(params_node, f"{key.value}: {problem}")
    if problems:
        return None
    problem = OPERATORS[action].validate(phi_type, action_text.strip(), params)
    if problem:
        checker.error(action_node if phi_type is None else type_node, f"{key.value}: {problem}")
        return None
    return Rule(action, phi_type, value_types, key.start_mark.line + 1, params)


def _format_rules(checker: Checker, node: Node, fmt: Format, base: FormatRules) -> FormatRules:
    rules = dict(base.rules)
    unlisted = base.unlisted
    spelled = BY_FORMAT[fmt]
    for key, value in checker.mapping(node, fmt.value):
        if key.value not in spelled.settings:
            checker.error(key, f"{fmt.value}: unknown setting {key.value!r} ({', '.join(spelled.settings)})")
        elif key.value == "unlisted_segments":
            text = checker.scalar(value, "unlisted_segments")
            allowed = (Action.REDACT, Action.DETECT, Action.KEEP)
            if text is not None:
                if text not in {a.value for a in allowed}:
                    checker.error(value, "unlisted_segments must be redact, detect or keep")
                else:
                    unlisted = Action(text)
        else:
            for path, rule_node in checker.mapping(value, f"{fmt.value} rules"):
                written = str(path.value)
                if fmt is Format.FHIR and is_fhirpath(written):
                    problem = fhirpath_problem(written)
                else:
                    problem = spelled.check_path(written)
                if problem:
                    checker.error(path, f"{fmt.value} path {path.value!r}: {problem}")
                    continue
                rule = _rule(checker, path, rule_node, fmt)
                if rule is not None:
                    rules[str(path.value)] = rule
    return FormatRules(rules, unlisted)


def _text(checker: Checker, node: Node, base: Mapping[PhiType, Action]) -> dict[PhiType, Action]:
    text = dict(base)
    for key, value in checker.mapping(node, "text"):
        phi_type = checker.phi_type(key, str(key.value))
        action_text = checker.scalar(value, f"text {key.value}")
        if phi_type is None or action_text is None:
            continue
        try:
            action = Action.parse(action_text)
        except ValueError as exc:
            checker.error(value, f"text {key.value}: {exc}")
            continue
        problem = OPERATORS[action].validate_text(phi_type, action_text.strip())
        if problem:
            checker.error(value, f"text {key.value}: {problem}")
            continue
        text[phi_type] = action
    return text


def _term_list(checker: Checker, node: Node, what: str, allowed: tuple[str, ...]) -> tuple[TermList, dict[str, Node]]:
    terms: list[str] = []
    patterns: list[LinearPattern] = []
    others: dict[str, Node] = {}
    for key, value in checker.mapping(node, what):
        if key.value == "terms":
            terms.extend(text for _, text in checker.strings(value, f"{what} terms") if text.strip())
        elif key.value == "patterns":
            for item, text in checker.strings(value, f"{what} patterns"):
                compiled = checker.pattern(item, text)
                if compiled is not None:
                    patterns.append(compiled)
        elif key.value in allowed:
            others[key.value] = value
        else:
            checker.error(key, f"{what}: unknown setting {key.value!r} ({', '.join(('terms', 'patterns', *allowed))})")
    return TermList(tuple(terms), tuple(patterns)), others


def _deny(checker: Checker, node: Node) -> list[DenyList]:
    if not isinstance(node, SequenceNode):
        checker.error(node, "deny must be a list of {type, terms, patterns}")
        return []
    out = []
    for item in node.value:
        entries, others = _term_list(checker, item, "deny entry", ("type",))
        if "type" not in others:
            checker.error(item, "deny entry: needs the PHI type its terms are ('type: NAME')")
            continue
        text = checker.scalar(others["type"], "deny type")
        phi_type = checker.phi_type(others["type"], text) if text else None
        if phi_type is not None:
            if not entries:
                checker.error(item, "deny entry: give terms or patterns")
            out.append(DenyList(phi_type, entries))
    return out


def _recognizers(checker: Checker, node: Node, presidio: Imported) -> list[CustomRecognizer]:
    """The policy's own recognizers; entries in Presidio's shape go into ``presidio`` (recognizers and
    deny lists)."""
    if not isinstance(node, SequenceNode):
        checker.error(node, "recognizers must be a list of {name, pattern, type, score, context}")
        return []
    out = []
    names: set[str] = set()
    for item in node.value:
        if is_presidio(item):
            presidio_entry(checker, item, presidio)
            continue
        fields = {k.value: (k, v) for k, v in checker.mapping(item, "recognizer")}
        for name in sorted(set(fields) - {"name", "pattern", "type", "score", "context"}):
            checker.error(
                fields[name][0], f"recognizer: unknown setting {name!r} (name, pattern, type, score, context)"
            )
        missing = [n for n in ("name", "pattern", "type") if n not in fields]
        if missing:
            checker.error(item, f"recognizer: missing {', '.join(missing)}")
            continue
        name = checker.scalar(fields["name"][1], "recognizer name") or ""
        if name in names:
            checker.error(fields["name"][1], f"recognizer {name!r} is defined twice")
        names.add(name)
        pattern_text = checker.scalar(fields["pattern"][1], "recognizer pattern")
        pattern = checker.pattern(fields["pattern"][1], pattern_text) if pattern_text is not None else None
        type_text = checker.scalar(fields["type"][1], "recognizer type")
        phi_type = checker.phi_type(fields["type"][1], type_text) if type_text else None
        score = 0.85
        if "score" in fields:
            score_text = checker.scalar(fields["score"][1], "recognizer score")
            try:
                score = float(score_text or "")
            except ValueError:
                score = -1.0
            if not 0.0 < score <= 1.0:
                checker.error(fields["score"][1], f"recognizer {name}: score must be a number in (0, 1]")
                continue
        context = (
            tuple(t.lower() for _, t in checker.strings(fields["context"][1], "context")) if "context" in fields else ()
        )
        if pattern is not None and phi_type is not None:
            out.append(CustomRecognizer(name, pattern, phi_type, score, context))
    return out


def _shift_days(checker: Checker, node: Node) -> tuple[int, int] | None:
    items = checker.strings(node, "date_shift_days")
    try:
        low, high = (int(text) for _, text in items)
    except ValueError:
        checker.error(node, "date_shift_days must be two whole numbers [LOW, HIGH], for example [-365, 365]")
        return None
    if low > high or low == high == 0:
        checker.error(node, "date_shift_days: LOW must not exceed HIGH, and [0, 0] would leave dates as they are")
        return None
    return low, high


def _sensitive(
    checker: Checker, node: Node, base: Mapping[SensitiveCategory, SensitiveAction]
) -> dict[SensitiveCategory, SensitiveAction]:
    """``sensitive: {substance_use: restrict, genetic: pass}``: one action per category."""
    actions = dict(base)
    for key, value in checker.mapping(node, "sensitive"):
        text = checker.scalar(value, f"sensitive {key.value}")
        try:
            category = parse_category(key.value)
        except ConfigError as exc:
            checker.error(key, f"sensitive: {exc}")
            continue
        try:
            actions[category] = parse_action(text or "")
        except ConfigError as exc:
            checker.error(value, f"sensitive {key.value}: {exc}")
    return actions


def parse_policy(text: str, source: str, base: Policy | None = None) -> Policy:
    """A policy from YAML text; raises :class:`PolicyFileError` listing every problem with its line."""
    checker = Checker(source)
    root = compose(text, source)
    pairs = dict((k.value, (k, v)) for k, v in checker.mapping(root, "the policy"))
    for name in pairs:
        if name not in _TOP_KEYS:
            checker.error(pairs[name][0], f"unknown setting {name!r}; expected one of: {', '.join(_TOP_KEYS)}")
    if "version" not in pairs:
        checker.error(root, "the policy needs 'version: 1'")
    elif checker.scalar(pairs["version"][1], "version") != "1":
        checker.error(pairs["version"][1], "version must be 1")
    extends = DEFAULT_NAME
    if "extends" in pairs:
        extends = checker.scalar(pairs["extends"][1], "extends") or DEFAULT_NAME
        if extends not in (DEFAULT_NAME, "none"):
            checker.error(pairs["extends"][1], f"extends must be {DEFAULT_NAME} or none")
    if base is None:
        base = default_policy() if extends == DEFAULT_NAME else _empty_policy()
    text_actions = _text(checker, pairs["text"][1], base.text) if "text" in pairs else dict(base.text)
    formats = {}
    for fmt in Format:
        current = base.rules(fmt)
        formats[fmt] = _format_rules(checker, pairs[fmt.value][1], fmt, current) if fmt.value in pairs else current
    presidio = Imported()
    recognizers = list(base.recognizers) + (
        _recognizers(checker, pairs["recognizers"][1], presidio) if "recognizers" in pairs else []
    )
    recognizers += presidio.recognizers
    deny = list(base.deny) + (_deny(checker, pairs["deny"][1]) if "deny" in pairs else []) + presidio.deny
    allow = base.allow
    if "allow" in pairs:
        extra, _ = _term_list(checker, pairs["allow"][1], "allow", ())
        allow = TermList(base.allow.terms + extra.terms, base.allow.patterns + extra.patterns)
    shift_days = base.shift_days
    if "date_shift_days" in pairs:
        shift_days = _shift_days(checker, pairs["date_shift_days"][1]) or shift_days
    sensitive = _sensitive(checker, pairs["sensitive"][1], base.sensitive) if "sensitive" in pairs else base.sensitive
    if checker.problems:
        raise PolicyFileError(source, sorted(checker.problems, key=_line_of))
    return Policy(source, text_actions, formats, tuple(deny), allow, tuple(recognizers), shift_days, sensitive)


def _line_of(problem: str) -> int:
    match = re.search(r":(\d+): ", problem)
    return int(match.group(1)) if match else 0


def _empty_policy() -> Policy:
    return Policy("none", dict.fromkeys(PhiType, Action.REDACT), {f: FormatRules() for f in Format})


_DEFAULT: list[Policy] = []


def default_policy() -> Policy:
    """The shipped Safe Harbor policy (``pipeline/core/policy/safe_harbor.yaml``)."""
    if not _DEFAULT:
        text = resources.files("pipeline.core.policy").joinpath("safe_harbor.yaml").read_text("utf-8")
        _DEFAULT.append(parse_policy(text, DEFAULT_NAME, base=_empty_policy()))
    return _DEFAULT[0]


def load_policy(path: Path | None) -> Policy:
    """The policy in ``path`` (None: the shipped Safe Harbor defaults)."""
    if path is None:
        return default_policy()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyFileError(str(path), [f"{path}: cannot read it ({exc.strerror or type(exc).__name__})"]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PolicyFileError(str(path), [f"{path}: the file is not UTF-8"]) from None
    if looks_like_ms_fhir(text):  # Microsoft's FHIR anonymizer configuration, taken as it is
        converted, _ = import_ms_fhir(text, str(path))
        return parse_policy(converted, str(path))
    return parse_policy(text, str(path))
