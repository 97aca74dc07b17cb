"""The onnxruntime generation loop on the built summarizer variants (skipped when none is built).

Build them with ``phi-pipeline model build-summarizer`` (needs the models extra, about two minutes);
they land in models/summarizer/<variant>, which git ignores.
"""

from pathlib import Path

import pytest

from pipeline.core.summary_guard import finalize_summary
from pipeline.runtime.summarizer import OnnxSummarizer, chat_prompt

MODELS = Path(__file__).resolve().parents[2] / "models" / "summarizer"
NOTES = [
    "71 yo patient admitted [DATE] with right lower lobe pneumonia. Started ceftriaxone 1 g IV q24h. "
    "Afebrile overnight, tolerating diet. Wife [NAME] at bedside. Follow up in clinic on [DATE].",
    "Creatinine trending down, 1.4 from 2.1. Started furosemide 40 mg IV. Discussed with Dr. [NAME].",
]


def test_chat_prompt_is_smollm2_chatml():
    prompt = chat_prompt([("system", "Be brief."), ("user", "Hi")])
    assert prompt == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    default = chat_prompt([("user", "Hi")], add_generation_prompt=False)
    assert default.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    assert default.endswith("<|im_start|>user\nHi<|im_end|>\n")


def built(variant):
    folder = MODELS / variant
    if not (folder / "model.onnx").is_file():
        pytest.skip(f"summarizer variant {variant} is not built; run: phi-pipeline model build-summarizer")
    return folder


@pytest.fixture(scope="module", params=["fp32", "int8", "int4"])
def summarizer(request):
    return OnnxSummarizer(built(request.param), provider="cpu", threads=2, batch_size=2)


@pytest.mark.slow
def test_generates_a_bounded_summary_of_a_redacted_note(summarizer):
    generations = summarizer.summarize_batch(NOTES, max_new_tokens=24)
    assert len(generations) == 2
    for generation in generations:
        assert 0 < generation.new_tokens <= 24
        assert generation.text and "<|im_end|>" not in generation.text
        assert generation.seconds > 0
    outcome = finalize_summary(NOTES[0], generations[0].text, [])
    assert outcome.summary


@pytest.mark.slow
def test_batched_left_padding_matches_one_at_a_time(summarizer):
    """Left padding with the attention mask and position ids must not change what a note gets."""
    batched = summarizer.summarize_batch(NOTES, max_new_tokens=12)
    alone = [summarizer.summarize_batch([note], max_new_tokens=12)[0] for note in NOTES]
    assert [g.text for g in batched] == [g.text for g in alone]


@pytest.mark.slow
def test_long_note_is_cut_to_the_input_budget():
    folder = built("int4" if (MODELS / "int4" / "model.onnx").is_file() else "fp32")
    small = OnnxSummarizer(folder, provider="cpu", threads=2, max_input_tokens=160)
    assert len(small.prompt_ids("Afebrile overnight. " * 400)) <= 160
    assert small.summarize_batch(["Afebrile overnight. " * 400], max_new_tokens=4)[0].new_tokens <= 4
