"""Build the summary guard's vocabulary of diagnoses and findings from ICD-10-CM, a maintained source.

Written once by ``phi-pipeline model summary-vocabulary`` and committed as
``pipeline/core/summary_data/diagnosis_terms.txt.gz`` (one word a line), with ``SOURCES.json`` beside it;
the worker reads the file and never needs the source package. Source: ``simple-icd-10-cm`` 1.5.0 (MIT),
which ships the CDC's ICD-10-CM tabular list (public domain). Every word of four or more letters of every
code's description is a candidate; a word that is common in everyday English (``wordfreq`` Zipf 4.3 or more:
'left', 'other', 'heart', 'pain', 'accident') is left out unless the supplement below names it, and the
classification's own wording ('unspecified', 'sequela', 'encounter') is left out always.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import json
import re

from pipeline.core.clinical_terms import DATA_DIR, TERM_FILE
from pipeline.core.detection.lexicons import lexicons

#: Everyday-frequency words that name a diagnosis or a serious finding: kept although common.
COMMON_DIAGNOSES: tuple[str, ...] = tuple(
    """
    cancer brain infection failure disease diseases disorder arrest attack depression anxiety pregnancy
    suicide virus tumor stroke injury injuries fracture shock trauma abuse alcohol burn bleeding seizure
    surgery transplant dementia fever overdose
    """.split()
)
#: ICD-10-CM's classification wording: never a clinical statement of its own.
ICD_WORDING: frozenset[str] = frozenset(
    """
    unspecified specified classified elsewhere sequela encounter initial subsequent nondisplaced displaced
    routine healing delayed nonunion malunion episode category superficial contact stated without
    involving
    """.split()
)
COMMON_ZIPF = 4.3


def diagnosis_terms() -> list[str]:
    """The vocabulary, sorted."""
    import simple_icd_10_cm as icd  # the models extra; imported only for the build

    common = lexicons().common_words
    words: set[str] = set()
    for code in icd.get_all_codes():
        words.update(re.findall(r"[a-z]{4,}", icd.get_description(code).lower()))
    kept = {w for w in words if common.get(w, 0.0) < COMMON_ZIPF} | set(COMMON_DIAGNOSES)
    return sorted(kept - ICD_WORDING)


def build_vocabulary() -> dict[str, object]:
    """Write the vocabulary and its SOURCES.json; returns the sources record."""
    terms = diagnosis_terms()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(DATA_DIR / TERM_FILE, "wb", mtime=0) as handle:
        handle.write(("\n".join(terms) + "\n").encode("utf-8"))
    sources = {
        "diagnosis_terms": {
            "package": "simple-icd-10-cm",
            "version": importlib.metadata.version("simple-icd-10-cm"),
            "licence": "MIT (code); ICD-10-CM tabular list, CDC (public domain)",
            "entries": len(terms),
            "rule": f"description words of 4+ letters with wordfreq Zipf < {COMMON_ZIPF}, plus "
            f"{len(COMMON_DIAGNOSES)} common diagnosis words, less {len(ICD_WORDING)} classification words",
        }
    }
    (DATA_DIR / "SOURCES.json").write_text(json.dumps(sources, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return sources
