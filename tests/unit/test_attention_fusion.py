"""Attention fusion of the detector graph (issue 29): same outputs, padded or not, re-runnable, and shipped."""

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from pipeline.modelbuild.attention_fusion import AttentionFusionError, fuse_attention  # noqa: E402
from pipeline.runtime.providers import create_session  # noqa: E402

HIDDEN, HEADS, VOCAB, LABELS = 8, 2, 30, 3
SHIPPED = Path(__file__).resolve().parents[2] / "models" / "detector" / "model_quantized.onnx"


def _attention_model(path: Path, seed: int = 3) -> Path:
    """One encoder attention block written as the optimum export writes it (reshape, transpose, scale q and
    k by the fourth root of the head size, add the padding mask, softmax, transpose and reshape back)."""
    rng = np.random.default_rng(seed)
    size = HIDDEN // HEADS
    weights = {
        "embedding": rng.normal(size=(VOCAB, HIDDEN)),
        "classifier": rng.normal(size=(HIDDEN, LABELS)),
        "heads_shape": np.array([0, -1, HEADS, size], dtype=np.int64),
        "merged_shape": np.array([0, -1, HIDDEN], dtype=np.int64),
        "root_scale": np.array(size**-0.25, dtype=np.float32),
        "one": np.array(1.0, dtype=np.float32),
        "mask_min": np.array(np.finfo(np.float32).min, dtype=np.float32),
        "mask_axes": np.array([1, 2], dtype=np.int64),
    }
    nodes = [helper.make_node("Gather", ["embedding", "input_ids"], ["hidden"])]
    for name in ("q", "k", "v"):
        weights[f"w_{name}"] = rng.normal(size=(HIDDEN, HIDDEN)) / 3
        weights[f"b_{name}"] = rng.normal(size=HIDDEN) / 3
        perm = [0, 2, 3, 1] if name == "k" else [0, 2, 1, 3]
        nodes += [
            helper.make_node("MatMul", ["hidden", f"w_{name}"], [f"{name}_mm"]),
            helper.make_node("Add", [f"b_{name}", f"{name}_mm"], [f"{name}_proj"]),
            helper.make_node("Reshape", [f"{name}_proj", "heads_shape"], [f"{name}_heads"]),
            helper.make_node("Transpose", [f"{name}_heads"], [f"{name}_t"], perm=perm),
        ]
    nodes += [
        helper.make_node("Mul", ["q_t", "root_scale"], ["q_scaled"]),
        helper.make_node("Mul", ["k_t", "root_scale"], ["k_scaled"]),
        helper.make_node("MatMul", ["q_scaled", "k_scaled"], ["scores"]),
        helper.make_node("Unsqueeze", ["attention_mask", "mask_axes"], ["mask4"]),
        helper.make_node("Cast", ["mask4"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Sub", ["one", "mask_f"], ["inverted"]),
        helper.make_node("Mul", ["inverted", "mask_min"], ["mask_add"]),
        helper.make_node("Add", ["scores", "mask_add"], ["masked"]),
        helper.make_node("Softmax", ["masked"], ["probs"], axis=-1),
        helper.make_node("MatMul", ["probs", "v_t"], ["context"]),
        helper.make_node("Transpose", ["context"], ["context_t"], perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["context_t", "merged_shape"], ["attended"]),
        helper.make_node("MatMul", ["attended", "classifier"], ["logits"]),
    ]
    initializers = [
        numpy_helper.from_array(v.astype(np.float32) if v.dtype == np.float64 else v, k) for k, v in weights.items()
    ]
    graph = helper.make_graph(
        nodes,
        "attention",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "sequence", LABELS])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.save(model, str(path))
    return path


def _run(path: Path, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    session, _ = create_session(path, "cpu", 1)
    return session.run(None, {"input_ids": ids, "attention_mask": mask})[0]


def test_fused_attention_gives_the_same_logits_padded_or_not(tmp_path):
    original = _attention_model(tmp_path / "model.onnx")
    fused = tmp_path / "fused.onnx"
    result = fuse_attention(original, fused)
    assert (result.fused, result.already_fused) == (1, 0)
    ops = [n.op_type for n in onnx.load(str(fused)).graph.node]
    assert "Softmax" not in ops and ops.count("If") == 1
    rng = np.random.default_rng(5)
    ids = rng.integers(0, VOCAB, (3, 9)).astype(np.int64)
    unpadded = np.ones_like(ids)
    np.testing.assert_allclose(_run(fused, ids, unpadded), _run(original, ids, unpadded), atol=1e-4)
    padded = unpadded.copy()
    padded[1, 4:] = 0
    padded[2, 7:] = 0
    before, after = _run(original, ids, padded), _run(fused, ids, padded)
    valid = padded.astype(bool)
    np.testing.assert_allclose(after[valid], before[valid], atol=1e-4)
    # Padding must still be masked: the padded rows differ from the unpadded run of the same ids.
    assert not np.allclose(after[1, :4], _run(fused, ids, unpadded)[1, :4], atol=1e-3)


def test_fusing_again_changes_nothing(tmp_path):
    fused = tmp_path / "fused.onnx"
    fuse_attention(_attention_model(tmp_path / "model.onnx"), fused)
    before = fused.read_bytes()
    result = fuse_attention(fused)
    assert (result.fused, result.already_fused) == (0, 1)
    assert fused.read_bytes() == before


def test_a_softmax_outside_attention_is_refused(tmp_path):
    path = tmp_path / "softmax.onnx"
    graph = helper.make_graph(
        [helper.make_node("Softmax", ["x"], ["y"], axis=-1)],
        "plain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    with pytest.raises(AttentionFusionError, match="no score MatMul"):
        fuse_attention(path)


@pytest.mark.skipif(not SHIPPED.exists(), reason="the shipped detector model is absent")
def test_shipped_detector_is_fused_and_keeps_its_outputs():
    graph = onnx.load(str(SHIPPED), load_external_data=False).graph
    fused = [n for n in graph.node if n.op_type == "If" and n.name.endswith("/MultiHeadAttention")]
    assert len(fused) == 4
    assert not any(n.op_type == "Softmax" for n in graph.node)
    assert "logits" in [o.name for o in graph.output]
    produced = {out for node in graph.node for out in node.output}
    assert "/bert/encoder/layer.3/output/LayerNorm/LayerNormalization_output_0" in produced


def test_fuse_attention_command_fuses_once_and_refuses_an_empty_folder(tmp_path, capsys):
    from pipeline.interfaces.cli import main

    _attention_model(tmp_path / "model.onnx")
    assert main(["model", "fuse-attention", "--model", str(tmp_path)]) == 0
    assert "1 attention layers fused" in capsys.readouterr().out
    assert main(["model", "fuse-attention", "--model", str(tmp_path)]) == 0
    assert "nothing to fuse" in capsys.readouterr().out
    assert main(["model", "fuse-attention", "--model", str(tmp_path / "absent")]) == 2
