"""HL7 v2 (2.3-2.8, ER7 pipe-delimited) through the policy: every leaf by its path and data type.

The message is split on its own delimiters (MSH-1 and MSH-2) into segments, fields, repetitions,
components and sub-components, and each non-empty leaf takes the most specific rule:
``SEG-F.C.S``, ``SEG-F.C``, ``SEG-F``, then the field's data type (``XAD.5.1``, ``XAD.5``, ``XAD``;
for OBX-5 the value type in OBX-2). Segments neither HL7 nor the policy knows (Z-segments) take
``unlisted_segments``. Deny by default: a leaf no rule names, a field past its segment's definition
and OBX-5 without a value type go to the detector, the leaves of one field (repetitions, components)
as one text; ``keep`` keeps only codes and numbers (:mod:`pipeline.core.coverage`). Changed leaves are unescaped
before and escaped after (``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\``, ``\\.br\\`` as a line break, ``\\Xhh\\``), so
delimiters in a token or a note never break the structure. ``hl7apy``'s tables give each field's data
type for the message's version; python-hl7 (``hl7``), a second, independent parser, parses the input
and the output, which must keep the segments, message type and version (it parses in about 10 ms
where ``hl7apy``'s full parse takes about 200 ms). The control id (MSH-10) is tokenized under the
shipped policy. A Kafka message or a file may hold several messages (each MSH starts one), an FHS/BHS
batch or MLLP frames: each message is protected under its own MSH and patient, and segments are written
out ended by a carriage return.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import hl7

from pipeline.core.coverage import Decision, keepable
from pipeline.core.errors import InvalidHl7, InvalidOutput, InvalidUtf8
from pipeline.core.formats import framing, hl7_model
from pipeline.core.formats.base import FORMAT_HL7V2, ProtectedDocument
from pipeline.core.formats.dates import HL7_DATES
from pipeline.core.formats.joined import JoinedText
from pipeline.core.formats.rules import FormatRules, Rule, RuleAction
from pipeline.core.formats.values import ValueProtector
from pipeline.core.phi_types import PhiType
from pipeline.core.sensitive_evidence.coded import classify_codes
from pipeline.core.sensitive_evidence.hl7_codes import codes_in_hl7
from pipeline.core.structured import Transformation

STAGE = "decode"
_FORMATTING = {
    ".br": "\n",
    ".sp": "\n",
    "H": "",
    "N": "",
    ".fi": "",
    ".nf": "",
    ".in": "",
    ".ti": "",
    ".sk": "",
    ".ce": "",
}
_DATE_TYPES = frozenset({"TS", "DTM", "DT"})


@dataclass(frozen=True, slots=True)
class Delimiters:
    field: str
    component: str
    repetition: str
    escape: str
    subcomponent: str

    def unescape(self, raw: str) -> str:
        """The text a leaf holds (``O\\T\\Brien`` -> ``O&Brien``)."""
        esc = self.escape
        if not esc or esc not in raw:
            return raw
        named = {"F": self.field, "S": self.component, "T": self.subcomponent, "R": self.repetition, "E": esc}
        out: list[str] = []
        index = 0
        while index < len(raw):
            char = raw[index]
            end = raw.find(esc, index + 1) if char == esc else -1
            if end < 0:
                out.append(char)
                index += 1
                continue
            code = raw[index + 1 : end]
            if code in named:
                out.append(named[code])
            elif code.startswith("X") and len(code) > 1 and len(code) % 2 == 1:
                try:
                    out.append(bytes.fromhex(code[1:]).decode("latin-1"))
                except ValueError:
                    out.append(raw[index : end + 1])
            elif code.split(" ")[0].split("+")[0].split("-")[0] in _FORMATTING or code[:3] in _FORMATTING:
                out.append(_FORMATTING.get(code, _FORMATTING.get(code[:3], "")))
            else:
                out.append(raw[index : end + 1])
            index = end + 1
        return "".join(out)

    def escape_text(self, text: str) -> str:
        """``text`` written as a leaf: every delimiter escaped, line breaks as ``\\.br\\``."""
        esc = self.escape
        out = text.replace(esc, f"{esc}E{esc}")
        for char, code in (
            (self.field, "F"),
            (self.component, "S"),
            (self.repetition, "R"),
            (self.subcomponent, "T"),
        ):
            out = out.replace(char, f"{esc}{code}{esc}")
        out = out.replace("\r\n", "\n").replace("\r", "\n").replace("\n", f"{esc}.br{esc}")
        return out


#: Segments whose first two fields are the delimiters themselves (message, file and batch headers).
_HEADERS = ("MSH", "FHS", "BHS")
#: Batch and file envelope segments: they belong to no single message.
_ENVELOPE = frozenset({"FHS", "BHS", "BTS", "FTS"})


class Hl7Message:
    """The ER7 text as nested lists: ``fields[f][rep][comp][sub]`` of raw (escaped) leaves.

    The text may hold several messages (each MSH starts one, at any segment boundary), inside an
    FHS/BHS batch or MLLP frames; :meth:`groups` gives each message's segments."""

    def __init__(self, text: str) -> None:
        lines = [line.strip("\x00 ") for line in framing.segments(text)]
        if not lines or not lines[0].startswith(_HEADERS) or len(lines[0]) < 8:
            raise InvalidHl7(STAGE, "an HL7 v2 message starts with an MSH segment (MSH|^~\\&|...)")
        field_sep = lines[0][3]
        encoding = lines[0][4:].split(field_sep, 1)[0]
        if len(encoding) < 3 or field_sep.isalnum():
            raise InvalidHl7(STAGE, "MSH-1 and MSH-2 must give the delimiters (MSH|^~\\&)")
        self.delimiters = Delimiters(field_sep, encoding[0], encoding[1], encoding[2], encoding[3:4] or "&")
        self.encoding = encoding
        self.segments: list[tuple[str, list[list[list[list[str]]]]]] = []
        for line in lines:
            parts = line.split(field_sep)
            name = parts[0]
            if not re.fullmatch(r"[A-Z][A-Z0-9]{2}", name):
                raise InvalidHl7(STAGE, f"segment {len(self.segments) + 1} has no three-character segment id")
            values = parts[1:]
            if name in _HEADERS:  # MSH-1 is the field separator itself, MSH-2 the encoding characters
                if parts[1] != encoding:
                    raise InvalidHl7(STAGE, f"segment {len(self.segments) + 1} ({name}) changes the delimiters")
                values = [field_sep, encoding, *parts[2:]]
            self.segments.append((name, [self._split_field(v) for v in values]))
        if not self.find("MSH"):
            raise InvalidHl7(STAGE, "an HL7 v2 batch holds at least one message (MSH segment)")

    def _split_field(self, raw: str) -> list[list[list[str]]]:
        d = self.delimiters
        return [[comp.split(d.subcomponent) for comp in rep.split(d.component)] for rep in raw.split(d.repetition)]

    def leaf(self, segment: int, field_no: int) -> str:
        """The raw first leaf of a field (``MSH-12``), '' when absent."""
        fields = self.segments[segment][1]
        if field_no > len(fields):
            return ""
        return fields[field_no - 1][0][0][0]

    def find(self, name: str) -> list[int]:
        return [i for i, (seg, _) in enumerate(self.segments) if seg == name]

    def groups(self) -> list[tuple[int, list[int]]]:
        """Each message as (its MSH's index, its segments' indexes); envelope segments (FHS, BHS, BTS,
        FTS) are in none (see :meth:`envelope`)."""
        out: list[tuple[int, list[int]]] = []
        for index, (name, _) in enumerate(self.segments):
            if name == "MSH":
                out.append((index, [index]))
            elif name not in _ENVELOPE and out:
                out[-1][1].append(index)
        return out

    def envelope(self) -> list[int]:
        first = self.find("MSH")[0]
        return [i for i, (name, _) in enumerate(self.segments) if name in _ENVELOPE or i < first]

    def to_er7(self, indexes: list[int] | None = None) -> str:
        """The segments (all, or those of ``indexes``) as ER7, each ended by a carriage return."""
        d = self.delimiters
        lines = []
        for index in range(len(self.segments)) if indexes is None else indexes:
            name, fields = self.segments[index]
            if name in _HEADERS:
                rest = [self._join(f) for f in fields[2:]]
                lines.append(d.field.join([f"{name}{d.field}{self.encoding}", *rest]))
            else:
                lines.append(d.field.join([name, *_trim([self._join(f) for f in fields])]))
        return "\r".join(lines) + "\r"

    def _join(self, field: list[list[list[str]]]) -> str:
        d = self.delimiters
        reps = [d.component.join(_trim([d.subcomponent.join(_trim(subs)) for subs in rep])) for rep in field]
        return d.repetition.join(_trim(reps))


def _trim(items: list[str]) -> list[str]:
    """Trailing empty items dropped (``A^B^^`` is ``A^B``), the first one always kept."""
    end = len(items)
    while end > 1 and items[end - 1] == "":
        end -= 1
    return items[:end]


def reparse(text: str) -> tuple[tuple[str, ...], str, str]:
    """Parse ER7 text with python-hl7 (an independent parser): its segment ids, MSH-9 and MSH-12."""
    message = hl7.parse(text)
    msh = message.segment("MSH")
    return tuple(str(segment[0]) for segment in message), str(msh[9]), str(msh[12])


def decode_text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidUtf8(STAGE, "an HL7 v2 message must be UTF-8 (or its ASCII subset)") from None


@dataclass
class _Group:
    """One message of the input while it is walked: its version, patient and Safe Harbor age."""

    version: str
    aged_90_plus: bool = False


class Hl7Processor:
    """Protects one HL7 v2 message (or a batch of them) under a policy's ``hl7v2`` rules, deny by default:
    every non-empty leaf is decided by a rule, and a leaf no rule names goes to the detector."""

    def __init__(self, rules: FormatRules) -> None:
        self.rules = rules

    def protect(self, value: bytes, protector: ValueProtector, explain: bool = False) -> ProtectedDocument:
        text = decode_text(value)
        message = Hl7Message(text)
        groups = message.groups()
        versions = [self._version(message, msh) for msh, _ in groups]
        try:
            before = [reparse(message.to_er7(indexes)) for _, indexes in groups]
        except Exception as exc:  # a parser's messages may quote the input: the class name only
            raise InvalidHl7(STAGE, f"the message does not parse as HL7 v2 ({type(exc).__name__})") from None
        subject = self._subject(message, groups[0][1])
        doc = ProtectedDocument(FORMAT_HL7V2, f"{FORMAT_HL7V2}:{versions[0]}", subject, lambda: b"")
        doc.coverage.explain = explain
        doc.codes = classify_codes(codes_in_hl7(message.segments, message.delimiters.unescape))  # before protection
        occurrences = _occurrences(message)
        envelope = _Group(versions[0])
        for index in message.envelope():
            self._segment(message, envelope, index, occurrences[index], protector, doc)
        for (_, indexes), version in zip(groups, versions, strict=True):
            protector.patient_key = self._subject(message, indexes)
            group = _Group(version, self._aged_90_plus(message, indexes, version))
            doc.aged_90_plus = doc.aged_90_plus or group.aged_90_plus
            for index in indexes:
                self._segment(message, group, index, occurrences[index], protector, doc)
        protector.patient_key = subject

        def render() -> bytes:
            for (_, indexes), expected in zip(groups, before, strict=True):
                try:
                    after = reparse(message.to_er7(indexes))
                except Exception as exc:
                    raise InvalidOutput(
                        "emit", f"the de-identified message does not parse ({type(exc).__name__})"
                    ) from None
                if after != expected:
                    raise InvalidOutput("emit", "the de-identified message lost its segments, message type or version")
            return message.to_er7().encode("utf-8")

        doc.render = render
        return doc

    @staticmethod
    def _version(message: Hl7Message, msh: int) -> str:
        version = message.delimiters.unescape(message.leaf(msh, 12)).split(message.delimiters.component)[0].strip()
        if version not in hl7_model.SUPPORTED_VERSIONS:
            shown = version if re.fullmatch(r"[0-9.]{1,8}", version) else f"<{len(version)} characters>"
            raise InvalidHl7(STAGE, f"MSH-12 version {shown} is not supported (2.3 to 2.8)")
        return version

    # -- the walk -----------------------------------------------------------------------------------

    def _segment(
        self,
        message: Hl7Message,
        group: _Group,
        index: int,
        occurrence: int,
        protector: ValueProtector,
        doc: ProtectedDocument,
    ) -> None:
        name, fields = message.segments[index]
        version = group.version
        defined = hl7_model.field_types(version, name)
        value_type = message.delimiters.unescape(message.leaf(index, 2)).strip().upper() if name == "OBX" else ""
        for field_no, reps in enumerate(fields, start=1):
            if name in _HEADERS and field_no <= 2:
                continue
            where = f"{name}[{occurrence}]-{field_no}"
            if field_no <= len(defined):
                data_type = defined[field_no - 1]
                if name == "OBX" and field_no == 5:
                    data_type = value_type  # empty OBX-2: no type, so no type's rule: the detector decides
            else:
                data_type = ""  # past the segment's definition (or a segment HL7 does not define)
            joined = JoinedText(" ")
            for rep_no, comps in enumerate(reps, start=1):
                for comp_no, subs in enumerate(comps, start=1):
                    for sub_no, raw in enumerate(subs, start=1):
                        if raw == "" or raw == '""':
                            continue
                        rule, named = self._rule(name, field_no, comp_no, sub_no, data_type, value_type)
                        if rule is None and not defined:
                            rule, named = Rule(self.rules.unlisted), "unlisted_segments"
                        leaf = _LeafAt(where, rep_no, comp_no, sub_no)
                        system = _coding_system(message, data_type, comps, comp_no, sub_no)
                        self._leaf(
                            message, subs, sub_no - 1, raw, rule, named, leaf, group, protector, doc, joined, system
                        )
            if joined:
                doc.texts.append(joined.slot(where))

    def _rule(
        self, seg: str, field_no: int, comp: int, sub: int, data_type: str, value_type: str
    ) -> tuple[Rule | None, str]:
        """The most specific rule for a leaf, and the path it is written under ('' when none)."""
        get = self.rules.get
        for key in (f"{seg}-{field_no}.{comp}.{sub}", f"{seg}-{field_no}.{comp}", f"{seg}-{field_no}"):
            rule = get(key)
            if rule is not None:
                if rule.value_types and value_type not in rule.value_types:
                    break  # OBX-5 of another value type: its data type decides
                return rule, key
        if not data_type:
            return None, ""
        for key in (f"{data_type}.{comp}.{sub}", f"{data_type}.{comp}", data_type):
            rule = get(key)
            if rule is not None:
                return rule, key
        if data_type in _DATE_TYPES and comp == 1:  # a date value whatever its version calls it
            for alias in ("DTM", "TS", "DT"):
                rule = get(alias)
                if rule is not None:
                    return rule, alias
        return None, ""

    def _leaf(
        self,
        message: Hl7Message,
        subs: list[str],
        position: int,
        raw: str,
        rule: Rule | None,
        named: str,
        leaf: _LeafAt,
        group: _Group,
        protector: ValueProtector,
        doc: ProtectedDocument,
        joined: JoinedText,
        system: str | None = None,
    ) -> None:
        d = message.delimiters
        value = d.unescape(raw)
        coverage = doc.coverage
        kept = rule is not None and rule.action is RuleAction.KEEP and keepable(value, system)
        if rule is None or rule.action is RuleAction.DETECT or (rule.action is RuleAction.KEEP and not kept):
            if rule is None:
                why = "no rule: detector"
            elif rule.action is RuleAction.KEEP:
                why = f"{named}: keep (not a code or number: detector)"
            else:
                why = f"{named}: detect"
            coverage.add(leaf.path, why, Decision.DETECTED, "detect")
            if value.strip():

                def write(text: str, subs: list[str] = subs, position: int = position) -> None:
                    subs[position] = d.escape_text(text)

                joined.add(value, write, "\n" if leaf.first_of_repetition and joined else None)
            return
        if rule.action is RuleAction.KEEP:
            coverage.add(leaf.path, f"{named}: keep", Decision.KEPT, "keep")
            return
        path = leaf.path()
        phi_type = rule.phi_type or PhiType.ID
        if group.aged_90_plus and phi_type is PhiType.DATE and _is_birth(path):
            protected, action = None, RuleAction.REDACT  # Safe Harbor: no birth year for a patient aged 90+
        else:
            protected, action = protector.protect(value, rule, path, HL7_DATES)
        subs[position] = "" if protected is None else d.escape_text(protected)
        if action is not RuleAction.KEEP and len(value.strip()) >= 3:
            doc.known.append((phi_type, value))
        doc.transformations.append(Transformation(path, phi_type.value, action.value))
        coverage.add(path, f"{named}: {rule.describe()}", Decision.RULED, action.value)

    # -- the patient ---------------------------------------------------------------------------------

    @staticmethod
    def _subject(message: Hl7Message, indexes: list[int]) -> str:
        for index in indexes:
            if message.segments[index][0] != "PID":
                continue
            value = message.delimiters.unescape(message.leaf(index, 3)).strip()
            if value:
                return value
        return ""

    @staticmethod
    def _aged_90_plus(message: Hl7Message, indexes: list[int], version: str) -> bool:
        """A birth date 90 or more years before the message's latest other date (or, when it has no
        other date, before today): rounding toward the older age."""
        births: list[int] = []
        others: list[int] = []
        for index in indexes:
            name, fields = message.segments[index]
            types = hl7_model.field_types(version, name)
            for field_no, data_type in enumerate(types[: len(fields)], start=1):
                if data_type not in _DATE_TYPES:
                    continue
                for rep in fields[field_no - 1]:
                    year = HL7_DATES.year(rep[0][0][:14]) if rep and rep[0] else None
                    if not year:
                        continue
                    path = f"{name}[1]-{field_no}["
                    (births if _is_birth(path) else others).append(int(year))
        if not births:
            return False
        reference = max(others, default=datetime.now(UTC).year)
        return reference - min(births) >= 90


@dataclass(frozen=True, slots=True)
class _LeafAt:
    """Where a leaf is (its path is built only when needed: 10,000 repetitions make many leaves)."""

    field: str
    rep: int
    comp: int
    sub: int

    def path(self) -> str:
        return f"{self.field}[{self.rep}].{self.comp}.{self.sub}"

    @property
    def first_of_repetition(self) -> bool:
        return self.comp == 1 and self.sub == 1 and self.rep > 1


#: Coded data types: the identifier (component 1, or 4 for the alternate) and its coding system (3, or 6).
_CODED_TYPES = frozenset({"CE", "CWE", "CNE"})


def _coding_system(message: Hl7Message, data_type: str, comps: list[list[str]], comp: int, sub: int) -> str | None:
    """The coding system beside a coded element's identifier (``SCT`` beside ``86406008``), else None."""
    if data_type not in _CODED_TYPES or comp not in (1, 4) or sub != 1 or len(comps) <= comp + 1:
        return None
    return message.delimiters.unescape(comps[comp + 1][0]).strip() if comps[comp + 1] else None


def _occurrences(message: Hl7Message) -> list[int]:
    """Each segment's number among the segments of its name (the second OBX is 2)."""
    seen: dict[str, int] = {}
    out = []
    for name, _ in message.segments:
        seen[name] = seen.get(name, 0) + 1
        out.append(seen[name])
    return out


def _is_birth(path: str) -> bool:
    return (
        path.startswith(("PID[", "NK1[", "GT1[", "IN1["))
        and re.search(r"^(PID\[\d+\]-7|GT1\[\d+\]-8|NK1\[\d+\]-16|IN1\[\d+\]-18)\[", path) is not None
    )
