"""The width-pruned detector's build steps (issue 29): the shipped int8 weights read back exactly, and a
pruned model computes what the full one computes with the cut heads and neurons silenced."""

import re
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from onnx import numpy_helper  # noqa: E402

from pipeline.modelbuild.prune import Plan, PruneError, _nodes, _Windows, dequantized_state  # noqa: E402

DETECTOR = Path(__file__).resolve().parents[2] / "models" / "detector"


def test_dequantized_weights_quantize_back_to_the_shipped_int8_values():
    """Each int8 matrix, dequantized and quantized again with its own scales and zero points, is the same
    int8 matrix: the trainable copy starts from exactly the shipped numbers."""
    graph = onnx.load(str(DETECTOR / "model_quantized.onnx")).graph
    values = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    state = dequantized_state(DETECTOR)
    checked = 0
    for node in _nodes(graph):
        if node.op_type != "MatMulInteger":
            continue
        base = node.input[1].removesuffix("_quantized")
        module = node.name.strip("/").removesuffix("/MatMul_quant").replace("/", ".")
        again = np.round(state[module + ".weight"].T / values[base + "_scale"]) + values[node.input[3]]
        assert np.array_equal(again.astype(np.int64), values[node.input[1]].astype(np.int64)), module
        checked += 1
    layers = 1 + max(int(k.split(".encoder.layer.")[1].split(".")[0]) for k in state if ".encoder.layer." in k)
    assert checked == 6 * layers + 1  # q, k, v, attention output, two feed-forward per layer; the classifier
    assert state["bert.embeddings.word_embeddings.weight"].shape == (30522, 384)


def test_missing_training_windows_say_which_step_makes_them(tmp_path):
    with pytest.raises(PruneError, match="run the 'teach' step first"):
        _Windows(tmp_path)


def _tiny_model(seed: int = 5):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(seed)
    config = transformers.BertConfig(
        vocab_size=50,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=32,
        num_labels=5,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        attn_implementation="eager",
    )
    return transformers.BertForTokenClassification(config).eval()


def test_a_pruned_model_is_the_full_one_with_the_cut_parts_silenced():
    torch = pytest.importorskip("torch")
    from pipeline.modelbuild.prune import prune

    full = _tiny_model()
    pruned = _tiny_model()
    rng = np.random.default_rng(2)
    heads = rng.random((2, 2))
    neurons = [rng.random(16) for _ in range(2)]
    prune(pruned, heads, neurons, Plan(heads=1, ffn=6))
    size = 32
    with torch.no_grad():
        for i, layer in enumerate(full.bert.encoder.layer):
            cut_head = int(np.argmin(heads[i]))
            layer.attention.output.dense.weight[:, cut_head * size : (cut_head + 1) * size] = 0
            cut = np.argsort(-neurons[i], kind="stable")[6:]
            layer.output.dense.weight[:, torch.from_numpy(cut)] = 0
    ids = torch.randint(0, 50, (3, 12))
    mask = torch.ones_like(ids)
    assert pruned.config.intermediate_size == 6
    assert all(layer.attention.self.num_attention_heads == 1 for layer in pruned.bert.encoder.layer)
    with torch.no_grad():
        expected = full(input_ids=ids, attention_mask=mask).logits
        got = pruned(input_ids=ids, attention_mask=mask).logits
    assert torch.allclose(expected, got, atol=1e-5)


def test_prune_refuses_widths_the_model_does_not_have():
    pytest.importorskip("torch")
    from pipeline.modelbuild.prune import prune

    model = _tiny_model()
    with pytest.raises(PruneError, match=re.escape("keep 1..2 heads and 1..16 neurons")):
        prune(model, np.ones((2, 2)), [np.ones(16), np.ones(16)], Plan(heads=3, ffn=8))


def test_the_model_card_names_a_pruned_model_and_how_it_was_made():
    import json

    from pipeline.modelbuild.card import render

    report = json.loads((DETECTOR / "report.json").read_text(encoding="utf-8"))
    plain = render(report)
    pruning = {
        **Plan().__dict__,
        "steps": 2232,
        "final_loss": 0.00905,
        "seconds": 2969.9,
        "windows": 17836,
        "hardware": "2 CPU cores",
        "torch": "2.13.0+cpu",
        "notes": ["Candidates tried: none else."],
    }
    card = render({**report, "pruning": pruning})
    assert "pruned to 8 heads and 768 feed-forward neurons a layer" in card.splitlines()[0]
    assert "pruned to" not in plain.splitlines()[0]
    assert "keeps 8 of 12 attention heads and 768 of 1,536 feed-forward neurons" in card
    assert "2232 steps of 32" in card and "49 min on 2 CPU cores" in card
    assert "  Candidates tried: none else." in card
    assert "mean squared distance" not in card
    assert "+ 1 x the mean squared distance of each layer's output" in render(
        {**report, "pruning": {**pruning, "hidden_weight": 1.0}}
    )
