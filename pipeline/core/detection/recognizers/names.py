"""Person names found through the words around them: titles, credentials, relations, field labels.

Rules cannot know every name, so they only fire where the context says a name follows ('Dr.', 'seen by',
'husband', 'Patient:') or precedes ('..., RN'). Candidate tokens that are ordinary words (a stop list
covering all-caps nursing shorthand) are trimmed, so 'DTR MARY AT BEDSIDE' yields only 'MARY'.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType

from pipeline.core.detection.base import (
    Doc,
    Gate,
    Recognizer,
    by_first_letter,
    case_counts,
    matches_at,
    words_not_after,
)
from pipeline.core.detection.lexicons import Lexicons, lexicons
from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span

UP = "A-ZÀ-ÖØ-Þ"
LO = "a-zß-öø-ÿ"
WORD = rf"(?:Mc|Mac|O'|O\u2019|D'|De|Di|Da|La|Le|Van|Von)?[{UP}][{LO}]+(?:['\u2019][{UP}]?[{LO}]+)?(?:-[{UP}][{LO}]+)?"
INITIAL = rf"[{UP}]\."
MIXED = rf"(?:{INITIAL}\s?)?{WORD}(?:[ \t]+(?:{INITIAL}|{WORD})){{0,2}}"
CAPS = rf"[{UP}]{{2,}}(?:['-][{UP}]{{2,}})?"
CAPS_NAME = rf"(?:[{UP}]\.?\s)?{CAPS}(?:[ \t]+{CAPS}){{0,2}}"
#: CAPS_NAME not after a word character or a dot, the look-behind after the first capital (see Pattern):
#: '(?:[UP]\.?\s)?[UP]{2,}...' with that capital taken out of both branches.
_CAPS_NAME_NOT_AFTER_WORD = (
    rf"[{UP}](?<![\w.][{UP}])(?:\.?\s[{UP}]{{2,}}|[{UP}]+)(?:['-][{UP}]{{2,}})?(?:[ \t]+{CAPS}){{0,2}}"
)
#: A clinician's credential after a name ('Lee, MD', 'Ann Ho RN').
_CREDENTIAL = (
    r"(?:MD|M\.D\.|DO|D\.O\.|RN|NP|PA-C|LPN|CNA|PharmD|DDS|DMD|PhD|"
    r"MSW|LCSW|RD|DPT|CRNA|FNP|APRN|FNP-BC|MBBS|BSN|MSN|DNP|ARNP|CNM|RPh|RT|RRT)(?![\w])"
)
LOWER_NAME = rf"[{LO}]{{2,}}(?:[ \t]+[{LO}]{{2,}})?"


#: Words that look like names by case but are not (checked upper-cased).
STOPWORDS: frozenset[str] = frozenset(
    """
    A AN AND OR BUT AT IN ON TO FOR WITH FROM BY OF OFF AS IS WAS ARE WERE BE BEEN BEING HAS HAD HAVE WILL
    WOULD CAN COULD SHOULD MAY MIGHT MUST NOT NO YES HE SHE HIS HER HIM HERS THEY THEM THEIR WE US OUR I ME MY
    YOU YOUR IT ITS THIS THAT THESE THOSE HERE THERE WHO WHOM WHAT WHEN WHERE WHY HOW ALL ANY SOME NONE BOTH
    EACH THE PATIENT PATIENTS PT PTS FAMILY HOME TODAY TOMORROW YESTERDAY NOW THEN ALSO STILL AGAIN BEDSIDE
    VISITED VISITING VISIT CALLED CALLING PRESENT AWARE UPDATED NOTIFIED REPORTS REPORTED STATES STATED SAYS
    SAID AGREES AGREED WANTS WANTED HOSPITAL CLINIC CENTER CENTRE MEDICAL DEPARTMENT DEPT UNIT FLOOR ROOM ER
    ED ICU MICU SICU CCU NICU PICU PACU OR CARDIOLOGY NEUROLOGY ONCOLOGY RADIOLOGY SURGERY MEDICINE PHARMACY
    NURSING SOCIAL WORK WORKER SERVICE SERVICES TEAM STAFF PCP MD DO RN NP PA LPN CNA DR MR MRS MS MISS MX
    PROF MONDAY TUESDAY WEDNESDAY THURSDAY FRIDAY SATURDAY SUNDAY JANUARY FEBRUARY MARCH APRIL JUNE JULY
    AUGUST SEPTEMBER OCTOBER NOVEMBER DECEMBER NORMAL STABLE UNKNOWN NEGATIVE POSITIVE FOLLOW UP CHECK PLAN
    HISTORY ASSESSMENT NOTE NOTES PLEASE THANKS THANK HELLO HI DEAR SINCERELY REGARDS GOOD FINE WELL BETTER
    WORSE SICK SORE TIRED OK OKAY SURE JUST VERY GOING WRITING LOOKING TRYING HAPPY SORRY CONCERNED WORRIED
    ABLE UNABLE DOING FEELING FEEL FELT PAIN FEVER CHEST ABD HEENT NEURO RESP CV GI GU MSK SKIN PSYCH EXAM
    LABS LAB VITALS VS HR RR BP SPO2 TEMP WT HT IV PO PRN BID TID QID QD QHS NPO DNR DNI FULL CODE STAT
    ADMIT ADMITTED DISCHARGE DISCHARGED TRANSFER TRANSFERRED CONSULT CONSULTED SEEN EVALUATED RECOMMEND
    RECOMMENDS RECOMMENDED DISCUSSED SPOKE CONTACT CONTACTED PHONE CALL EMAIL MESSAGE ASKED REQUEST
    REQUESTED INSURANCE NURSE DOCTOR PHYSICIAN SURGEON RESIDENT ATTENDING FELLOW INTERN PROVIDER CARE
    CASE MANAGER MANAGEMENT EMERGENCY PRIMARY SECONDARY OFFICE NEW OLD LEFT RIGHT BILATERAL ACUTE CHRONIC
    HUSBAND WIFE SON DAUGHTER MOTHER FATHER BROTHER SISTER DTR HUSB FRIEND GUARDIAN CAREGIVER SPOUSE
    PARTNER REFUSED DECLINED GIVEN GAVE TOLD INFORMED EXPLAINED UNDERSTANDS VERBALIZED AMBULATING
    SLEEPING RESTING EATING WALKING TAKING NEEDS NEED WILL WITHOUT NIGHT DAY MORNING EVENING SHIFT
    OVERNIGHT NEXT LAST FIRST SECOND THIRD NAME NAMED WHICH ABOUT ONLY OTHER ANOTHER SAME SUCH THAN TOO
    AFTER BEFORE SINCE UNTIL DURING OVER UNDER WHILE IF SO ENGLISH SPANISH INTERPRETER GROUP OUTSIDE
    PER VIA RE FYI CC ATTN SUBJECT DATE TIME MRN DOB SSN ID ACCT
    """.split()
)

#: Tokens that make a capitalised phrase an organisation, place or street rather than a person.
NOT_PERSON: frozenset[str] = frozenset(
    """
    INC LLC LTD CORP CORPORATION CO COMPANY TECHNOLOGIES TECHNOLOGY SOLUTIONS ASSOCIATES GROUP ORCHESTRA
    WEEKLY DAILY SYSTEMS PARTNERS UNIVERSITY COLLEGE INSTITUTE BANK INSURANCE SERVICES FOUNDATION
    REPUBLIC KINGDOM STATES ISLANDS AFRICA AMERICA EUROPE ASIA COUNTY CITY TOWN VILLAGE PORT MOUNT LAKE
    STREET ST AVENUE AVE ROAD RD DRIVE DR LANE LN BOULEVARD BLVD WAY COURT CT PLACE PL TERRACE PARK
    PARKWAY LOOP MALL PASS RADIAL TURNPIKE GATEWAY COVES COVE UNION RAPID RAPIDS EXTENSIONS EXTENSION
    SQUARE PLAZA TRAIL HIGHWAY CLUB OPUS INSIGHT IMPULSE HOSPITAL CLINIC CENTER PHARMACY LABS
    MG ML TABLET TABLETS CAPSULE CAPSULES EXTRA STRENGTH
    """.split()
)

#: Words that are also common given or family names. Right after a title or a relation ('Dr. May',
#: 'Wife April', 'Dr. Park') in Title Case they are names, so the stop lists do not trim them there.
NAME_WORDS: frozenset[str] = frozenset(
    """
    APRIL MAY JUNE AUGUST CASE DAY ENGLISH GOOD LANE PARK WILL HOPE GRACE JOY FAITH DAWN ROSE BILL MARK
    HUNTER KING YOUNG LONG WHITE BLACK BROWN GREEN STONE HILL BELL WELLS PRICE FRANK CHASE SUMMER
    """.split()
)
#: Cue families strong enough that a Title-Case name word after them is a name.
_STRONG_CUES = frozenset({"title", "relation", "clinician_cue", "field"})

_STRIP = " \t,.;:'\u2019-"
#: After a credential, words that make it a role in front of something else rather than a name's suffix.
_ROLE_BEFORE_NAME = re.compile(
    r",?[ \t]+(?:MD|M\.D\.|RN|NP|PA|DO)\.?[ \t]+(?i:aware|notified|called|paged|informed|updated|in|to|at|cough"
    r"|suction\w*|o2|[a-z]+ing|[A-Z][a-z]+|[A-Z]{2,})\b"
)
_TITLES = frozenset({"DR", "DRS", "MR", "MRS", "MS", "MISS", "MX", "PROF", "DOCTOR"})
#: Roles whose letters are also clinical words ('PA line', 'NP suctioned', 'pa sats', 'HO aware').
_AMBIGUOUS_ROLES = frozenset({"pa", "np", "ho"})


def _first_and_surname(candidate: str) -> bool:
    """'BEA TURA': a Census first name, then a word that is no everyday or clinical word."""
    lex = lexicons()
    first, last = candidate.split()[0], candidate.split()[-1].strip("'-")
    return (
        lex.first_names.get(first.lower(), 0.0) > 0.0
        and lex.is_name_first(first)
        and not lex.is_vocabulary(last)
        and not lex.is_clinical(last)
    )


def _name_after_ambiguous_role(candidate: str) -> bool:
    """After 'PA', 'NP' or 'HO' a name is written in Title Case ('np Chen') or is a Census name first."""
    first = candidate.split()[0].strip(_STRIP) if candidate.split() else ""
    if not first:
        return False
    if first[0].isupper() and first[1:].islower():
        return True
    return lexicons().is_name_first(first)


class NameRecognizer(Recognizer):
    """Names introduced or followed by clinical context; each cue family has its own score."""

    name = "name"
    _patterns: tuple[tuple[str, re.Pattern[str], float], ...] = (
        (
            "title",
            # 'Ms. Pham', and 'Ms. PHAM' (a surname in capitals after a Title-Case title, as charts write it).
            re.compile(
                words_not_after(["Drs", "Dr", "Mr", "Mrs", "Ms", "Mx", "Miss", "Prof", "Doctor", "Sr", "Sister", "Rev"])
                + r"\.?[ \t]+"
                rf"(?P<name>{MIXED}|{CAPS_NAME})"
            ),
            0.85,
        ),
        (
            "title_caps",
            re.compile(
                words_not_after(["DR", "MR", "MRS", "MS", "MX", "MISS", "PROF"]) + rf"\.?[ \t]+(?P<name>{CAPS_NAME})"
            ),
            0.8,
        ),
        (
            # Nursing shorthand: 'PT HALL RESTING IN BED', 'PT REED AMBULATED'; the verb makes the word a name.
            "patient_caps",
            re.compile(
                words_not_after(["PT", "PATIENT"])
                + rf"[ \t]+(?P<name>{CAPS_NAME})[ \t]+(?:RESTING|SLEEPING|AMBULATED|AMBULATING|"
                r"TOLERATED|TOLERATING|REPORTS|STATES|DENIES|COMPLAINS|AWAKE|ALERT|SEEN|VOIDED|REFUSED|"
                r"REQUESTED|DISCHARGED|TRANSFERRED|ADMITTED)(?![\w])"
            ),
            0.75,
        ),
        (
            # 'Drs. Lee and Okafor', 'DR SMITH AND JONES': the second surname after one title.
            "title_pair",
            re.compile(
                words_not_after(["Drs", "DRS", "drs", "Dr", "DR", "dr"])
                + rf"\.?[ \t]+(?:{WORD}|{CAPS})[ \t]*(?:and|AND|&|/)[ \t]*"
                rf"(?P<name>{WORD}|{CAPS})(?![\w])"
            ),
            0.75,
        ),
        (
            "credential",
            re.compile(rf"(?<![\w.])(?P<name>{MIXED}),?[ \t]+{_CREDENTIAL}"),
            0.8,
        ),
        (
            "credential_caps",
            re.compile(rf"(?P<name>{_CAPS_NAME_NOT_AFTER_WORD}),?[ \t]+(?:MD|RN|NP|PA-C|LPN|CNA|CRNA|RRT)(?![\w])"),
            0.7,
        ),
        (
            # 'PER J. MORANTI', 'd. renna and j. o'brien', 'q. lander rrt': an initial and a surname, in the
            # note's own case, after a cue or before a credential.
            "initial_surname",
            re.compile(
                r"(?:(?<![\w])(?i:per|by|with|and|to|called|paged|notified)[ \t]+|\()[ \t]*"
                rf"(?P<name>[{UP}]\.[ \t]?[{UP}][{UP}'-]{{2,20}}|[a-z]\.[ \t]?[a-z][a-z'-]{{2,20}})(?![\w])"
                r"|(?<![\w.])(?P<before>[a-z]\.[ \t]?[a-z][a-z'-]{2,20})[ \t]+(?:rn|rrt|md|np|lpn|cna)\b"
            ),
            0.75,
        ),
        (
            # 'DANA PELLEGRINO CALLED', 'BEA TURA AWARE': a Census first name and a surname in capitals, then
            # a verb clinicians are the subject of.
            "caps_first_last",
            re.compile(
                rf"(?P<name>[{UP}](?<![\w.][{UP}])[{UP}]{{1,14}}[ \t]+[{UP}][{UP}'-]{{1,20}})[ \t]+"
                r"(?:AWARE|CALLED|NOTIFIED|PAGED|UPDATED|INFORMED|IN\s+TO|HERE|VISITED|SAW|SEEN|AT\s+BEDSIDE"
                r"|AND\s+DRS?|AND\s+[A-Z]{2,}\s+(?:AWARE|CALLED|NOTIFIED))\b"
            ),
            0.75,
        ),
    )
    #: Cue-led patterns: the cue is found in the lower-cased text (much faster than case-insensitive
    #: matching), then the name is matched, case-sensitively, in the original text right after it.
    _cued: tuple[tuple[str, re.Pattern[str], re.Pattern[str], float], ...] = (
        (
            "clinician_cue",
            re.compile(
                r"\b(?:(?:seen|examined|evaluated|signed|e-signed|dictated|cosigned|co-signed|reviewed|"
                r"transcribed|referred|accompanied|brought\s+in|authored|written|verified|performed|read|"
                r"interpreted)\s+by|discussed\s+with|d/w|spoke\s+with|spoke\s+to|care\s+of|attending|"
                r"attending\s+physician|resident|pcp|primary\s+care(?:\s+physician|\s+provider)?|provider|"
                r"surgeon|physician|nurse|therapist|case\s+manager|social\s+worker|emergency\s+contact|"
                r"next\s+of\s+kin|nok|guarantor|author|signed)\b\s*:?[ \t]*"
                # 'cc' and 'contact' are a unit and an instruction ('500 CC BOLUS', 'CONTACT PRECAUTIONS')
                # unless a colon makes them a field.
                r"|\b(?:contact|cc)\s*:[ \t]*"
            ),
            re.compile(rf"{MIXED}|{CAPS_NAME}"),
            0.75,
        ),
        (
            "field",
            re.compile(
                r"\b(?:patient|pt|patient\s+name|name|full\s+name|legal\s+name|preferred\s+name|alias|aka|"
                r"mother's\s+name|father's\s+name|spouse|signature|from|to|attn)\s*:[ \t]*"
            ),
            re.compile(rf"{MIXED}|{CAPS_NAME}"),
            0.8,
        ),
        (
            "salutation",
            re.compile(r"\b(?:dear|hi|hello|hey|sincerely|regards|thanks|thank\s+you|best|cheers|love),?[ \t]+"),
            re.compile(MIXED),
            0.6,
        ),
        (
            "relation",
            re.compile(
                r"\b(?:husband|wife|spouse|son|daughter|dtr|dau|mother|mom|father|dad|brother|sister|sibling|"
                r"partner|boyfriend|girlfriend|fianc[e\u00e9]e?|grandson|granddaughter|grandmother|grandfather|"
                r"grandma|grandpa|niece|nephew|aunt|uncle|cousin|friend|neighbou?r|caregiver|guardian|husb|"
                r"stepson|stepdaughter|roommate)(?:'s)?(?:\s+named|\s+is|,)?[ \t]*:?[ \t]*"
            ),
            re.compile(rf"{MIXED}|{CAPS_NAME}"),
            0.75,
        ),
        (
            # 'wife mary', 'dtr susan called': lower-case first names after a kinship word; the ensemble's
            # vetting drops what is an ordinary word ('wife supportive').
            "relation_lower",
            re.compile(
                r"\b(?:husband|wife|son|daughter|dtr|dau|mother|mom|father|dad|brother|sister|niece|nephew|"
                r"grandson|granddaughter|friend|hcp|husb)[ \t]+"
            ),
            re.compile(rf"[{LO}]{{2,20}}(?![\w])"),
            0.55,
        ),
        (
            # 'per md Lee', 'np chen aware', 'paged ho Jones': a clinician's role, then the surname.
            "role",
            re.compile(
                r"\b(?:per|d/w|paged|called|notified|by)?[ \t]*"
                r"(?P<role>md|dr|np|pa|ho|resident|fellow|attending)\.?[ \t]+"
            ),
            re.compile(rf"{MIXED}|{CAPS_NAME}|[{LO}]{{2,20}}(?![\w])"),
            0.55,
        ),
        (
            "self_intro",
            re.compile(r"\b(?:my\s+name\s+is|my\s+name's|name\s+is|named|call\s+me|goes\s+by)[ \t]+"),
            re.compile(rf"{MIXED}|{CAPS_NAME}|{LOWER_NAME}"),
            0.75,
        ),
        (
            "speech",
            re.compile(r"\b(?:said|asked|told|replied|wrote|thanked|called|texted|emailed|met|visited)[ \t]+"),
            re.compile(MIXED),
            0.6,
        ),
        (
            "weak_intro",
            re.compile(r"\b(?:i\s+am|i'm|this\s+is|it's|with|and|from|for|to)[ \t]+"),
            re.compile(MIXED),
            0.3,
        ),
    )
    #: Where a cue of the cue-led patterns but weak_intro (whose words are everywhere) starts: one zero-width
    #: scan in place of eight, its cues grouped by first letter (:func:`by_first_letter`), after which each
    #: pattern is tried only there (:func:`matches_at`).
    _cue_starts = re.compile(
        "(?=" + by_first_letter(cue.pattern for name, cue, _, _ in _cued if name != "weak_intro") + ")"
    )

    #: Gates (a part every match holds) of slow patterns: the credential after a space, the initial, its
    #: dot and the three letters after it in the same case (the dot first, so the scan skips to one).
    _gates: Mapping[str, Gate] = MappingProxyType(
        {
            "credential": Gate(re.compile(rf"[ \t]{_CREDENTIAL}")),
            "credential_caps": Gate(re.compile(r"[ \t](?:MD|RN|NP|PA-C|LPN|CNA|CRNA|RRT)(?![\w])")),
            "initial_surname": Gate(
                re.compile(rf"\.(?:(?<=[{UP}]\.)[ \t]?[{UP}][{UP}'-]{{2}}|(?<=[a-z]\.)[ \t]?[a-z][a-z'-]{{2}})")
            ),
        }
    )

    #: Patterns every match of which holds a capital ([UP]: a title, a credential, a WORD or CAPS name),
    #: and those every match of which holds a lower-case letter ([LO]: 'Dr', a WORD): skipped in a note
    #: without one (all-lower-case and all-capital notes are common in ICU charts).
    _needs_capital = frozenset(
        {
            "title", "title_caps", "patient_caps", "title_pair", "credential", "credential_caps", "caps_first_last",
            "clinician_cue", "field", "salutation", "relation", "speech", "weak_intro",
        }
    )  # fmt: skip
    _needs_lower = frozenset({"title", "credential", "salutation", "speech", "weak_intro", "relation_lower"})

    def _possible(self, name: str, lowers: int, uppers: int) -> bool:
        return (uppers > 0 or name not in self._needs_capital) and (lowers > 0 or name not in self._needs_lower)

    def find(self, doc: Doc) -> Iterator[Span]:
        text = doc.text
        _, lowers, uppers = case_counts(text)
        for name, regex, score in self._patterns:
            gate = self._gates.get(name)
            if not self._possible(name, lowers, uppers) or (gate is not None and not gate.passes(doc)):
                continue
            for match in regex.finditer(text):
                group = "before" if "before" in regex.groupindex and match.group("before") else "name"
                if name == "caps_first_last" and not _first_and_surname(match.group("name")):
                    continue
                span = self._candidate(text, name, score, *match.span(group))
                if span is not None:
                    yield span
        starts: list[int] | None = None
        for name, cue, name_regex, score in self._cued:
            if not self._possible(name, lowers, uppers):
                continue
            if name == "weak_intro":
                matches = cue.finditer(doc.lower)
            else:
                if starts is None:
                    starts = [found.start() for found in self._cue_starts.finditer(doc.lower)]
                matches = matches_at(cue, doc.lower, starts)
            for match in matches:
                found = name_regex.match(text, match.end())
                if found is None:
                    continue
                if "role" in cue.groupindex and match.group("role") in _AMBIGUOUS_ROLES:
                    if not _name_after_ambiguous_role(text[found.start() : found.end()]):
                        continue
                span = self._candidate(text, name, score, *found.span(), cued=True)
                if span is not None:
                    yield span

    def _candidate(
        self, text: str, name: str, score: float, raw_start: int, raw_end: int, cued: bool = False
    ) -> Span | None:
        """Trim stop words, apply the per-pattern checks and build the span (None when rejected).

        After a cue the name must come first: a stop word trimmed from the front ('WIFE AND NEICE', 'SON
        PRESENT') means the cue was followed by something else, unless it is a title ('seen by DR SMITH')."""
        strong = name in _STRONG_CUES
        bounds = _trim(text, raw_start, raw_end, keep_name_words=strong)
        if bounds is None:
            return None
        start, end = bounds
        if cued and start > raw_start:
            skipped = text[raw_start:start].split()
            if skipped and any(w.strip(_STRIP).upper() not in _TITLES for w in skipped):
                return None
        final = score
        tokens = text[start:end].split()
        if any(t.upper().strip(".,") in NOT_PERSON and not (strong and _is_name_word(t)) for t in tokens):
            return None
        if name.startswith("credential") and _ROLE_BEFORE_NAME.match(text, raw_end):
            return None  # 'SWALLOWING MD AWARE', 'FEBRILE NP JEN AWARE': the credential starts what follows
        if name == "weak_intro":
            if not _looks_like_full_name(tokens):
                return None
            final += 0.25
        return self.span(start, end, PhiType.NAME, final, [f"pattern:{name}"])


def _looks_like_full_name(tokens: list[str]) -> bool:
    """Two or three capitalised tokens, none a stop word: 'John Smith' but not 'Tylenol Extra'."""
    return 2 <= len(tokens) <= 3 and all(
        t[0].isupper() and t.upper().strip(".,") not in STOPWORDS and t.upper().strip(".,") not in NOT_PERSON
        for t in tokens
    )


def _trim(text: str, start: int, end: int, keep_name_words: bool = False) -> tuple[int, int] | None:
    """Drop stop words and punctuation from both ends of a candidate; None if nothing name-like is left.

    With ``keep_name_words`` (after a strong cue) a Title-Case word that is also a name is kept.
    """
    tokens = [(m.start() + start, m.end() + start) for m in re.finditer(r"\S+", text[start:end])]

    def stop(token: str) -> bool:
        return _is_stop(token) and not (keep_name_words and _is_name_word(token))

    while tokens and stop(text[tokens[0][0] : tokens[0][1]]):
        tokens.pop(0)
    cut = len(tokens)
    for index, (s, e) in enumerate(tokens):
        if stop(text[s:e]):
            cut = index
            break
    tokens = tokens[:cut]
    if not tokens:
        return None
    begin, finish = tokens[0][0], tokens[-1][1]
    while finish > begin and text[finish - 1] in _STRIP:
        finish -= 1
    if finish - begin < 2 or not any(c.isalpha() for c in text[begin:finish]):
        return None
    return begin, finish


def _is_stop(token: str) -> bool:
    return token.strip(_STRIP).upper() in STOPWORDS


def _is_name_word(token: str) -> bool:
    """'May' (Title Case, a known name word) but not 'MAY' or 'may'."""
    word = token.strip(_STRIP)
    return len(word) > 1 and word[0].isupper() and word[1:].islower() and word.upper() in NAME_WORDS


#: Words after an eponym that make it a disease, sign, device or scale rather than a person.
_EPONYM_NEXT = re.compile(
    r"['\u2019]?s?[ \t]+(?i:disease|syndrome|sign|test|catheter|line|tube|drain|score|scale|criteria|maneuver|"
    r"procedure|fracture|classification|murmur|lymphoma|sarcoma|palsy|reflex|phenomenon|type|class|units?|"
    r"filter|shunt|reservoir|incision|pouch|nodes?|spots|lesions|esophagus|thyroiditis|contracture)\b"
)
_TITLE_WORD = re.compile(r"(?<![\w'\u2019-])[^\W\d_a-z][^\W\d_A-Z]+(?:-[^\W\d_a-z][^\W\d_A-Z]+)?(?![\w-])")
_INITIAL_BETWEEN = re.compile(r"[ \t]+(?:[A-Z]\.?[ \t]+)?")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n\"“(]\s*|\n\s*[-*#]\s*)$")


class LexiconNameRecognizer(Recognizer):
    """Capitalised words that the Census name lists say are names first ('Jensen', 'Mette Holm'), in
    mixed-case text only, where capitals mean something; all-capital and all-lower-case notes are left to
    the model and the cue-led patterns.

    A run of such words (an initial allowed between them) is one span and scores higher; a lone word at
    the start of a sentence scores lowest, so it needs the model's agreement. An eponym before 'disease',
    'sign' or 'catheter' is not a person.
    """

    name = "name_lexicon"
    _mixed_floor = 0.3

    def find(self, doc: Doc) -> Iterator[Span]:
        text = doc.text
        letters, lowers, _ = case_counts(text)
        if not letters or lowers < self._mixed_floor * letters:
            return
        lex = lexicons()
        words = [m for m in _TITLE_WORD.finditer(text) if _is_lexicon_name(lex, m.group(0))]
        index = 0
        while index < len(words):
            run = [words[index]]
            while index + 1 < len(words) and _INITIAL_BETWEEN.fullmatch(text, run[-1].end(), words[index + 1].start()):
                index += 1
                run.append(words[index])
            index += 1
            start, end = run[0].start(), run[-1].end()
            if _EPONYM_NEXT.match(text, end):
                continue
            if len(run) == 1 and lex.is_clinical(run[0].group(0)):
                continue  # a device or drug named after a person ('Swan', 'Foley', 'Hickman') standing alone
            if len(run) > 1:
                score = 0.7
            elif _SENTENCE_START.search(text, max(0, start - 3), start):
                score = 0.35
            else:
                score = 0.5
            span = self.span(start, end, PhiType.NAME, score, [f"lexicon:census-names:{len(run)}"])
            if span is not None:
                yield span


def _is_lexicon_name(lex: Lexicons, word: str) -> bool:
    parts = word.split("-")
    return all(lex.is_name_first(p) and not lex.is_vocabulary(p, as_written=True) for p in parts)
