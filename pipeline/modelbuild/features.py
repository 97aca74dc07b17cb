"""From notes with gold character spans to token windows with BIO label ids, as the runtime will see them.

Tokenization is the ``tokenizers`` fast tokenizer from ``tokenizer.json``, the same file and the same
calls as :class:`pipeline.runtime.onnx_recognizer.OnnxTokenClassifier`, so training windows and
inference windows are cut identically. Labels are given per pre-tokenized word (the runtime averages
sub-word probabilities per word): every sub-word of a word carries the word's label, 'B-' on the first
word of a span and 'I-' on the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tokenizers import Encoding, Tokenizer

from pipeline.modelbuild.corpus import CorpusSpan
from pipeline.modelbuild.labels import OUTSIDE, label_ids


@dataclass(frozen=True, slots=True)
class Window:
    """One training or evaluation example: token ids with [CLS]/[SEP] and a label id per token."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]


class LabelledText(Protocol):
    """A note with gold spans: a synthetic :class:`~pipeline.modelbuild.corpus.Note` or a site's note."""

    @property
    def text(self) -> str: ...

    @property
    def spans(self) -> Sequence[CorpusSpan]: ...


def load_tokenizer(path: Path) -> Tokenizer:
    """The fast tokenizer without truncation or padding (windows are cut here, padding is per batch)."""
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def word_labels(enc: Encoding, spans: Sequence[CorpusSpan]) -> list[str]:
    """A BIO tag per token: the tag of the word it belongs to, decided by the word's first character."""
    ordered = sorted(spans, key=lambda s: s.start)
    tags: list[str] = []
    word_tag = OUTSIDE
    last_word: int | None = None
    for index, word in enumerate(enc.word_ids):
        if word is None or word != last_word or index == 0:
            start = enc.offsets[index][0]
            word_tag = OUTSIDE
            for span in ordered:
                if span.start <= start < span.end:
                    prefix = "B" if start == span.start else "I"
                    word_tag = f"{prefix}-{span.type.value}"
                    break
                if span.start > start:
                    break
        tags.append(word_tag)
        last_word = word
    return tags


def windows_for(enc: Encoding, tags: list[str], tokenizer: Tokenizer, max_length: int, stride: int) -> list[Window]:
    """Overlapping windows of at most ``max_length`` tokens including [CLS] and [SEP]."""
    ids = label_ids()
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    body = max_length - 2
    step = body - stride
    out: list[Window] = []
    start = 0
    n = len(enc.ids)
    while n:
        end = min(start + body, n)
        token_ids = (cls_id, *enc.ids[start:end], sep_id)
        labels = (-100, *(ids[t] for t in tags[start:end]), -100)
        out.append(Window(token_ids, labels))
        if end >= n:
            break
        start += step
    return out


def encode_notes(notes: Sequence[LabelledText], tokenizer: Tokenizer, max_length: int, stride: int) -> list[Window]:
    """All windows of all notes, in note order."""
    encodings = tokenizer.encode_batch([n.text for n in notes], add_special_tokens=False)
    windows: list[Window] = []
    for note, enc in zip(notes, encodings, strict=True):
        windows.extend(windows_for(enc, word_labels(enc, note.spans), tokenizer, max_length, stride))
    return windows
