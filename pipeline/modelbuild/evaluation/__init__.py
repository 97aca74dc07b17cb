"""Evaluation of detectors on labelled corpora: loaders, scoring, reports."""

from pipeline.modelbuild.evaluation.corpus import CorpusError, Document, GoldSpan
from pipeline.modelbuild.evaluation.loaders import FORMATS, load_corpus
from pipeline.modelbuild.evaluation.report import format_table, write_missed
from pipeline.modelbuild.evaluation.scoring import Counts, Scores, score_corpus

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
