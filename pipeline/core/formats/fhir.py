"""FHIR R4 JSON (a resource or a Bundle of them) through the policy, element by element.

Each element's data type comes from the R4 models (:mod:`pipeline.core.formats.fhir_model`), so a
rule on a data type (``HumanName``, ``Address.postalCode``, ``dateTime``) applies wherever it occurs.
The most specific rule wins: the resource path (``Patient.address.line``, longest first), then the
data types the element sits in, innermost first (the leaf's own primitive type, ``Period.start``,
``Period``, ``HumanName.period``, ``HumanName``). Deny by default: a string no rule names goes to the
detector; element ids, ``fhir_comments`` and unknown keys are dropped; ``keep`` keeps only codes, numbers
and URLs on the code-system allow list (:mod:`pipeline.core.coverage`).

Kept consistent: resource ids, ``Reference.reference``, ``Bundle.entry.fullUrl`` and request urls
are replaced by keyed pseudonyms of the original (``Patient/123`` becomes ``Patient/<32 hex>`` in the
resource and in every reference to it; ``urn:uuid:`` stays a UUID; :mod:`pipeline.core.formats.fhir_ids`).
Narrative ``text.div`` is parsed as XHTML and its rendered text goes to the detector as one text, the spans
mapped back onto the text nodes (markup kept, output well-formed; attributes on an allow list, links
redacted), and the ids it names (``Patient/23``, ``#org1``, ``id: 23``) are then written as the structured
ones were; text attachments
(``Attachment.data`` with a ``text/*`` content type) are decoded, detected and re-encoded with their
size and hash updated; other attachments are removed. The input must validate as R4 and so must the
output (``fhir.resources``, R4B models: the same definitions for these resources).
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as defused_fromstring
from pydantic import ValidationError

from pipeline.core.coverage import Decision, identifier_shaped, is_code_system_url, keepable
from pipeline.core.errors import InvalidFhir, InvalidOutput, InvalidUtf8
from pipeline.core.formats import fhir_model
from pipeline.core.formats.base import FORMAT_FHIR, ProtectedDocument, SlotWriter
from pipeline.core.formats.dates import FHIR_DATES, FHIR_INSTANTS
from pipeline.core.formats.fhir_absent import REMOVED, prune
from pipeline.core.formats.fhir_ids import IdLedger, Ids, rewrite_narrative, target
from pipeline.core.formats.fhirpath import FhirPathRule, ancestors, compile_rules, is_fhirpath, select
from pipeline.core.formats.joined import JoinedText
from pipeline.core.formats.rules import FormatRules, Rule, RuleAction
from pipeline.core.formats.values import ValueProtector
from pipeline.core.phi_types import PhiType
from pipeline.core.sensitive_evidence.coded import classify_codes
from pipeline.core.sensitive_evidence.fhir_codes import codes_in_fhir
from pipeline.core.structured import TextSlot, Transformation

STAGE = "decode"
XHTML = "http://www.w3.org/1999/xhtml"
ET.register_namespace("", XHTML)
_CONTACT_TYPES = {"email": PhiType.EMAIL, "fax": PhiType.FAX, "url": PhiType.URL}
_DATE_PRIMITIVES = frozenset({"date", "dateTime", "instant"})
_BIRTH_ELEMENTS = frozenset({"birthDate"})
REDACTED_URI = "urn:phi:redacted"
_URI_PRIMITIVES = frozenset({"uri", "url", "canonical", "oid", "uuid", "uuidVersion"})
_MAX_DEPTH = 64


@dataclass
class _Walk:
    rules: FormatRules
    protector: ValueProtector
    ids: Ids
    doc: ProtectedDocument
    #: FHIRPath rules in order, and per rule the paths it selected in the resources walked so far.
    fhirpath: tuple[FhirPathRule, ...] = ()
    selected: list[set[str]] = field(default_factory=list)
    births: list[tuple[Any, Any, str]] = field(default_factory=list)
    years: list[int] = field(default_factory=list)
    finishers: list[Callable[[], None]] = field(default_factory=list)
    _names: dict[int, str] = field(default_factory=dict)
    #: what the document did with each id (for fullUrls, references and narratives to agree)
    ledger: IdLedger = field(init=False)
    #: each Coding's system as the input has it, by the Coding's id(), whatever a rule does to the system
    systems: dict[int, Any] = field(default_factory=dict)
    #: the resources being walked, innermost last: (original id, id written), for their narratives
    owners: list[tuple[str | None, str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ledger = IdLedger(self.ids)

    # -- rules --------------------------------------------------------------------------------------

    def named(self, rule: Rule) -> str:
        """The path a rule is written under (for ``policy explain``)."""
        return self._names.get(id(rule), "rule")

    def rule(
        self, res_path: list[str], types: list[tuple[str, list[str]]], primitive: str | None, path: str = ""
    ) -> Rule | None:
        """The rule for a leaf: the first FHIRPath rule that selected it (or an element above it), else
        the most specific path or type rule."""
        if not self._names:
            self._names.update({id(rule): path for path, rule in self.rules.rules.items()})
        if path and self.fhirpath:
            chain = ancestors(path)
            for compiled, paths in zip(self.fhirpath, self.selected, strict=True):
                if any(where in paths for where in chain):
                    return compiled.rule
        get = self.rules.get
        for end in range(len(res_path), 1, -1):
            found = get(".".join(res_path[:end]))
            if found is not None:
                return found
        if primitive is not None:
            found = get(primitive)
            if found is not None:
                return found
        for type_name, elements in reversed(types):
            for end in range(len(elements), -1, -1):
                found = get(".".join([type_name, *elements[:end]]))
                if found is not None:
                    return found
        return None

    def element_substitute(self, path: str) -> tuple[int, dict[str, Any]] | None:
        """The index and element of the substitute-with-an-element rule that takes this complex element
        itself (the first FHIRPath rule selecting it or an element above it), or None."""
        if not self.fhirpath:
            return None
        chain = ancestors(path)
        for index, (compiled, paths) in enumerate(zip(self.fhirpath, self.selected, strict=True)):
            if any(where in paths for where in chain):
                element = compiled.rule.params.get("element")
                if compiled.rule.action is not RuleAction.SUBSTITUTE or element is None or path not in paths:
                    return None
                return index, json.loads(str(element))
        return None

    def substituted(self, item: Any, target: Any, path: str, index: int) -> Any:
        """``item`` with ``target`` written over it the way Microsoft's anonymizer substitutes an element:
        what an earlier rule took stays as that rule left it (and takes its place in a list), an element
        holding such a thing keeps just that, everything else is the target's (its extra items added)."""
        earlier = self.selected[:index]
        chain = ancestors(path)
        if any(where in paths for paths in earlier for where in chain):
            return item
        if not isinstance(item, dict):
            return copy.deepcopy(target) if target is not None and not isinstance(target, dict) else REMOVED
        target = target if isinstance(target, dict) else {}
        out: dict[str, Any] = {}
        for key, value in item.items():
            sources = value if isinstance(value, list) else [value]
            wanted = target.get(key, [])
            wanted = wanted if isinstance(wanted, list) else [wanted]
            done: list[Any] = []
            used = 0
            for position, source in enumerate(sources):
                where = f"{path}.{key}[{position}]" if isinstance(value, list) else f"{path}.{key}"
                if any(where in paths for paths in earlier):
                    done.append(source)
                    used += 1
                elif used < len(wanted):
                    done.append(self.substituted(source, wanted[used], where, index))
                    used += 1
                elif any(p.startswith((f"{where}.", f"{where}[")) for paths in earlier for p in paths):
                    done.append(self.substituted(source, {}, where, index))  # holds what an earlier rule took
            done.extend(copy.deepcopy(wanted[used:]))
            if done:
                out[key] = done if isinstance(value, list) else done[0]
        out.update({key: copy.deepcopy(value) for key, value in target.items() if key not in item})
        return out

    # -- resources ----------------------------------------------------------------------------------

    def resource(self, resource: Any, path: str, depth: int, contained: bool = False) -> None:
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            return
        rtype = resource["resourceType"]
        if self.fhirpath:
            if not self.selected:
                self.selected.extend(set() for _ in self.fhirpath)
            for index, (_, paths) in enumerate(select(self.fhirpath, resource, path)):
                self.selected[index] |= paths
        original = resource.get("id") if isinstance(resource.get("id"), str) else None
        if original is not None and contained:  # local: "#id" refers to it, pseudonymized alike
            resource["id"] = self.ids.local_id(original)
            self.ledger.local.add(original)
            self.record(f"{path}.id", PhiType.ID, RuleAction.TOKENIZE)
            self.doc.coverage.add(f"{path}.id", "contained id: pseudonym", Decision.RULED, "tokenize")
        elif original is not None:
            rule = self.rule([rtype, "id"], [("Resource", ["id"])], None, f"{path}.id")
            if rule is not None and rule.action is not RuleAction.KEEP:
                resource["id"] = self.ids.resource_id(rtype, original)
                self.ledger.pseudonymized.add(f"{rtype}/{original}")
                self.record(f"{path}.id", PhiType.ID, RuleAction.TOKENIZE)
                self.doc.coverage.add(f"{path}.id", f"{self.named(rule)}: tokenize", Decision.RULED, "tokenize")
            else:
                self.ledger.kept_resources.add(f"{rtype}/{original}")
                self.doc.coverage.add(f"{path}.id", "Resource.id: keep", Decision.KEPT, "keep")
        self.owners.append((original, resource.get("id") if original is not None else None))
        for key in list(resource):
            if key in ("resourceType", "id"):
                continue
            self.element(resource, key, rtype, [rtype], [], f"{path}.{key}", depth + 1)
        self.owners.pop()

    def element(
        self,
        container: dict[str, Any],
        key: str,
        model: str,
        res_path: list[str],
        types: list[tuple[str, list[str]]],
        path: str,
        depth: int,
    ) -> None:
        if depth > _MAX_DEPTH:
            raise InvalidFhir(STAGE, f"the resource nests deeper than {_MAX_DEPTH} levels")
        name = key[1:] if key.startswith("_") else key
        found = fhir_model.ElementType("Element", False) if key.startswith("_") else fhir_model.element_type(model, key)
        if found is None or key == "id":  # comments, unknown keys and element ids: never text, dropped
            container[key] = REMOVED
            self.doc.coverage.add(path, "no rule: not text (dropped)", Decision.DROPPED, "drop")
            return
        value = container[key]
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        inner_res = [*res_path, name]
        inner_types = [(t, [*e, name]) for t, e in types]
        for index, item in items:
            holder: Any = value if index is not None else container
            slot: Any = index if index is not None else key
            where = f"{path}[{index}]" if index is not None else path
            if found.name == fhir_model.RESOURCE:
                self.resource(item, where, depth, contained=key == "contained")
            elif found.primitive:
                if found.name in _URI_PRIMITIVES and self.uri_with_identifier(holder, slot, item, model, key, where):
                    continue
                required = found.name == "instant" and fhir_model.is_required(model, key)
                self.primitive(holder, slot, item, found.name, inner_res, inner_types, where, container, required)
            elif isinstance(item, dict):
                self.complex(item, found.name, inner_res, [*inner_types, (found.name, [])], where, depth)
                taken = self.element_substitute(where)
                if taken is not None:
                    holder[slot] = self.substituted(item, taken[1], where, taken[0])

    def complex(
        self,
        item: dict[str, Any],
        type_name: str,
        res_path: list[str],
        types: list[tuple[str, list[str]]],
        path: str,
        depth: int,
    ) -> None:
        if type_name == "Reference" and isinstance(item.get("reference"), str):
            rule = self.rule(
                [*res_path, "reference"], [*types[:-1], ("Reference", ["reference"])], "string", f"{path}.reference"
            )
            self.reference(item, "reference", rule, f"{path}.reference")
        if type_name == "BundleEntry" and isinstance(item.get("fullUrl"), str):
            rule = self.rule([*res_path, "fullUrl"], types, "uri", f"{path}.fullUrl")
            self.reference(item, "fullUrl", rule, f"{path}.fullUrl", full_url=True)
        if type_name in ("BundleEntryRequest", "BundleEntryResponse"):
            self.request(item, path)
        if type_name == "Narrative" and isinstance(item.get("div"), str):
            rule = self.rule([*res_path, "div"], [*types[:-1], ("Narrative", ["div"])], "xhtml", f"{path}.div")
            self.narrative(item, rule, f"{path}.div")
            if item.get("div") is REMOVED:
                item.update(dict.fromkeys(item, REMOVED))
                return
        if type_name == "Attachment" and isinstance(item.get("data"), str):
            rule = self.rule(
                [*res_path, "data"], [*types[:-1], ("Attachment", ["data"])], "base64Binary", f"{path}.data"
            )
            self.attachment(item, rule, f"{path}.data")
        if type_name == "Coding":  # its code is read beside its system as the input has it (keepable)
            self.systems[id(item)] = item.get("system")
        for key in list(item):
            if key in ("reference", "div") and type_name in ("Reference", "Narrative"):
                continue
            if (type_name == "BundleEntry" and key == "fullUrl") or (type_name == "Attachment" and key == "data"):
                continue
            if type_name in ("BundleEntryRequest", "BundleEntryResponse") and key in ("url", "location"):
                continue
            self.element(item, key, type_name, res_path, types, f"{path}.{key}", depth + 1)

    # -- leaves -------------------------------------------------------------------------------------

    def uri_with_identifier(self, holder: Any, slot: Any, value: Any, model: str, key: str, path: str) -> bool:
        """A URI that carries something shaped like an identifier (``.../ssn/536228147``, an email address)
        and is on no allow list: redacted whole (a required one becomes ``urn:phi:redacted``). True when done."""
        if not isinstance(value, str) or is_code_system_url(value) or not identifier_shaped(value):
            return False
        holder[slot] = REDACTED_URI if fhir_model.is_required(model, key) else REMOVED
        self.record(path, PhiType.URL, RuleAction.REDACT)
        self.doc.coverage.add(path, "URI with an identifier-shaped part: redact URL", Decision.RULED, "redact")
        return True

    def primitive(
        self,
        holder: Any,
        slot: Any,
        value: Any,
        primitive: str,
        res_path: list[str],
        types: list[tuple[str, list[str]]],
        path: str,
        parent: dict[str, Any],
        required: bool = False,
    ) -> None:
        if primitive in _DATE_PRIMITIVES and isinstance(value, str) and res_path[-1] not in _BIRTH_ELEMENTS:
            year = FHIR_DATES.year(value)
            if year:
                self.years.append(int(year))
        rule = self.rule(res_path, types, primitive, path)
        if value is None:
            return
        coverage = self.doc.coverage
        if rule is not None and rule.action is RuleAction.SUBSTITUTE and rule.params.get("element") is not None:
            holder[slot] = REMOVED  # the element above it is written whole (or, on a single value, removed)
            self.record(path, rule.phi_type or PhiType.ID, RuleAction.SUBSTITUTE)
            coverage.add(path, f"{self.named(rule)}: substitute (element)", Decision.RULED, "substitute")
            return
        coding = types[-1][0] == "Coding" and res_path[-1] == "code" if types else False
        if (
            rule is not None
            and rule.action is RuleAction.KEEP
            and keepable(value, self.systems.get(id(parent)) if coding else None)
        ):
            coverage.add(path, f"{self.named(rule)}: keep", Decision.KEPT, "keep")
            return
        if rule is None and primitive in _URI_PRIMITIVES and isinstance(value, str) and is_code_system_url(value):
            coverage.add(path, "code-system allow list: keep", Decision.KEPT, "keep")
            return
        if rule is None and primitive == "base64Binary":
            rule = Rule(RuleAction.REDACT, PhiType.ID)
        if rule is None or rule.action in (RuleAction.DETECT, RuleAction.KEEP):
            why = "no rule: detector" if rule is None else f"{self.named(rule)}: {rule.action.value}"
            if rule is not None and rule.action is RuleAction.KEEP:
                why += " (not a code, number or listed URL: detector)"
            coverage.add(path, why, Decision.DETECTED, "detect")
            if isinstance(value, str) and value.strip():
                self.doc.texts.append(TextSlot(path, holder, slot, value))
            elif not isinstance(value, str):  # a number or boolean no rule keeps: not text, dropped
                holder[slot] = REMOVED
            return
        named = self.named(rule)
        if rule.action is RuleAction.REDACT and rule.params:  # partial redaction: by what the leaf is
            rule = replace(rule, phi_type=_partial_type(primitive, res_path[-1], rule.phi_type))
        phi_type = rule.phi_type or PhiType.ID
        if types and types[-1][0] == "ContactPoint" and res_path[-1] == "value":
            phi_type = _CONTACT_TYPES.get(str(parent.get("system", "")), phi_type)
            rule = replace(rule, phi_type=phi_type if rule.action not in _TYPED_ONLY else rule.phi_type)
        numeric = rule.action is RuleAction.PERTURB or (rule.action is RuleAction.GENERALIZE and rule.params)
        numeric = numeric or (phi_type is PhiType.AGE and rule.params.get("partial_ages") is not None)  # an age < 90
        if isinstance(value, (int, float)) and not isinstance(value, bool) and numeric:
            noisy, action = self.protector.protect(str(value), rule, path, FHIR_DATES)
            protected = None if noisy is None else _number(noisy, integer=isinstance(value, int))
        elif not isinstance(value, str):
            protected, action = None, RuleAction.REDACT
        else:
            dates = FHIR_INSTANTS if primitive == "instant" else FHIR_DATES
            protected, action = self.protector.protect(value, rule, path, dates)
            if protected is None and required and rule.action is RuleAction.GENERALIZE:
                year = FHIR_DATES.year(value)  # a required instant cannot be a bare year: its year's first instant
                protected, action = (f"{year}-01-01T00:00:00Z", RuleAction.GENERALIZE) if year else (None, action)
            if action is not RuleAction.KEEP and len(value.strip()) >= 3:
                self.doc.known.append((phi_type, value))
        holder[slot] = REMOVED if protected is None else protected
        if res_path[-1] in _BIRTH_ELEMENTS and protected is not None:
            self.births.append((holder, slot, path))
        self.record(path, phi_type, action)
        coverage.add(path, f"{named}: {rule.describe()}", Decision.RULED, action.value)

    def reference(self, item: dict[str, Any], key: str, rule: Rule | None, path: str, full_url: bool = False) -> None:
        value = item[key]
        pointed = target(value)
        if rule is not None and rule.action is RuleAction.KEEP and keepable(value):
            self.ledger.kept.update([pointed] if pointed else [])
            self.doc.coverage.add(path, f"{self.named(rule)}: keep", Decision.KEPT, "keep")
            return
        if rule is not None and rule.action is RuleAction.REDACT:
            self.ledger.redacted.update([pointed] if pointed else [])
            item[key] = REMOVED
            self.record(path, PhiType.ID, RuleAction.REDACT)
            self.doc.coverage.add(path, f"{self.named(rule)}: redact", Decision.RULED, "redact")
            return
        why = f"{self.named(rule)}: pseudonym" if rule is not None else "no rule: reference pseudonym"
        self.doc.coverage.add(path, why, Decision.RULED, "tokenize")
        replaced = self.ids.reference(value)
        if replaced is None and full_url:
            replaced = self.ids.urn(value)
        item[key] = REMOVED if replaced is None else replaced
        if replaced is not None and pointed:
            self.ledger.pseudonymized.add(pointed)
            self.ledger.written.append((item, key, value))
        self.record(path, PhiType.ID, RuleAction.TOKENIZE if replaced is not None else RuleAction.REDACT)

    def request(self, item: dict[str, Any], path: str) -> None:
        for key in ("url", "location"):
            if isinstance(item.get(key), str):
                replaced = self.ids.request_url(item[key])
                item[key] = REMOVED if replaced is None else replaced
                self.record(f"{path}.{key}", PhiType.ID, RuleAction.TOKENIZE)
                self.doc.coverage.add(f"{path}.{key}", "request url: pseudonym", Decision.RULED, "tokenize")
        for key in ("ifNoneMatch", "ifNoneExist", "ifMatch", "etag"):
            if key in item:
                item[key] = REMOVED
                self.doc.coverage.add(f"{path}.{key}", "request condition: dropped", Decision.DROPPED, "drop")

    def narrative(self, item: dict[str, Any], rule: Rule | None, path: str) -> None:
        """The rendered text of the whole ``div`` as one text (a name split by inline tags is one name),
        its spans mapped back onto the text nodes; ``title``/``alt`` detected; ``href``/``src`` redacted
        as URLs; other attributes kept only from a short list, and only with a code's shape."""
        coverage = self.doc.coverage
        if rule is not None and rule.action is RuleAction.KEEP:
            rule = None  # narrative is text: a "keep" on it is not a code's keep
        div = item["div"]
        if rule is not None and rule.action is RuleAction.REDACT and is_fhirpath(self.named(rule)):
            item["div"] = REMOVED  # a FHIRPath rule redacts the narrative node: all of it goes (Microsoft's way)
            self.record(path, PhiType.NAME, RuleAction.REDACT)
            coverage.add(path, f"{self.named(rule)}: redact", Decision.RULED, "redact")
            return
        if rule is not None and rule.action is not RuleAction.DETECT:
            item["div"] = f'<div xmlns="{XHTML}">[REDACTED]</div>'
            self.record(path, PhiType.NAME, RuleAction.REDACT)
            coverage.add(path, f"{self.named(rule)}: redact", Decision.RULED, "redact")
            return
        if "<!--" in div or "<![" in div or "<?" in div:
            raise InvalidFhir(
                STAGE, f"{_safe_path(path)}: a comment, CDATA section or processing instruction in narrative XHTML"
            )
        try:  # defusedxml refuses any DTD, entity declaration or external reference
            root = defused_fromstring(div, forbid_dtd=True)
        except DefusedXmlException:
            raise InvalidFhir(STAGE, f"{_safe_path(path)}: a DTD or entity in narrative XHTML") from None
        except ET.ParseError:
            raise InvalidFhir(STAGE, f"{_safe_path(path)}: the narrative is not well-formed XHTML") from None
        why = f"{self.named(rule)}: detect" if rule is not None else "no rule: detector"
        joined = JoinedText("")
        state = {"block": False}

        def add(text: str | None, write: Callable[[str], None]) -> None:
            if text:
                joined.add(text, write, "\n" if state["block"] else "")
                state["block"] = False

        def visit(element: ET.Element) -> None:
            inline = _local(element.tag) in _INLINE
            if not inline:
                state["block"] = True
            self.attributes(element, path)
            add(element.text, lambda new, e=element: setattr(e, "text", new))
            for child in element:
                visit(child)
                if _local(child.tag) not in _INLINE:
                    state["block"] = True
                add(child.tail, lambda new, c=child: setattr(c, "tail", new))

        visit(root)
        if joined:
            self.doc.texts.append(joined.slot(f"{path}#text"))
        coverage.add(f"{path}#text", why, Decision.DETECTED, "detect")

        own_id, own_out = self.owners[-1] if self.owners else (None, None)

        def finish() -> None:  # after detection: the ids as the document wrote them (fhir_ids)
            rewrite_narrative(root, self.ledger, own_id, own_out)
            item["div"] = ET.tostring(root, encoding="unicode", short_empty_elements=True)

        self.finishers.append(finish)

    def attributes(self, element: ET.Element, path: str) -> None:
        coverage = self.doc.coverage
        for name in list(element.attrib):
            local = _local(name)
            where = f"{path}@{local}"
            value = element.attrib[name]
            if local in ("title", "alt"):

                def write_attr(new: str, element: ET.Element = element, name: str = name) -> None:
                    element.set(name, new)

                if value.strip():
                    self.doc.texts.append(TextSlot(where, SlotWriter(write_attr), None, value))
                coverage.add(where, "narrative title/alt: detector", Decision.DETECTED, "detect")
            elif local in ("href", "src"):
                del element.attrib[name]
                self.record(where, PhiType.URL, RuleAction.REDACT)
                coverage.add(where, "narrative link: redact URL", Decision.RULED, "redact")
            elif local in _KEPT_ATTRIBUTES and keepable(value):
                coverage.add(where, "narrative attribute allow list: keep", Decision.KEPT, "keep")
            else:
                del element.attrib[name]
                coverage.add(where, "narrative attribute not on the allow list: dropped", Decision.DROPPED, "drop")

    def attachment(self, item: dict[str, Any], rule: Rule | None, path: str) -> None:
        if rule is None or rule.action is RuleAction.KEEP:  # data is never a code: detected or removed
            rule = Rule(RuleAction.DETECT)
        content_type = str(item.get("contentType", "")).lower()
        detected = rule.action is RuleAction.DETECT and content_type.startswith("text/")
        self.doc.coverage.add(
            path,
            f"{self.named(rule)}: {'detect (text)' if detected else 'redact'}",
            Decision.DETECTED if detected else Decision.RULED,
            "detect" if detected else "redact",
        )
        if not detected:
            item["data"] = REMOVED
            for key in ("size", "hash"):
                item.pop(key, None)
            self.record(path, PhiType.PHOTO if content_type.startswith("image/") else PhiType.ID, RuleAction.REDACT)
            return
        try:
            text = base64.b64decode(item["data"], validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise InvalidFhir(STAGE, f"{_safe_path(path)}: a text attachment that is not base64 of UTF-8") from None

        def write(new: str) -> None:
            data = new.encode("utf-8")
            item["data"] = base64.b64encode(data).decode("ascii")
            if "size" in item:
                item["size"] = len(data)
            if "hash" in item:
                item["hash"] = base64.b64encode(hashlib.sha1(data).digest()).decode("ascii")  # noqa: S324 (FHIR's hash)

        if text.strip():
            self.doc.texts.append(TextSlot(path, SlotWriter(write), None, text))

    def record(self, path: str, phi_type: PhiType, action: RuleAction) -> None:
        self.doc.transformations.append(Transformation(path, phi_type.value, action.value))


def _partial_type(primitive: str, element: str, phi_type: PhiType | None) -> PhiType | None:
    """The type a partial redaction treats a leaf as: dates by their primitive, ZIP codes by their element."""
    if primitive in _DATE_PRIMITIVES:
        return PhiType.DATE
    if element == "postalCode":
        return PhiType.ZIP
    return phi_type


def _number(text: str, integer: bool) -> int | float | None:
    """A perturbed or generalized JSON number back in its kind (an integer stays an integer); None if the
    result is not a number."""
    try:
        return round(float(text)) if integer else float(text)
    except ValueError:
        return None


_TYPED_ONLY = frozenset({RuleAction.GENERALIZE, RuleAction.DATE_SHIFT})
#: XHTML elements that do not break a word: their text runs on into the text around them.
_INLINE = frozenset(
    {
        "a",
        "abbr",
        "b",
        "big",
        "cite",
        "code",
        "em",
        "font",
        "i",
        "q",
        "s",
        "small",
        "span",
        "strong",
        "sub",
        "sup",
        "tt",
        "u",
        "var",
        "dfn",
        "kbd",
        "samp",
        "bdo",
    }
)
#: Narrative attributes kept (when their value is a code's shape); every other one is dropped.
_KEPT_ATTRIBUTES = frozenset(
    {
        "class",
        "colspan",
        "rowspan",
        "span",
        "scope",
        "align",
        "valign",
        "width",
        "height",
        "border",
        "lang",
        "dir",
        "cellpadding",
        "cellspacing",
    }
)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _safe_path(path: str) -> str:
    return path if len(path) <= 200 else path[:200] + "..."


def validate(data: dict[str, Any]) -> None:
    """Raise pydantic's ValidationError (or KeyError for an unknown resource type) unless ``data`` is valid R4."""
    fhir_model.model_class(str(data.get("resourceType"))).model_validate(data)


def _errors(exc: ValidationError) -> str:
    locations = sorted(
        {".".join(str(part) for part in err["loc"] if not str(part).startswith("__"))[:120] for err in exc.errors()}
    )
    shown = ", ".join(locations[:5]) or "the resource"
    return f"{exc.error_count()} error(s) against FHIR R4 at {shown}"


def parse(value: bytes) -> dict[str, Any]:
    """The JSON resource in ``value``, validated against R4 (InvalidFhir otherwise)."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidUtf8(STAGE, "FHIR JSON must be UTF-8") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidFhir(STAGE, "the message is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
        raise InvalidFhir(STAGE, "a FHIR message is a JSON object with a resourceType")
    rtype = data["resourceType"]
    if not re.fullmatch(r"[A-Z][A-Za-z]{1,63}", rtype) or not fhir_model.is_model(rtype):
        raise InvalidFhir(STAGE, "resourceType is not a FHIR R4 resource")
    try:
        validate(data)
    except ValidationError as exc:
        raise InvalidFhir(STAGE, f"{rtype} is not valid: {_errors(exc)}") from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise InvalidFhir(STAGE, f"{rtype} is not valid ({type(exc).__name__})") from None
    return data


def _subject(data: dict[str, Any]) -> str:
    resources = [data, *(e.get("resource") for e in data.get("entry", []) if isinstance(e, dict))]
    for resource in resources:
        if isinstance(resource, dict) and resource.get("resourceType") == "Patient" and resource.get("id"):
            return f"Patient/{resource['id']}"
    for resource in resources:
        if isinstance(resource, dict):
            for key in ("subject", "patient"):
                ref = resource.get(key)
                if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
                    return ref["reference"]
    return ""


class FhirProcessor:
    """Protects one FHIR R4 resource or Bundle under a policy's ``fhir`` rules."""

    def __init__(self, rules: FormatRules) -> None:
        self.rules = rules
        self.fhirpath = compile_rules(rules.rules)

    def protect(self, value: bytes, protector: ValueProtector, explain: bool = False) -> ProtectedDocument:
        data = parse(value)
        subject = _subject(data)
        protector.patient_key = subject
        doc = ProtectedDocument(FORMAT_FHIR, f"{FORMAT_FHIR}:{data['resourceType']}", subject, lambda: b"")
        doc.coverage.explain = explain
        doc.codes = classify_codes(codes_in_fhir(data))  # before protection
        walk = _Walk(self.rules, protector, Ids(protector.secret), doc, self.fhirpath)
        walk.resource(data, data["resourceType"], 0)
        walk.ledger.settle()
        doc.known.extend((PhiType.ID, form) for form in walk.ledger.redacted_forms())
        if walk.births:
            reference = max(walk.years, default=datetime.now(UTC).year)  # failing any other date: today
            for holder, slot, path in walk.births:
                year = FHIR_DATES.year(str(holder[slot]))
                if year and reference - int(year) >= 90:
                    holder[slot] = REMOVED  # Safe Harbor: no birth year for a patient aged 90+
                    doc.aged_90_plus = True
                    doc.coverage.amend(path, "Safe Harbor: aged 90 or over (birth year removed)", "redact")

        if explain:  # what render will write absent (FHIR's data-absent-reason), as the rules leave it
            for where in prune(data).absent:
                doc.coverage.note(where, "required element emptied: data-absent-reason", Decision.RULED, "absent")

        def render() -> bytes:
            for finish in walk.finishers:
                finish()
            out = prune(data).value
            if out is REMOVED:
                raise InvalidOutput("emit", "nothing of the resource is left after de-identification")
            try:
                validate(out)
            except ValidationError as exc:
                raise InvalidOutput("emit", f"the de-identified resource is not valid R4: {_errors(exc)}") from None
            return json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

        doc.render = render
        return doc
