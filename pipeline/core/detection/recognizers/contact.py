"""Ways to reach a person: telephone, fax and pager numbers, e-mail, URLs and IP addresses."""

from __future__ import annotations

import re
from collections.abc import Iterator

import phonenumbers

from pipeline.core.detection import checksums
from pipeline.core.detection.base import Cue, Doc, Gate, Pattern, PatternRecognizer, Recognizer
from pipeline.core.detection.recognizers.phone_library import PhoneMatcher
from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span

_EXT = r"(?:\s*(?:x|ext\.?|extension)\s*\d{1,5})?"


class PhoneRecognizer(Recognizer):
    """Telephone numbers in North American and international shapes, typed FAX when 'fax' is the nearest cue.

    Separated NANP numbers are confident on their own; bare ten-digit runs and loosely grouped digits
    (international formats) need a cue such as 'phone', 'call', 'cell' or 'pager'. Google's
    libphonenumber (the ``phonenumbers`` package) adds the numbers its metadata calls valid for the
    region, whatever their grouping ('202 2671093', '201/324/1423'), extension included ('x212').
    """

    name = "phone"
    #: Where a pattern opens with a fixed character, its look-behind follows that character ('\\d(?<!X\\d)'):
    #: the same matches, and the regex engine can skip ahead to the character (see dates._month_digits).
    _patterns = (
        Pattern(
            "nanp",
            re.compile(
                r"(?<![\w+-])(?:\+?1[-.\s]?)?(?:\(\d{3}\)\s?|\d{3}[-.\s])\d{3}[-.\s]\d{4}" + _EXT + r"(?![\w-])"
            ),
            0.7,
            gate=Gate(re.compile(r"\d{3}[-.\s]\d{4}")),
        ),
        Pattern(
            "international",
            re.compile(
                r"(?:\+(?<![\w+]\+)|0(?<![\w+]0)0)\d{1,3}[-.\s]?(?:\(\d{1,4}\)[-.\s]?)?\d{1,4}(?:[-.\s]\d{2,4}){1,4}"
                + _EXT
                + r"(?![\w-])"
            ),
            0.65,
        ),
        Pattern("bare10", re.compile(r"\d(?<![\w.,-]\d)\d{9}(?![\w,-]|\.\d)"), 0.3),
        # A NANP number with one separator dropped ('617555-0142', '617-5550142'), extension and all.
        Pattern(
            "nanp_run_on",
            re.compile(r"\d(?<![\w+.-]\d)(?:\d{5}-\d{4}|\d{2}-\d{7})" + _EXT + r"(?![\w-])"),
            0.55,
        ),
        Pattern("plus_bare", re.compile(r"\+(?<![\w+]\+)\d{8,15}(?![\w-]|\.\d)"), 0.6),
        Pattern(
            "grouped",
            re.compile(r"(?<![\w.,/:+-])\(?\d{2,5}\)?(?:[-.\s]\d{2,8}){1,4}" + _EXT + r"(?![\w/:]|[-.]\d)"),
            0.25,
            gate=Gate(re.compile(r"\d\d\)?[-.\s]\d\d")),
        ),
    )
    _phone_cue = Cue(
        "phone",
        [
            "phone", "ph", "tel", "telephone", "cell", "mobile", "call", "called", "pager", "pgr", "beeper",
            "contact", "reach", "number", "text", "home", "work", "ph#", "phone#", "tel.", "c:", "h:", "w:",
            "desk", "office", "landline", "dial", "sms", "whatsapp", "answering", "messages", "registered",
        ],
        before=40,
    )  # fmt: skip
    _fax_cue = Cue("fax", ["fax", "facsimile", "fx", "fax#", "faxed"], before=40)
    _after = re.compile(r"[ \t]*(?:-|\()?[ \t]*(fax|office|mobile|cell|home|work|desk|pager)\b", re.IGNORECASE)

    #: libphonenumber's region for numbers written without a country code, and its score for a match.
    _region = "US"
    _library_score = 0.7
    #: Candidates libphonenumber may try per text. The busiest development note has 53; the cap keeps a
    #: crafted one ('9/9/9/...', 200,000 characters: 3 s uncapped) to a fraction of a second, past which
    #: the regular expressions above still run.
    _library_tries = 2000

    def find(self, doc: Doc) -> Iterator[Span]:
        for pattern in self._patterns:
            if pattern.gate is not None and not pattern.gate.passes(doc):
                continue
            for match in pattern.regex.finditer(doc.text):
                start, end = match.span()
                digits = checksums.digits_only(match.group(0))
                if not 7 <= len(digits) <= 15 or len(set(digits)) == 1:
                    continue
                span = self._score(doc, start, end, pattern.name, pattern.score)
                if span is not None:
                    yield span
        yield from self._library_matches(doc)

    def _library_matches(self, doc: Doc) -> Iterator[Span]:
        matcher = PhoneMatcher(
            doc.text, self._region, leniency=phonenumbers.Leniency.VALID, max_tries=self._library_tries
        )
        for match in matcher:
            start, end = match.start, match.end
            if not self._phone_shaped(doc.text, start, end):
                continue
            if doc.text[start] == "(" and ")" not in doc.text[start:end]:
                start += 1  # '(201/324/1423)': the bracket opens the aside, not the area code
            span = self._score(doc, start, end, "libphonenumber", self._library_score)
            if span is not None:
                yield span

    @staticmethod
    def _phone_shaped(text: str, start: int, end: int) -> bool:
        """False for a bare digit run, an IPv4 address, and slash-joined lab values that libphonenumber
        reads as numbers: a blood gas
        ('7.34/41/104/23', '70/57/7.33/31/1') has decimals or more than two slashes, or continues past
        the match with another slash."""
        raw = text[start:end]
        if raw.isdigit() or checksums.ipv4_valid(raw):
            return False  # a bare run is the 'bare10' pattern's to weigh; a dotted quad is an address
        if raw.count("/") > 2 or ("/" in raw and "." in raw):
            return False
        return not (text[start - 1 : start] == "/" or text[end : end + 1] == "/")

    def _score(self, doc: Doc, start: int, end: int, name: str, base: float) -> Span | None:
        reasons = [f"pattern:{name}"]
        score = base
        phone = self._phone_cue.nearest_before(doc, start)
        fax = self._fax_cue.nearest_before(doc, start)
        phi_type = PhiType.PHONE
        after = self._after.match(doc.text, end)
        if after is not None:
            word = after.group(1).lower()
            reasons.append(f"context:{word}")
            return self.span(start, end, PhiType.FAX if word == "fax" else PhiType.PHONE, score + 0.4, reasons)
        if fax is not None and (phone is None or fax[0] <= phone[0]):
            phi_type = PhiType.FAX
            reasons.append(f"context:{fax[1]}")
            score += 0.4
        elif phone is not None:
            reasons.append(f"context:{phone[1]}")
            score += 0.4
        return self.span(start, end, phi_type, score, reasons)


class EmailRecognizer(PatternRecognizer):
    """E-mail addresses."""

    def __init__(self) -> None:
        super().__init__(
            "email",
            PhiType.EMAIL,
            [
                Pattern(
                    "email",
                    re.compile(
                        r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
                    ),
                    0.95,
                    gate=Gate(re.compile("@")),
                )
            ],
        )


_TLDS = (
    "com|org|net|edu|gov|mil|int|info|biz|io|health|care|clinic|hospital|medical|us|uk|ca|au|de|fr|es|nl|se|"
    "ch|dk|fi|no|pl|pt|cz|ee|cy|jp|cn|ru|br|mx|nz|ie|be|at|it"
)


#: Top-level domains that a bare name ('example.com') is enough for; a country code or a vanity domain
#: needs a path or a sub-domain ('nhs.uk/x', 'www.x.no'), since notes join sentences without a space
#: ('plan.pt', 'output.no', 'night.at').
_GENERIC_TLDS = frozenset("com org net edu gov mil int info biz io health clinic hospital medical".split())


def _is_web_address(value: str) -> bool:
    host, _, path = value.partition("/")
    labels = host.split(".")
    if any(label.isdigit() for label in labels[:-1]):
        return False  # 'inr=1.3.no'
    return bool(path) or labels[-1].lower() in _GENERIC_TLDS or len(labels) >= 3


class UrlRecognizer(Recognizer):
    """Web addresses with a scheme or 'www.', and bare domains: a generic top-level domain ('.com', '.org'),
    or a country code with a path or a sub-domain."""

    name = "url"
    _scheme = re.compile(r"(?i)\b(?:https?|ftp)://[^\s<>\"'()\[\]]+|\bwww\.[^\s<>\"'()\[\]]+")
    _bare = re.compile(
        rf"(?<![\w@.-])[A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*\.(?:{_TLDS})(?:/[^\s<>\"']*)?(?![\w@-])"
    )
    _trailing = ".,;:!?)'\""
    #: A scheme's '://' or 'www.'; a dot, a top-level domain, then a path or the end of the address.
    _gates = (Gate(words=("://", "www.")), Gate(re.compile(rf"\.(?:{_TLDS})(?:/|(?![\w@-]))")))

    def find(self, doc: Doc) -> Iterator[Span]:
        for regex, name, score, gate in (
            (self._scheme, "url_scheme", 0.9, self._gates[0]),
            (self._bare, "domain", 0.6, self._gates[1]),
        ):
            if not gate.passes(doc):
                continue
            for match in regex.finditer(doc.text):
                start, end = match.span()
                while end > start and doc.text[end - 1] in self._trailing:
                    end -= 1
                if regex is self._bare and (
                    doc.text[start:end].count(".") == 0 or not _is_web_address(doc.text[start:end])
                ):
                    continue
                span = self.span(start, end, PhiType.URL, score, [f"pattern:{name}"])
                if span is not None:
                    yield span


def _ipv4_check(value: str) -> tuple[str, float] | None:
    return ("valid:ipv4", 0.0) if checksums.ipv4_valid(value) else None


def _ipv6_check(value: str) -> tuple[str, float] | None:
    if value.count(":") < 2 or (not any(c.isalpha() for c in value) and value.count(":") < 4):
        return None  # clock times such as 10:30:00 are not addresses
    return ("valid:ipv6", 0.0) if checksums.ipv6_valid(value) else None


class Ipv4Recognizer(PatternRecognizer):
    """Dotted-quad IPv4 addresses with every octet in range; 'version' nearby lowers the score."""

    def __init__(self) -> None:
        super().__init__(
            "ipv4",
            PhiType.IP,
            [Pattern("ipv4", re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)"), 0.75)],
            validator=_ipv4_check,
            context=Cue("ip", ["ip", "ip address", "address", "host", "server", "from", "login"]),
            context_boost=0.15,
            negative=Cue("version", ["version", "ver", "v", "release", "build"], before=15),
            negative_factor=0.4,
        )


class Ipv6Recognizer(PatternRecognizer):
    """IPv6 addresses, full or compressed, validated by the standard library parser."""

    def __init__(self) -> None:
        super().__init__(
            "ipv6",
            PhiType.IP,
            [Pattern("ipv6", re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"), 0.8)],
            validator=_ipv6_check,
        )


_PAGER_CUE = r"(?<![a-z])(?:pager|pgr|pg|p|beeper|bpr|beep|paged?(?:\s+at)?)\s{0,2}(?:no\.?|num(?:ber)?)?[:\s]{0,3}"
_PAGER_NUMBER = r"(?P<num>#?(?:\d{4,5}|\d-\d{4}|\d{2}-\d{3}))(?![\w/.-])"


class PagerRecognizer(PatternRecognizer):
    """Pager numbers after a short cue ('pg 41772', 'P#2-3456', 'beeper #14490'): too short for a phone
    shape, so only the cue says what they are."""

    def __init__(self) -> None:
        super().__init__(
            "pager",
            PhiType.PHONE,
            [
                Pattern(
                    "pager_cue",
                    re.compile(f"(?i:{_PAGER_CUE}){_PAGER_NUMBER}"),
                    0.75,
                    "num",
                    lowered=re.compile(_PAGER_CUE + _PAGER_NUMBER),
                )
            ],
        )
