"""Greedy generation with SmolLM2 on onnxruntime: the chat template, the KV cache, batches of notes.

Only onnxruntime, numpy and tokenizers: the worker never imports torch or transformers. The model folder
is what ``phi-pipeline model build-summarizer`` writes (``model.onnx`` exported by optimum with past key
values, ``tokenizer.json``, ``generation_config.json``).

The texts given to :meth:`OnnxSummarizer.summarize_batch` must already be REDACTED (placeholders such as
``[NAME]``, ``[DATE]``): the generator must never see an original note. Its output still goes through
:func:`pipeline.core.summary_guard.finalize_summary` (PHI re-scan and faithfulness guard) before anyone reads it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from pipeline.core.clinical_terms import SHORTHAND
from pipeline.core.errors import ConfigError
from pipeline.runtime.providers import GPU_PROVIDERS, create_session

#: Stated once, in the system turn, because a 135M model follows a short, concrete instruction best: the
#: handover layout (events first, then one line per system), the rule, and the shorthand it will meet.
GLOSSARY_TERMS = ("afib", "dnr", "dni", "cabg", "peg", "picc", "tee", "cvvhdf", "iabp", "trach", "xrt", "ama")
SYSTEM_PROMPT = (
    "You write ICU handover summaries of nursing notes for the next nurse. First line: the key events (code "
    "status, procedures, transfers, new problems, the plan). Then one short line per system the note covers "
    "('Neuro:', 'CV:', 'Resp:', 'GI/GU:', 'ID:'). Use only facts written in the note; copy placeholders such as "
    "[DATE] and [NAME] exactly. Never add a number, date, drug, diagnosis or procedure the note does not "
    "contain. Shorthand: " + "; ".join(f"{t.upper()} = {SHORTHAND[t]}" for t in GLOSSARY_TERMS) + "."
)
#: One worked ICU example (synthetic, written for this prompt), shown before the note as an earlier turn.
EXAMPLE_NOTE = (
    "NEURO: A&OX3, MAE. CV: HR 70-90 SR, BP STABLE. PT TO CATH LAB THIS AM, STENT TO RCA. HEPARIN GTT "
    "RESTARTED. RESP: 2L NC, SATS 96%. GI/GU: NPO AFTER MN, U/O ADEQ. SOCIAL: FAMILY MEETING, PT NOW DNR. "
    "PLAN: TRANSFER TO FLOOR TOMORROW IF STABLE."
)
EXAMPLE_SUMMARY = (
    "Events: cath lab this am with RCA stent; heparin gtt restarted; now DNR after family meeting; plan transfer "
    "to floor tomorrow if stable.\nNeuro: A&Ox3.\nCV: SR 70-90, BP stable.\nResp: 2L NC, sats 96%.\nGI/GU: NPO "
    "after MN, U/O adeq."
)
_USER_PREFIX = "Summarize this clinical note:\n\n"
_IM_START, _IM_END, _EOT = "<|im_start|>", "<|im_end|>", "<|endoftext|>"


def chat_prompt(messages: Sequence[tuple[str, str]], add_generation_prompt: bool = True) -> str:
    """SmolLM2-Instruct's chat template (ChatML): ``<|im_start|>role\\ncontent<|im_end|>\\n`` per message.

    Written out here instead of rendering the Jinja template so the worker needs no jinja2 and the
    prompt is testable. Like the original, a conversation without a system turn gets SmolLM's default one.
    """
    turns = list(messages)
    if not turns or turns[0][0] != "system":
        turns.insert(0, ("system", "You are a helpful AI assistant named SmolLM, trained by Hugging Face"))
    text = "".join(f"{_IM_START}{role}\n{content}{_IM_END}\n" for role, content in turns)
    return text + (f"{_IM_START}assistant\n" if add_generation_prompt else "")


@dataclass(frozen=True, slots=True)
class Generation:
    """One generated summary: the text (special tokens dropped), how many tokens were generated, and the
    wall time of the batch that produced it (what the note waited), in seconds."""

    text: str
    new_tokens: int
    seconds: float
    #: True when the token budget ran out before a stop token: the last sentence may be cut off.
    truncated: bool = False


class OnnxSummarizer:
    """SmolLM2 exported to ONNX with a KV cache, run greedily on the detector's provider choice."""

    def __init__(
        self,
        model_dir: Path,
        provider: str = "auto",
        threads: int | None = None,
        *,
        batch_size: int = 8,
        max_input_tokens: int = 768,
        no_repeat_ngram: int = 6,
    ) -> None:
        model_path = model_dir / "model.onnx"
        if not model_path.is_file() or not (model_dir / "tokenizer.json").is_file():
            raise ConfigError(
                f"{model_dir} is not a summarizer folder (needs model.onnx and tokenizer.json); "
                "build it with 'phi-pipeline model build-summarizer'"
            )
        if batch_size < 1 or max_input_tokens < 16 or no_repeat_ngram < 0:
            raise ConfigError("batch_size must be >= 1, max_input_tokens >= 16 and no_repeat_ngram >= 0")
        self.model_dir = model_dir
        self.no_repeat_ngram = no_repeat_ngram
        self.batch_size = batch_size
        self.max_input_tokens = max_input_tokens
        self.session, self.provider = create_session(model_path, provider, threads)
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._inputs = {i.name: i for i in self.session.get_inputs()}
        self._past_names = [n for n in self._inputs if n.startswith("past_key_values")]
        if "input_ids" not in self._inputs or not self._past_names:
            raise ConfigError(f"{model_path} was not exported with past key values (text-generation-with-past)")
        first = self._inputs[self._past_names[0]]
        self._kv_heads, self._head_dim = int(first.shape[1]), int(first.shape[3])
        self._kv_dtype = np.float16 if "float16" in first.type else np.float32
        self._outputs = [o.name for o in self.session.get_outputs()]
        self.stop_ids, self.pad_id = self._special_ids()
        before, after = chat_prompt(self._turns("\x00")).split("\x00")
        self._frame = (
            self.tokenizer.encode(before, add_special_tokens=False).ids,
            self.tokenizer.encode(after, add_special_tokens=False).ids,
        )
        if max_input_tokens <= len(self._frame[0]) + len(self._frame[1]):
            raise ConfigError(f"max_input_tokens must exceed the prompt template's {sum(map(len, self._frame))} tokens")

    def _special_ids(self) -> tuple[frozenset[int], int]:
        """Stop on end-of-turn and end-of-text (and whatever generation_config lists); pad with end-of-text."""
        stops: set[int] = set()
        config_path = self.model_dir / "generation_config.json"
        if config_path.is_file():
            eos = json.loads(config_path.read_text()).get("eos_token_id")
            stops.update([eos] if isinstance(eos, int) else (eos or []))
        for token in (_IM_END, _EOT):
            token_id = self.tokenizer.token_to_id(token)
            if token_id is not None:
                stops.add(token_id)
        if not stops:
            raise ConfigError(f"{self.model_dir}: the tokenizer has no end-of-turn or end-of-text token")
        pad = self.tokenizer.token_to_id(_EOT)
        return frozenset(stops), pad if pad is not None else min(stops)

    def prompt_ids(self, text: str) -> list[int]:
        """The chat prompt's token ids for one redacted note: the template's ids around the note's own.

        A note longer than the input budget is cut (its end dropped) so one huge note cannot stall a batch;
        joining ids instead of re-encoding a decoded cut keeps the prompt within the budget exactly.
        """
        note_ids = self.tokenizer.encode(text.strip(), add_special_tokens=False).ids
        budget = max(self.max_input_tokens - len(self._frame[0]) - len(self._frame[1]), 0)
        return self._frame[0] + note_ids[:budget] + self._frame[1]

    @staticmethod
    def _turns(text: str) -> list[tuple[str, str]]:
        return [
            ("system", SYSTEM_PROMPT),
            ("user", _USER_PREFIX + EXAMPLE_NOTE),
            ("assistant", EXAMPLE_SUMMARY),
            ("user", _USER_PREFIX + text.strip()),
        ]

    def summarize_batch(self, texts: Sequence[str], max_new_tokens: int = 96) -> list[Generation]:
        """One greedy summary per REDACTED text, in input order.

        On a GPU, texts are sorted by prompt length and run ``batch_size`` at a time with left padding, so a
        batch holds prompts of similar length and little compute goes to padding. On the CPU each text runs
        alone: int8 kernels quantize activations per block, so a padded neighbour changed what a note got
        (4 of 12 notes matched between one-at-a-time and batched runs), and a summary must not depend on
        which notes shared its batch.
        """
        if max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1")
        prompts = [self.prompt_ids(text) for text in texts]
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        results: list[Generation | None] = [None] * len(prompts)
        size = self.batch_size if self.on_gpu else 1
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            generations = self._generate([prompts[i] for i in chunk], max_new_tokens)
            for index, generation in zip(chunk, generations, strict=True):
                results[index] = generation
        return [g for g in results if g is not None]

    def _generate(self, prompts: list[list[int]], max_new_tokens: int) -> list[Generation]:
        began = time.perf_counter()
        batch, width = len(prompts), max(len(p) for p in prompts)
        input_ids = np.full((batch, width), self.pad_id, dtype=np.int64)
        mask = np.zeros((batch, width), dtype=np.int64)
        for row, ids in enumerate(prompts):
            input_ids[row, width - len(ids) :] = ids
            mask[row, width - len(ids) :] = 1
        positions = np.where(mask == 1, np.cumsum(mask, axis=1) - 1, 1).astype(np.int64)
        empty = np.zeros((batch, self._kv_heads, 0, self._head_dim), dtype=self._kv_dtype)
        past: dict[str, np.ndarray] = dict.fromkeys(self._past_names, empty)
        generated: list[list[int]] = [[] for _ in range(batch)]
        done = np.zeros(batch, dtype=bool)
        for _ in range(max_new_tokens):
            feed: dict[str, np.ndarray] = {"input_ids": input_ids, "attention_mask": mask, **past}
            if "position_ids" in self._inputs:
                feed["position_ids"] = positions
            outputs = dict(zip(self._outputs, self.session.run(self._outputs, feed), strict=True))
            logits = outputs["logits"][:, -1, :]
            for row in np.flatnonzero(~done):
                banned = self._repeats(generated[row])
                if banned:
                    logits[row, banned] = -np.inf
            next_ids = logits.argmax(axis=-1)
            for row in np.flatnonzero(~done):
                token = int(next_ids[row])
                if token in self.stop_ids:
                    done[row] = True
                else:
                    generated[row].append(token)
            if done.all():
                break
            next_ids[done] = self.pad_id
            past = {name: outputs[name.replace("past_key_values", "present")] for name in self._past_names}
            input_ids = next_ids.astype(np.int64)[:, None]
            mask = np.concatenate([mask, np.ones((batch, 1), dtype=np.int64)], axis=1)
            positions = positions[:, -1:] + 1
        seconds = time.perf_counter() - began
        return [
            Generation(self.tokenizer.decode(ids).strip(), len(ids), seconds, truncated=not bool(finished))
            for ids, finished in zip(generated, done, strict=True)
        ]

    def _repeats(self, tokens: list[int]) -> list[int]:
        """Tokens that would repeat an n-gram already generated (n = ``no_repeat_ngram``).

        Greedy decoding of a small model falls into loops ("71 yo patient ... 71 yo patient ..."); blocking
        repeated n-grams of its OWN output stops that, while copying from the note stays allowed. n is large
        enough that short repeats such as "on [DATE]" remain possible.
        """
        n = self.no_repeat_ngram
        if n == 0 or len(tokens) < n:
            return []
        prefix = tokens[len(tokens) - n + 1 :]
        return [tokens[i + n - 1] for i in range(len(tokens) - n + 1) if tokens[i : i + n - 1] == prefix]

    @property
    def on_gpu(self) -> bool:
        """Whether the session runs on CUDA or TensorRT (for metrics and batch sizing)."""
        return self.provider in GPU_PROVIDERS
