"""A seeded synthetic clinical corpus with gold PHI spans, for training and testing the detector model.

Ten styles (terse all-caps nursing and ICU notes, discharge summaries, radiology and pathology reports,
referral letters, medication lists, telephone encounters, patient-portal messages with typos,
registration and case-management notes), every PHI type, and many hard negatives. Templates and PHI
value pools are split into a training family and a held-out family, so scores on the held-out split
measure generalization to unseen sentence shapes and unseen names, not memory.

Pure: no I/O except :func:`write_jsonl`, no third-party packages; same seed, same corpus.
"""

from pipeline.modelbuild.corpus.generator import Note, as_documents, generate, generate_note, jsonl_lines, write_jsonl
from pipeline.modelbuild.corpus.lexicon import Split
from pipeline.modelbuild.corpus.render import CorpusSpan

__all__ = [
    "CorpusSpan", "Note", "Split", "as_documents", "generate", "generate_note", "jsonl_lines", "write_jsonl",
]  # fmt: skip
