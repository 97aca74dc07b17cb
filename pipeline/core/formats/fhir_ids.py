"""FHIR resource ids and references: keyed pseudonyms, what one document did with each, and the same ids
written in its narrative.

A resource id, a ``Reference.reference``, a ``Bundle.entry.fullUrl`` and a request url are replaced by
keyed pseudonyms of the original (``Patient/123`` becomes ``Patient/<32 hex>`` in the resource and in every
reference to it; ``urn:uuid:`` stays a UUID; a contained resource's id and the ``#id`` that refers to it get
one local pseudonym). :class:`IdLedger` records, for one document, which ids were kept, pseudonymized or
redacted, so that a ``fullUrl`` or reference pointing at a resource whose id a ``keep`` rule kept is written
with that id (one id, one form in the document), and so that the narrative can be made to agree.

A narrative (``text.div``) often repeats those ids: a generated one writes ``id: 23`` and links
``Patient/23``. After the narrative's text has been through the detector, :func:`rewrite_narrative` replaces,
in its text nodes and ``title``/``alt`` attributes, the forms that can only be ids:

- ``Type/id`` (a FHIR type name, optionally after a base URL and with ``/_history/n``): written as the
  document wrote that resource's id or a reference to it; not named in the document, it is pseudonymized
  alike when its id has a digit (``Observation/123``, not ``Condition/Diagnosis``);
- ``urn:uuid:...``: as the document wrote it, else pseudonymized;
- ``#id`` where ``id`` is a contained resource's id in the document;
- the resource's own id standing as a whole token, right after an ``id:`` label (``<b>id</b>: 23``, the
  way FHIR's generated narratives write it) or anywhere when the id is distinctive (a digit and a letter or
  ``-``/``.``, four characters or more; or seven digits or more). A short number (``23``) or a word
  (``example``) elsewhere in the text is not taken for the id.

A target the document redacted (and nowhere kept or pseudonymized) is not rewritten here: its ``Type/id`` is
given to the detector as a known value of the record before detection (:meth:`IdLedger.redacted_forms`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from pipeline.core.formats import fhir_model

PSEUDONYM_BASE = "https://deidentified.invalid/fhir"
REF = re.compile(
    r"^(?:(?P<base>https?://\S+?)/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?P<hist>/_history/\S+)?$"
)
UUID_URN = re.compile(r"^urn:uuid:(?P<uuid>[0-9a-fA-F-]{36})$")
_ID = r"[A-Za-z0-9](?:[A-Za-z0-9\-.]{0,62}[A-Za-z0-9])?"
_HEX = "[0-9a-fA-F]"
_FORMS = re.compile(
    rf"(?P<urn>urn:uuid:{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}})"
    rf"|(?<![\w/.\-])(?P<ref>(?:https?://[^\s<>\"']+?/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>{_ID})"
    rf"(?:/_history/{_ID})?)(?![\w\-/])"
    rf"|(?<![\w&#])#(?P<local>{_ID})(?![\w\-])"
)
_LABEL = re.compile(r"(?:^|[^\w])id\s*[:=]\s*[\"']?$", re.IGNORECASE)
_DISTINCTIVE = re.compile(r"(?=.*\d)(?=.*[A-Za-z\-.]).{4,}|\d{7,}")
_CONTEXT = 24  # characters of the text before a node that an ``id:`` label is looked for in


def _pseudonym(secret: bytes, kind: str, value: str) -> bytes:
    return hmac.new(secret, f"fhir-id\x1f{kind}\x1f{value}".encode(), hashlib.sha256).digest()


@dataclass
class Ids:
    """Keyed pseudonyms for ids and references: the same original always gets the same pseudonym."""

    secret: bytes = field(repr=False)

    def resource_id(self, resource_type: str, value: str) -> str:
        return _pseudonym(self.secret, resource_type, value).hex()[:32]

    def local_id(self, value: str) -> str:
        """A contained resource's id (referred to as ``#id``)."""
        return _pseudonym(self.secret, "#contained", value).hex()[:32]

    def urn(self, value: str) -> str:
        return f"urn:uuid:{uuid.UUID(bytes=_pseudonym(self.secret, 'urn', value.lower())[:16])}"

    def reference(self, value: str) -> str | None:
        """``Patient/123`` -> ``Patient/<pseudonym>``; ``urn:uuid:..`` -> another UUID; ``#x`` kept; else None."""
        if value.startswith("#"):
            return "#" + self.local_id(value[1:]) if len(value) > 1 else value
        match = UUID_URN.match(value)
        if match:
            return self.urn(match["uuid"])
        match = REF.match(value)
        if match and fhir_model.is_model(match["type"]):
            pseudonym = f"{match['type']}/{self.resource_id(match['type'], match['id'])}"
            return f"{PSEUDONYM_BASE}/{pseudonym}" if match["base"] else pseudonym
        return None

    def request_url(self, value: str) -> str | None:
        """A Bundle request url: ``Type/id`` pseudonymized, ``Type`` kept, a query dropped to its type."""
        head = value.split("?", 1)[0]
        if re.fullmatch(r"[A-Z][A-Za-z]+", head):
            return head
        return self.reference(head)


def target(value: str) -> str | None:
    """The resource a reference or fullUrl points at, as ``Type/id`` (or the ``urn:uuid:``, lower case)."""
    match = UUID_URN.match(value)
    if match:
        return f"urn:uuid:{match['uuid'].lower()}"
    match = REF.match(value)
    return f"{match['type']}/{match['id']}" if match else None


@dataclass
class IdLedger:
    """What one document did with each id it holds, by target (``Type/id`` or ``urn:uuid:...``)."""

    ids: Ids
    #: targets whose resource id (or a reference to them) was kept as it is
    kept: set[str] = field(default_factory=set)
    #: targets a reference or fullUrl to was pseudonymized, or whose resource id was
    pseudonymized: set[str] = field(default_factory=set)
    #: targets a reference or fullUrl to was redacted
    redacted: set[str] = field(default_factory=set)
    #: contained resources' original ids
    local: set[str] = field(default_factory=set)
    #: resource ids kept by a rule, by target: a reference to one is written with it
    kept_resources: set[str] = field(default_factory=set)
    #: (holder, key, original) of every reference or fullUrl pseudonymized, for :meth:`settle`
    written: list[tuple[dict[str, object], str, str]] = field(default_factory=list)

    def settle(self) -> int:
        """After the walk: a reference or fullUrl pointing at a resource of the document whose id was kept is
        written with that id (its base, if any, the pseudonym base), so that it still resolves. The count."""
        changed = 0
        for holder, key, original in self.written:
            match = REF.match(original)
            if match is None or target(original) not in self.kept_resources:
                continue
            kept = f"{match['type']}/{match['id']}"
            holder[key] = f"{PSEUDONYM_BASE}/{kept}" if match["base"] else kept
            changed += 1
        return changed

    def redacted_forms(self) -> list[str]:
        """Targets redacted wherever the document holds them (never kept nor pseudonymized): the detector is
        given them as known values of the record."""
        return sorted(self.redacted - self.kept - self.pseudonymized - self.kept_resources)

    def narrative_form(self, match: re.Match[str]) -> str | None:
        """What an id form found in a narrative is written as (None: left as it is)."""
        if match["urn"]:
            urn = match["urn"].lower()
            return None if urn in self.kept or urn in self.redacted_forms() else self.ids.urn(urn[9:])
        if match["local"]:
            return "#" + self.ids.local_id(match["local"]) if match["local"] in self.local else None
        wanted = f"{match['type']}/{match['id']}"
        if not fhir_model.is_model(match["type"]) or wanted in self.kept or wanted in self.kept_resources:
            return None
        if wanted not in self.pseudonymized and (wanted in self.redacted or not any(c.isdigit() for c in wanted)):
            return None
        return self.ids.reference(match["ref"])


def rewrite_narrative(root: ET.Element, ledger: IdLedger, own_id: str | None, own_out: str | None) -> int:
    """Replace the id forms in a parsed narrative's text nodes and ``title``/``alt`` attributes (see the module
    docstring); ``own_id``/``own_out`` are the resource's original id and what it was written as. The count."""
    own = re.compile(rf"(?<![\w\-./#]){re.escape(own_id)}(?![\w\-/])") if own_id and own_id != own_out else None
    distinctive = own_id is not None and _DISTINCTIVE.fullmatch(own_id) is not None
    count = 0
    before = ""

    def fix(text: str) -> str:
        nonlocal count
        pieces: list[str] = []
        last = 0
        for match in _FORMS.finditer(text):
            new = ledger.narrative_form(match)
            if new is not None:
                pieces += [text[last : match.start()], new]
                last = match.end()
                count += 1
        text = "".join(pieces) + text[last:]
        if own is None:
            return text
        out: list[str] = []
        last = 0
        for match in own.finditer(text):
            if distinctive or _LABEL.search((before + text[: match.start()])[-_CONTEXT:]):
                out += [text[last : match.start()], str(own_out)]
                last = match.end()
                count += 1
        return "".join(out) + text[last:]

    def visit(element: ET.Element) -> None:
        nonlocal before
        for name in list(element.attrib):
            if name.rsplit("}", 1)[-1] in ("title", "alt"):
                element.set(name, fix(element.attrib[name]))
        if element.text:
            element.text = fix(element.text)
            before = (before + " " + element.text)[-_CONTEXT:]
        for child in element:
            visit(child)
            if child.tail:
                child.tail = fix(child.tail)
                before = (before + child.tail)[-_CONTEXT:]

    visit(root)
    return count
