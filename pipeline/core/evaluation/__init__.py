"""Evaluation of detectors on labelled corpora: loaders, scoring, reports."""

from pipeline.core.evaluation.corpus import CorpusError, Document, GoldSpan
from pipeline.core.evaluation.loaders import FORMATS, load_corpus
from pipeline.core.evaluation.report import format_table, write_missed
from pipeline.core.evaluation.scoring import Counts, Scores, score_corpus

__all__ = [
    "FORMATS",
    "CorpusError",
    "Counts",
    "Document",
    "GoldSpan",
    "Scores",
    "format_table",
    "load_corpus",
    "score_corpus",
    "write_missed",
]
