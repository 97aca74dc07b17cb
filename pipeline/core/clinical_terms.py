"""The clinical entities a summary can state: drugs, diagnoses and procedures, laterality.

What a summary may say is bounded by what its note says, entity by entity, so the guard needs to know which
words are entities. Sources, all shipped as data so the worker needs no extra package:

- drugs: the shipped drug dictionary (``drug-named-entity-recognition``, in the detector's lexicons), one-word
  names that are not everyday English words ('iron', 'oxygen' are left to the numbers and doses checks);
- diagnoses and findings: ICD-10-CM description words (:mod:`pipeline.modelbuild.clinical_vocabulary`);
- procedures: words with a procedure's ending ('-ectomy', '-ostomy', '-plasty', '-scopy', '-centesis' ...);
- ICU shorthand for diagnoses and procedures (:data:`SHORTHAND`), which no maintained list spells the way
  nurses write it; its expansions double as the generator's glossary.

A word of the summary counts as in the note when the note has the same word, or, for words of seven letters
or more, one with the same first six letters ('intubated' / 'intubation', 'pneumonias' / 'pneumonia'), or
when the note has shorthand whose expansion holds it ('AFIB' supports 'atrial fibrillation'). Pure.
"""

from __future__ import annotations

import gzip
import re
from functools import cache
from pathlib import Path

from pipeline.core.detection.lexicons import lexicons
from pipeline.core.errors import PipelineError

DATA_DIR = Path(__file__).parent / "summary_data"
TERM_FILE = "diagnosis_terms.txt.gz"

#: ICU shorthand for diagnoses and procedures, with what it stands for (also the generator's glossary).
SHORTHAND: dict[str, str] = {
    "afib": "atrial fibrillation", "raf": "rapid atrial fibrillation", "vfib": "ventricular fibrillation",
    "vtach": "ventricular tachycardia", "svt": "supraventricular tachycardia", "nsr": "normal sinus rhythm",
    "mi": "myocardial infarction", "nstemi": "non-ST-elevation myocardial infarction",
    "stemi": "ST-elevation myocardial infarction", "chf": "congestive heart failure", "cad": "coronary artery disease",
    "copd": "chronic obstructive pulmonary disease", "ards": "acute respiratory distress syndrome",
    "pna": "pneumonia", "pnx": "pneumonia", "pe": "pulmonary embolism", "dvt": "deep vein thrombosis",
    "cva": "stroke", "tia": "transient ischaemic attack", "sah": "subarachnoid haemorrhage",
    "ich": "intracranial haemorrhage", "gib": "gastrointestinal bleed", "ugib": "upper GI bleed",
    "arf": "acute renal failure", "aki": "acute kidney injury", "crf": "chronic renal failure",
    "ckd": "chronic kidney disease", "esrd": "end-stage renal disease", "dka": "diabetic ketoacidosis",
    "uti": "urinary tract infection", "dic": "disseminated intravascular coagulation", "ams": "altered mental status",
    "sbo": "small bowel obstruction", "etoh": "alcohol", "mrsa": "methicillin-resistant S. aureus",
    "vre": "vancomycin-resistant enterococcus", "cabg": "coronary artery bypass graft",
    "pci": "percutaneous coronary intervention", "ptca": "coronary angioplasty", "picc": "PICC line",
    "peg": "gastrostomy tube", "tee": "transoesophageal echo", "tte": "transthoracic echo",
    "egd": "upper endoscopy", "ercp": "ERCP", "mri": "MRI", "cath": "catheterization",
    "iabp": "intra-aortic balloon pump", "cvvh": "continuous haemofiltration", "cvvhd": "continuous haemodialysis",
    "cvvhdf": "continuous haemodiafiltration", "hd": "haemodialysis", "trach": "tracheostomy",
    "xrt": "radiation therapy", "dnr": "do not resuscitate", "dni": "do not intubate", "cmo": "comfort measures only",
    "ama": "against medical advice", "tpn": "parenteral nutrition", "bipap": "BiPAP", "cpap": "CPAP",
}  # fmt: skip
#: Endings that make a word a procedure ('laparotomy', 'tracheostomy', 'angioplasty', 'bronchoscopy').
PROCEDURE_SUFFIXES: tuple[str, ...] = (
    "ectomy", "otomy", "ostomy", "oplasty", "oscopy", "ography", "opexy", "orrhaphy", "centesis", "ectomies",
)  # fmt: skip
#: A drug-dictionary word this common in English is not taken as a drug on its own.
_DRUG_COMMON_ZIPF = 4.0
_WORD_RE = re.compile(r"[a-z][a-z'-]*[a-z]|[a-z]")
_SIDES = {
    "left": "left", "l": "left", "lt": "left", "right": "right", "r": "right", "rt": "right",
    "bilateral": "bilateral", "bilat": "bilateral", "bilaterally": "bilateral", "b/l": "bilateral",
}  # fmt: skip
_SIDE_RE = re.compile(r"(?<![\w/])(left|right|bilateral(?:ly)?|bilat|b/l|lt|rt|l|r)(?![\w/])\s+([a-z]{3,})", re.I)
_PREFIX = 6


class VocabularyMissingError(PipelineError):
    """The shipped diagnosis vocabulary is missing or unreadable: the install is incomplete."""


@cache
def diagnosis_terms() -> frozenset[str]:
    """The shipped ICD-10-CM vocabulary (loaded once per process)."""
    path = DATA_DIR / TERM_FILE
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return frozenset(line.strip() for line in handle if line.strip())
    except OSError as exc:
        raise VocabularyMissingError(
            f"diagnosis vocabulary {path} is missing or unreadable ({type(exc).__name__}); reinstall the package "
            "or run 'phi-pipeline model summary-vocabulary'"
        ) from exc


@cache
def _drug_words() -> frozenset[str]:
    common = lexicons().common_words
    return frozenset(
        d for d in lexicons().drugs if " " not in d and len(d) >= 4 and common.get(d, 0.0) < _DRUG_COMMON_ZIPF
    )


def words(text: str) -> list[str]:
    """Lower-case words of ``text`` (placeholders such as ``[NAME]`` give 'name', which no vocabulary holds)."""
    return _WORD_RE.findall(text.lower())


def drugs_in(text: str) -> set[str]:
    """Words of ``text`` that the drug dictionary names."""
    vocabulary = _drug_words()
    return {w for w in words(text) if w in vocabulary}


def conditions_in(text: str) -> set[str]:
    """Words of ``text`` that name a diagnosis, finding or procedure (vocabulary, shorthand, endings)."""
    vocabulary = diagnosis_terms()
    return {w for w in words(text) if w in vocabulary or w in SHORTHAND or w.endswith(PROCEDURE_SUFFIXES)}


class SourceWords:
    """The words of a source note, for asking whether a summary's word is the note's."""

    def __init__(self, source: str) -> None:
        self._words = set(words(source))
        # the note's shorthand stands for its expansion too: 'afib' supports 'atrial fibrillation'
        self._words.update(w for s in self._words & SHORTHAND.keys() for w in words(SHORTHAND[s]))
        self._prefixes = {w[:_PREFIX] for w in self._words if len(w) >= _PREFIX}
        self._sides = laterality_in(source)

    def has(self, word: str) -> bool:
        word = word.lower()
        return word in self._words or (len(word) >= _PREFIX + 1 and word[:_PREFIX] in self._prefixes)

    def has_side(self, pair: tuple[str, str]) -> bool:
        side, target = pair
        return any(s == side and (t == target or (len(t) > _PREFIX and t[:_PREFIX] == target[:_PREFIX]))
                   for s, t in self._sides)  # fmt: skip


def laterality_in(text: str) -> set[tuple[str, str]]:
    """(side, the word after it) pairs: 'L groin', 'right leg', 'bilat bases' -> ('left', 'groin'), ..."""
    return {(_SIDES[m[1].lower()], m[2].lower()) for m in _SIDE_RE.finditer(text)}
