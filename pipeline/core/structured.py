"""Protect the tagged fields of a decoded record, at any depth, as the schema says.

The schema's tags are compiled into a plan (:mod:`pipeline.core.schemas`); this module walks a
record with it: through nested records, arrays, maps and unions, every string or integer under a
tagged field takes that field's action. Structured values are protected whole (a value is PHI or it
is not); free text is collected for the detector instead. Each protected value yields a
:class:`Transformation` naming its concrete field path (``contacts[1].name``; map values by their
position in key order, ``extras{0}``, since keys may be PHI), type and action, never the value.

Safe Harbor for the oldest patients: ages over 89 and every date element that indicates such an age,
the year included, are aggregated into one category, ``90+``. When the record shows a patient aged
90 or over (an age field of 90 or more, or a birth date 90 or more years before the record's other
dates), every tagged date field whose action would keep a year becomes ``90+``, and
:attr:`ProtectedRecord.aged_90_plus` tells the text stage to remove years from the notes too.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as dt_time
from decimal import Decimal
from typing import Any
from uuid import UUID

from pipeline.core.coverage import Coverage, Decision
from pipeline.core.errors import InvalidField
from pipeline.core.phi_types import PhiType
from pipeline.core.rule import Rule
from pipeline.core.schemas import (
    ArrayPlan,
    FieldPolicy,
    LeafPlan,
    MapPlan,
    Plan,
    RecordPlan,
    SchemaEntry,
    UnionPlan,
)
from pipeline.core.spans import Span
from pipeline.core.transform.actions import NO_PARAMS, Action, ActionParams
from pipeline.core.transform.operators import OPERATORS

STAGE = "protect"
AGED_90_PLUS = "90+"
SAFE_HARBOR_DETECTOR = "safe-harbor-90"
_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)")
_BIRTH_NAMES = ("birth", "dob")
#: Enumeration members read per leaf, bound once (an Enum class attribute costs ten times a global's).
_AGE, _DATE = PhiType.AGE, PhiType.DATE
_GENERALIZE, _KEEP = Action.GENERALIZE, Action.KEEP
_KEPT, _RULED, _DETECTED = Decision.KEPT, Decision.RULED, Decision.DETECTED

#: One value through the action table: (value, its field's rule, field path) -> (protected value or None
#: for removed, the action applied); the Avro format binds it to the message (its keys, patient, id).
#: The rule is made once per field policy (:class:`_Tag`), not once per value.
ProtectValue = Callable[[str, Rule, str], tuple[str | None, Action]]


@dataclass(frozen=True, slots=True)
class Transformation:
    """One protected value: which field path, what type, which action; offsets only for free text."""

    field: str
    phi_type: str
    action: str
    start: int | None = None
    end: int | None = None
    detector: str | None = None

    def as_record(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "phi_type": self.phi_type,
            "action": self.action,
            "start": self.start,
            "end": self.end,
            "detector": self.detector,
        }


@dataclass(slots=True)
class TextSlot:
    """A free-text value and where it sits in the protected record, so its redacted form replaces it."""

    path: str
    container: Any  # the dict or list holding the value in the protected copy
    key: Any
    text: str

    def replace(self, text: str | None) -> None:
        """The redacted text in the original's place, or None where the text is withheld."""
        self.container[self.key] = text

    def place(self, result: Any, spans: Any) -> None:
        """The transformed text (a :class:`~pipeline.core.transform.TransformedText` of ``spans``) in
        place; slots that stand for several leaves map the spans back onto them."""
        self.replace(result.text)


@dataclass(slots=True)
class _UntaggedSlot(TextSlot):
    """An untagged string scanned by deny-by-default: its type stays a string, so withheld text is empty."""

    def replace(self, text: str | None) -> None:
        self.container[self.key] = text or ""


@dataclass(slots=True)
class ProtectedRecord:
    record: dict[str, Any]
    transformations: list[Transformation] = field(default_factory=list)
    texts: list[TextSlot] = field(default_factory=list)
    #: The record's own structured PHI values, to be found again in its free text (ages only from 90).
    known: list[tuple[PhiType, str]] = field(default_factory=list)
    aged_90_plus: bool = False
    coverage: Coverage = field(default_factory=Coverage)


#: One scalar under a tagged field: (what its field's policy asks, worked out once: :class:`_Tag`; its
#: path, the dict or list holding it, its key there, the value). A tuple: a record has a dozen or more,
#: and an object per leaf costs more than its use.
_Leaf = tuple["_Tag", str, Any, Any, Any]


def protect_record(
    entry: SchemaEntry, record: dict[str, Any], protect: ProtectValue, explain: bool = False
) -> ProtectedRecord:
    """A protected copy of ``record``: every tagged value at any depth transformed, free text collected
    (untagged strings too: deny by default); with ``explain``, every leaf's decision recorded."""
    out = copy_tree(record)
    leaves = _leaves(entry.plan, out)
    result = ProtectedRecord(out, aged_90_plus=_aged_90_plus(leaves))
    coverage = result.coverage
    coverage.explain = explain
    coverage.count([_apply(leaf, result, protect) for leaf in leaves])
    return result


def _leaves(plan: Plan, record: dict[str, Any]) -> list[_Leaf]:
    """Every tagged scalar of ``record`` in field order: what :func:`_walk` finds field by field, with a
    top-level scalar field (most of them) answered at once from its compiled tag."""
    leaves: list[_Leaf] = []
    for name, sub, tag in _top_level(plan):
        value = record.get(name)
        if value is None:
            continue
        if tag is not None and type(value) is not list and type(value) is not dict:
            leaves.append((tag, name, record, name, value))
        else:
            _walk(sub, record, name, name, leaves)
    return leaves


#: Per record plan (by identity, the plan kept beside): its top-level fields as (name, plan, the tag of a
#: tagged field or None), so a record's walk starts without a type test or a tag lookup per field.
_TOP_LEVEL: dict[int, tuple[Plan, tuple[tuple[str, Plan, _Tag | None], ...]]] = {}


def _top_level(plan: Plan) -> tuple[tuple[str, Plan, _Tag | None], ...]:
    found = _TOP_LEVEL.get(id(plan))
    if found is None or found[0] is not plan:
        if len(_TOP_LEVEL) >= 1024:  # plans of schemas since replaced: start again
            _TOP_LEVEL.clear()
        fields: tuple[tuple[str, Plan, _Tag | None], ...] = ()
        if isinstance(plan, RecordPlan):
            fields = tuple(
                (name, sub, _tag(sub.policy) if type(sub) is LeafPlan else None)
                for name, sub in plan.fields.items()
                if sub is not None
            )
        found = _TOP_LEVEL[id(plan)] = (plan, fields)
    return found[1]


#: Values a decoded record holds that nothing mutates: shared by :func:`copy_tree`, not copied.
_IMMUTABLE = (str, int, float, bool, bytes, type(None), Decimal, date, dt_time, UUID)
_SCALARS = frozenset({str, int, float, bool, bytes, type(None)})  # the common ones, shared without a call


def copy_tree(value: Any) -> Any:
    """A copy of a decoded record that is as safe to mutate as :func:`copy.deepcopy`'s: dicts and lists
    are rebuilt at every depth, immutable leaves (strings, numbers, bytes, Avro logical types) shared,
    anything else deep-copied. Several times faster than ``deepcopy``, which memoizes every object."""
    kind = type(value)
    if kind is dict:
        return {k: v if type(v) in _SCALARS else copy_tree(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _SCALARS else copy_tree(v) for v in value]
    if isinstance(value, _IMMUTABLE):
        return value
    return copy.deepcopy(value)


def year_spans(text: str) -> list[Span]:
    """Every four-digit year in ``text`` as a DATE span: for a patient aged 90 or over, no year stays."""
    return [
        Span(m.start(), m.end(), PhiType.DATE, 1.0, SAFE_HARBOR_DETECTOR, ("aged-90-plus-year",))
        for m in _YEAR.finditer(text)
    ]


# -- the walk -----------------------------------------------------------------------------------------


def _walk(plan: Plan, container: Any, key: Any, path: str, leaves: list[_Leaf]) -> None:
    value = container[key]
    if value is None or plan is None:
        return
    if isinstance(plan, LeafPlan):
        _collect(_tag(plan.policy), container, key, path, leaves)
        return
    if isinstance(plan, UnionPlan):
        plan = _branch(plan, value)
        if isinstance(plan, LeafPlan):  # a string member of the union
            _collect(_tag(plan.policy), container, key, path, leaves)
            return
    if isinstance(plan, RecordPlan) and isinstance(value, dict):
        for name, sub in plan.fields.items():
            if name in value:
                _walk(sub, value, name, f"{path}.{name}", leaves)
    elif isinstance(plan, ArrayPlan) and isinstance(value, list):
        for index in range(len(value)):
            _walk(plan.items, value, index, f"{path}[{index}]", leaves)
    elif isinstance(plan, MapPlan) and isinstance(value, dict):
        for position, map_key in enumerate(sorted(value)):
            _walk(plan.values, value, map_key, f"{path}{{{position}}}", leaves)


def _branch(plan: UnionPlan, value: Any) -> Plan:
    """The union member a value fits: the first record whose fields it has, else the map or the array;
    a string its string member."""
    if isinstance(value, str):
        return plan.text
    if isinstance(value, dict):
        keys = set(value)
        for record in plan.records:
            if keys <= record.field_names and record.required <= keys:
                return record
        return plan.map
    if isinstance(value, list):
        return plan.array
    return None


def _collect(tag: _Tag, container: Any, key: Any, path: str, leaves: list[_Leaf]) -> None:
    """Every scalar under a tagged field: the field itself, or its arrays' elements and maps' values."""
    value = container[key]
    if value is None:
        return
    if isinstance(value, list):
        for index in range(len(value)):
            _collect(tag, value, index, f"{path}[{index}]", leaves)
    elif isinstance(value, dict):
        for position, map_key in enumerate(sorted(value)):
            _collect(tag, value, map_key, f"{path}{{{position}}}", leaves)
    else:
        leaves.append((tag, path, container, key, value))


# -- Safe Harbor: ages over 89 ----------------------------------------------------------------------


def _whole_years(value: Any) -> int | None:
    text = str(value).strip().rstrip("+")
    return int(text) if text.isdigit() and len(text) <= 4 else None


@functools.lru_cache(maxsize=4096)
def _is_birth_date(path: str) -> bool:
    """``date_of_birth``, ``guarantor.dob``, ``births[2]``: the field's own name speaks of birth (the
    answer kept per path: every record of a schema asks again for the same few)."""
    name = re.sub(r"[\[{]\d+[\]}]", "", path).rsplit(".", 1)[-1].lower()
    return any(word in name for word in _BIRTH_NAMES)


def _year_of(value: Any) -> int | None:
    text = value if type(value) is str else str(value)
    head = text[:4]
    if len(head) == 4 and head.isascii() and head.isdigit() and "1500" <= head <= "2099" and not text[4:5].isdigit():
        return int(head)  # an ISO 8601 date's year: what _YEAR would find first, without the search
    match = _YEAR.search(text)
    return int(match.group(1)) if match else None


def _aged_90_plus(leaves: list[_Leaf]) -> bool:
    """An age of 90 or more, or a birth date 90 or more years before the record's latest other date
    (or this year): rounding toward the older age, so a patient who may be 90 counts as 90+."""
    births: list[int] = []
    others: list[int] = []
    for tag, path, _, _, value in leaves:
        if tag.age:
            years = _whole_years(value)
            if years is not None and years >= 90:
                return True
        elif tag.date:
            year = _year_of(value)
            if year is not None:
                (births if _is_birth_date(path) else others).append(year)
    if not births:
        return False
    reference = max(others, default=datetime.now(UTC).year)
    return reference - min(births) >= 90


# -- actions ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Tag:
    """What every value under one field policy needs to know of it, worked out once per policy (the
    policy's attributes copied too: a leaf reads them from here, one lookup instead of two)."""

    policy: FieldPolicy
    phi_type: PhiType | None
    action: Action
    params: ActionParams
    opted_out: bool  # "phi": "NONE": kept as it is
    text: bool  # free text (tagged or untagged): collected for the detector
    type_name: str  # the PHI type's name ('' for text)
    known_always: bool  # every value is a known value for the text stage (not kept; not an age)
    known_age: bool  # an age: a known value from 90
    age: bool  # an age (Safe Harbor's 90+)
    date: bool  # a date (Safe Harbor's 90+)
    action_name: str  # the action's name, and the decision it makes, for the transformation and the count
    decision: Decision
    rule: Rule  # the policy as the action table takes it
    generalize_rule: Rule  # generalization as every tagged value is checked with (no parameters)
    #: A top-level field's own transformation (its path is the policy's name), for its policy's action.
    own: Transformation | None


_TAGS: dict[int, _Tag] = {}
_NAMES: dict[Action, str] = {action: action.value for action in Action}


def _tag(policy: FieldPolicy) -> _Tag:
    found = _TAGS.get(id(policy))
    if found is None or found.policy is not policy:
        if len(_TAGS) >= 4096:  # policies of schemas since replaced: start again
            _TAGS.clear()
        phi_type, action = policy.phi_type, policy.action
        kept = action is Action.KEEP
        type_name = phi_type.value if phi_type is not None else ""
        found = _TAGS[id(policy)] = _Tag(
            policy,
            phi_type,
            action,
            policy.params,
            opted_out=phi_type is None and action == "keep",
            text=policy.is_free_text or phi_type is None,
            type_name=type_name,
            known_always=not kept and phi_type is not PhiType.AGE,
            known_age=not kept and phi_type is PhiType.AGE,
            age=phi_type is PhiType.AGE,
            date=phi_type is PhiType.DATE,
            action_name=_NAMES[action],
            decision=_KEPT if kept else _RULED,
            rule=Rule(action, phi_type, params=policy.params),
            generalize_rule=Rule(_GENERALIZE, phi_type, params=NO_PARAMS),
            own=_transformation(policy.name, type_name, _NAMES[action]) if policy.is_top_level else None,
        )
    return found


def _apply(leaf: _Leaf, result: ProtectedRecord, protect: ProtectValue) -> Decision | None:
    """Protect one leaf in place (or collect its text); the leaf's decision (None: not counted)."""
    tag, path, container, key, value = leaf
    coverage = result.coverage
    if tag.opted_out:  # "phi": "NONE": the schema's author opted out
        if coverage.explain:
            coverage.note(path, f'{tag.policy.name}: "phi": "NONE" (keep)', _KEPT, "keep")
        return _KEPT
    if tag.text:
        if type(value) is not str and not isinstance(value, str):
            return None
        policy = tag.policy
        if value:
            slot = _UntaggedSlot if policy.implicit else TextSlot
            result.texts.append(slot(path, container, key, value))
        if coverage.explain:
            why = "untagged string: detector" if policy.implicit else f"{policy.name}: FREE_TEXT detect"
            coverage.note(path, why, _DETECTED, "detect")
        return _DETECTED
    text = value if type(value) is str else str(value)
    phi_type, action = tag.phi_type, tag.action
    if tag.known_always or (tag.known_age and (_whole_years(text) or 0) >= 90):
        result.known.append((phi_type, text))
    protected: str | None
    if action is _GENERALIZE:  # the value must be what the field says (a date with a year, an age)
        protected = _generalized(text, tag, path, protect)
    else:
        protected, action = protect(text, tag.rule, path)
    if result.aged_90_plus and protected is not None and _reveals_age(phi_type, text, action):
        # Safe Harbor: every date element (the year too) that could reveal an age over 89 is one category.
        protected, action = AGED_90_PLUS, _GENERALIZE
    container[key] = protected
    own = tag.own
    if action is tag.action:  # the policy's own action (nearly always): its name and decision known
        action_name, decision = tag.action_name, tag.decision
    else:
        action_name, decision, own = _NAMES[action], _KEPT if action is _KEEP else _RULED, None
    if own is None or path != own.field:  # not a top-level field's own transformation, made once
        own = _transformation(path, tag.type_name, action_name)
    result.transformations.append(own)
    if coverage.explain:
        coverage.note(path, f"{tag.policy.name}: {action_name} {tag.type_name}", decision, action_name)
    return decision


_SEEN: dict[tuple[str, str, str], Transformation] = {}


def _transformation(path: str, phi_type: str, action: str) -> Transformation:
    """One (immutable) transformation per path, type and action, shared by every record that has it."""
    key = (path, phi_type, action)
    found = _SEEN.get(key)
    if found is None:
        if len(_SEEN) >= 16_384:  # array positions make paths without end: start again
            _SEEN.clear()
        found = _SEEN[key] = Transformation(path, phi_type, action)
    return found


def _reveals_age(phi_type: PhiType, text: str, action: Action) -> bool:
    """For a patient aged 90 or over: a date, or an age of 90 or more, whose action lets some of it be read
    (every action but those the table marks opaque: redact, tokenize, encrypt)."""
    if OPERATORS[action].opaque:
        return False
    return phi_type is _DATE or (phi_type is _AGE and (_whole_years(text) or 0) >= 90)


def _generalized(text: str, tag: _Tag, path: str, protect: ProtectValue) -> str | None:
    """A tagged value that cannot be generalized is not what its field says: the record is refused."""
    protected, applied = protect(text, tag.generalize_rule, path)
    if applied is not _GENERALIZE:
        raise InvalidField(STAGE, f"field {path!r}: not a {tag.type_name} value that can be generalized")
    return protected
