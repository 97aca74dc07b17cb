"""A tiny token-classification ONNX model and WordPiece tokenizer, built from scratch without torch.

It exists so the runtime (windows, batching, offsets, decoding, providers) can be tested and
benchmarked before the fine-tuned model lands: each vocabulary entry maps to fixed logits through a
Gather, so the 'model' labels known name and hospital words and nothing else. Needs the ``onnx``
package (a development dependency), imported only when a model is built.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

from pipeline.core.errors import ConfigError

LABELS = ("O", "B-PATIENT", "I-PATIENT", "B-HOSPITAL", "I-HOSPITAL")
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")
#: word -> label index in LABELS; everything else in the vocabulary is 'O'.
TAGGED = {
    "john": 1, "jane": 1, "mary": 1, "smith": 2, "doe": 2, "patel": 2, "lee": 2, "##son": 2,
    "mercy": 3, "general": 4, "hospital": 4,
}  # fmt: skip
PLAIN = (
    "the", "patient", "was", "seen", "by", "at", "on", "and", "in", "to", "for", "with", "is", "a", "of",
    "pain", "chest", "today", "admitted", "discharged", "home", ".", ",", ":", "-", "dr", "mr", "jack",
)  # fmt: skip


def tiny_vocab() -> dict[str, int]:
    """Token -> id: specials first, then tagged and plain words."""
    words = [*SPECIALS, *TAGGED, *PLAIN]
    return {word: index for index, word in enumerate(words)}


def build_tiny_tokenizer() -> Tokenizer:
    """A lower-casing WordPiece tokenizer with BERT pre-tokenization and [CLS] ... [SEP] around each text."""
    vocab = tiny_vocab()
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))  # noqa: S106
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    return tokenizer


def build_tiny_model(out_dir: Path, *, max_length: int = 128, stride: int = 8, quantized: bool = False) -> Path:
    """Write model.onnx (or model_quantized.onnx), tokenizer.json and labels.json into ``out_dir``."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise ConfigError("building the tiny test model needs the 'onnx' package: pip install onnx") from None
    vocab = tiny_vocab()
    table = np.full((len(vocab), len(LABELS)), -4.0, dtype=np.float32)
    table[:, 0] = 4.0
    for word, label in TAGGED.items():
        table[vocab[word], 0] = -4.0
        table[vocab[word], label] = 4.0
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["scores"], axis=0),
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "axes"], ["mask_3d"]),
        helper.make_node("Mul", ["scores", "mask_3d"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_token_classifier",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "sequence", len(LABELS)])],
        initializer=[numpy_helper.from_array(table, "table"), numpy_helper.from_array(np.array([2], np.int64), "axes")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="phi-pipeline-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out_dir / ("model_quantized.onnx" if quantized else "model.onnx")))
    build_tiny_tokenizer().save(str(out_dir / "tokenizer.json"))
    labels = {"id2label": {str(i): label for i, label in enumerate(LABELS)}, "max_length": max_length, "stride": stride}
    (out_dir / "labels.json").write_text(json.dumps(labels, indent=2), encoding="utf-8")
    return out_dir
