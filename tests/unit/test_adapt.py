"""Site adaptation without torch: the site corpus and its type map, patient-grouped splits, the mined site
lexicon as a policy file, and the command's one-line refusals. The training run itself needs the models
extra and skips without it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.core.phi_types import PhiType
from pipeline.core.policy import load_policy
from pipeline.core.spans import Span
from pipeline.interfaces.cli import main
from pipeline.modelbuild.adapt.corpus import SiteNote, TypeMap, group_of, read_site_corpus
from pipeline.modelbuild.adapt.lexicon import SiteLexicon, mine_allow, mine_deny, write_policy
from pipeline.modelbuild.adapt.split import group_folds, hold_out, take_groups
from pipeline.modelbuild.evaluation.corpus import CorpusError, GoldSpan
from tests.conftest import SHARED_DATA

REAL = SHARED_DATA / "physionet_deid_dev" / "notes.jsonl"


def _line(note_id: str, text: str, *spans: tuple[str, str]) -> str:
    out = []
    for value, label in spans:
        start = text.index(value)
        out.append({"start": start, "end": start + len(value), "type": label})
    return json.dumps({"id": note_id, "text": text, "spans": out}) + "\n"


def _note(note_id: str, text: str, *spans: tuple[str, PhiType | None]) -> SiteNote:
    gold = []
    for value, phi_type in spans:
        start = text.index(value)
        gold.append(GoldSpan(start, start + len(value), phi_type.value if phi_type else "DateYear", phi_type))
    return SiteNote(note_id, text, tuple(gold), group_of(note_id))


def test_site_labels_map_to_phi_types_and_a_year_alone_is_set_aside(tmp_path):
    path = tmp_path / "site.jsonl"
    path.write_text(
        _line("8-1", "Dr. Bowman saw pt on 8/16, wife Carol, in 2016 at Mercy", ("Bowman", "HCPName"),
              ("8/16", "Date"), ("Carol", "RelativeProxyName"), ("2016", "DateYear"), ("Mercy", "Location"))
        + "\n",
        encoding="utf-8",
    )  # fmt: skip
    (note,) = read_site_corpus(path)
    assert note.group == "8"
    assert [g.type for g in note.gold] == [PhiType.NAME, PhiType.DATE, PhiType.NAME, None, PhiType.LOCATION]
    assert [s.type for s in note.spans] == [PhiType.NAME, PhiType.DATE, PhiType.NAME, PhiType.LOCATION]


def test_type_map_file_overrides_and_unknown_labels_stop_with_the_line(tmp_path):
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"Location": "FACILITY", "Ward": None}), encoding="utf-8")
    path = tmp_path / "site.jsonl"
    path.write_text(_line("a", "at Mercy on 4 West", ("Mercy", "Location"), ("4 West", "Ward")), encoding="utf-8")
    (note,) = read_site_corpus(path, TypeMap.from_file(mapping))
    assert [g.type for g in note.gold] == [PhiType.FACILITY, None]
    path.write_text("\n" + _line("a", "at Mercy", ("Mercy", "Hospitalish")), encoding="utf-8")
    with pytest.raises(CorpusError, match=r"site.jsonl line 2: label 'Hospitalish'.*--type-map"):
        read_site_corpus(path)
    mapping.write_text(json.dumps({"Location": "PLACE"}), encoding="utf-8")
    with pytest.raises(CorpusError, match="'PLACE' is not a PHI type"):
        TypeMap.from_file(mapping)


def test_malformed_lines_name_the_line_never_the_text(tmp_path):
    path = tmp_path / "site.jsonl"
    path.write_text(json.dumps({"id": "1-1", "text": "Mary", "spans": [{"start": 0, "end": 9, "type": "PTName"}]}))
    with pytest.raises(CorpusError) as caught:
        read_site_corpus(path)
    assert "line 1" in str(caught.value) and "Mary" not in str(caught.value)
    path.write_text(_line("1-1", "x") + _line("1-1", "y"), encoding="utf-8")
    with pytest.raises(CorpusError, match="used twice"):
        read_site_corpus(path)


def test_groups_come_from_patient_note_ids():
    assert group_of("15-3") == "15" and group_of("note7") == "note7" and group_of("-3") == "-3"


def _notes(patients: dict[str, int]) -> list[SiteNote]:
    return [_note(f"{p}-{i}", "text") for p, count in patients.items() for i in range(count)]


def test_folds_never_split_a_patient_and_test_every_note_once():
    notes = _notes({"1": 30, "2": 5, "3": 8, "4": 12, "5": 3, "6": 9, "7": 1})
    folds = group_folds(notes, 3)
    tested = [n.id for _, test in folds for n in test]
    assert sorted(tested) == sorted(n.id for n in notes)
    for train, test in folds:
        assert not {n.group for n in train} & {n.group for n in test}
        assert len(train) + len(test) == len(notes)
    assert group_folds(notes, 3) == folds  # seeded: same split every time
    with pytest.raises(ValueError, match="cannot fill"):
        group_folds(_notes({"1": 3, "2": 3}), 3)


def test_hold_out_keeps_patients_whole_and_take_groups_spreads_over_patients():
    notes = _notes({str(p): 10 for p in range(10)})
    kept, held = hold_out(notes, 0.2)
    assert len(held) == 20 and not {n.group for n in kept} & {n.group for n in held}
    with pytest.raises(ValueError, match="one patient"):
        hold_out(_notes({"1": 5}), 0.2)
    subset = take_groups(notes, 25)
    assert len(subset) == 25 and len({n.group for n in subset}) == 10  # spread over every patient
    assert sorted(n.id for n in take_groups(notes, 500)) == sorted(n.id for n in notes)
    assert len(take_groups(_notes({"1": 1, "2": 5}), 4)) == 4


def test_deny_list_keeps_names_that_are_always_phi_and_never_clinical_words():
    notes = [
        _note("1-1", "Seen by Dr. Quastoff with heparin", ("Quastoff", PhiType.NAME)),
        _note("1-2", "Quastoff called; transfer to QMH", ("Quastoff", PhiType.NAME), ("QMH", PhiType.FACILITY)),
        _note("2-1", "from QMH, per Dr. Quastoff", ("QMH", PhiType.FACILITY), ("Quastoff", PhiType.NAME)),
        _note("2-2", "Dr. Heparin-ish? no: heparin drip, Dr. Zorbel", ("Zorbel", PhiType.NAME)),
        _note("3-1", "Zorbel valve check; seen by Dr. Zorbel", ("Zorbel", PhiType.NAME)),
        _note("3-2", "heparin given by Heparin", ("Heparin", PhiType.NAME)),
        _note("4-1", "Heparin again; Heparin", ("Heparin", PhiType.NAME)),
    ]
    deny = mine_deny(notes, min_count=2, purity=0.95)
    assert deny == {PhiType.NAME: ["quastoff"], PhiType.FACILITY: ["qmh"]}  # 'zorbel' is a valve 1 time in 3


def test_allow_list_takes_repeated_false_alarms_never_labelled_values():
    notes = [_note(f"{i}-1", "Dobhoff placed by Dr. Lee", ("Lee", PhiType.NAME)) for i in range(3)]
    found = [[Span(0, 7, PhiType.NAME, 0.6, "m"), Span(22, 25, PhiType.NAME, 0.9, "m")] for _ in notes]
    assert mine_allow(notes, found, {}, min_count=3) == ["dobhoff"]
    assert mine_allow(notes, found, {}, min_count=4) == []


def test_site_policy_file_loads_as_policy_check_loads_it(tmp_path, capsys):
    lexicon = SiteLexicon({PhiType.NAME: ["quastoff", "o'brien"], PhiType.FACILITY: ["qmh"]}, ["dobhoff"])
    path = write_policy(lexicon, tmp_path / "site_policy.yaml", "mined from 7 notes\nkeep it private")
    assert path.stat().st_mode & 0o077 == 0
    policy = load_policy(path)
    assert {d.phi_type for d in policy.deny} >= {PhiType.NAME, PhiType.FACILITY}
    assert policy.allow.covers("Dobhoff")
    assert main(["policy", "check", str(path)]) == 0
    assert "deny lists" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--holdout", "1.5"], "--holdout must be between 0 and 1"),
        (["--epochs", "0"], "--epochs must be positive"),
        (["--threads", "0"], "--threads must be at least 1"),
        (["--base", "/nonexistent/model"], "--base /nonexistent/model: no such folder"),
    ],
)
def test_adapt_refuses_bad_options_in_one_line(tmp_path, capsys, extra, message):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(_line("1-1", "x"), encoding="utf-8")
    assert main(["model", "adapt", "--corpus", str(corpus), "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"model adapt: {message}"


def test_adapt_refuses_a_missing_corpus_the_base_folder_as_output_and_bad_curve_sizes(tmp_path, capsys):
    assert main(["model", "adapt", "--corpus", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip().startswith("model adapt: ")
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(_line("1-1", "x") + _line("2-1", "y"), encoding="utf-8")
    base = tmp_path / "base"
    base.mkdir()
    assert main(["model", "adapt", "--corpus", str(corpus), "--base", str(base), "--out", str(base)]) == 2
    assert "is the base model's folder" in capsys.readouterr().err
    args = ["model", "adapt-curve", "--corpus", str(corpus), "--out", str(tmp_path / "c")]
    assert main([*args, "--sizes", "100,lots"]) == 2
    assert (
        capsys.readouterr().err.strip() == "model adapt-curve: --sizes: 'lots' is neither a positive number nor 'all'"
    )
    assert main([*args, "--folds", "3"]) == 2
    assert "fewer patients than folds" in capsys.readouterr().err


@pytest.mark.skipif(not REAL.exists(), reason=f"{REAL} is absent (the shared development notes)")
def test_development_notes_read_with_every_label_mapped_and_fold_by_patient():
    notes = read_site_corpus(REAL)
    assert len(notes) == 1094 and len({n.group for n in notes}) == 79
    aside = {g.label for n in notes for g in n.gold if g.type is None}
    assert aside == {"DateYear"}
    for train, test in group_folds(notes, 3):
        assert not {n.group for n in train} & {n.group for n in test}
        assert 330 <= len(test) <= 400


@pytest.mark.slow
def test_adapt_trains_a_model_the_worker_loads(tmp_path):
    pytest.importorskip("torch", reason="model adapt needs the models extra (torch)")
    pytest.importorskip("transformers", reason="model adapt needs the models extra (transformers)")
    from pipeline.config import DEFAULT_DETECTOR
    from pipeline.modelbuild.adapt.build import AdaptSettings, adapt, site_detector
    from pipeline.modelbuild.corpus import Split, generate

    notes = [
        SiteNote(f"{i % 4}-{i}", n.text, tuple(GoldSpan(s.start, s.end, s.type.value, s.type) for s in n.spans),
                 str(i % 4))
        for i, n in enumerate(generate(16, seed=5, split=Split.HELDOUT))
    ]  # fmt: skip
    out = tmp_path / "site-model"
    settings = AdaptSettings(epochs=0.5, replay=0.5, holdout=0.25, allow_min_count=0, max_minutes=3, device="cpu")
    report = adapt(notes, out, Path(DEFAULT_DETECTOR), settings, progress=lambda _: None)
    assert report["base_rebuilt"]["agreement"] > 0.97  # the dequantized base labels tokens as the int8 model does
    for name in ("model_quantized.onnx", "tokenizer.json", "labels.json", "thresholds.json", "site_policy.yaml"):
        assert (out / name).exists()
    assert "Learning curve" not in (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    spans = site_detector(out, 2, out / "site_policy.yaml").detect_batch([notes[0].text])  # type: ignore[attr-defined]
    assert spans[0]


def test_detect_and_eval_apply_a_site_policy(tmp_path, capsys):
    policy = write_policy(SiteLexicon({PhiType.NAME: ["quastoff"]}), tmp_path / "site_policy.yaml", "test")
    notes = tmp_path / "notes.jsonl"
    notes.write_text(json.dumps({"id": "1-1", "text": "reviewed with quastoff today"}) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    base = ["detect", str(notes), "--rules-only", "-o", str(out)]
    assert main(base) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["spans"] == []
    assert main([*base, "--policy", str(policy)]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["spans"][0]["start"] == 14
    corpus = tmp_path / "gold.jsonl"
    corpus.write_text(_line("1-1", "reviewed with quastoff today", ("quastoff", "NAME")), encoding="utf-8")
    figures = tmp_path / "eval.json"
    args = ["eval", "--corpus", str(corpus), "--format", "jsonl", "--rules-only", "--json", str(figures)]
    assert main([*args, "--policy", str(policy)]) == 0
    assert json.loads(figures.read_text(encoding="utf-8"))["leak_free"]["ALL"]["recall"] == 1.0


def test_learning_curve_pools_counts_over_folds():
    from pipeline.modelbuild.adapt.curve import summarize

    def run(fold, size, detector, caught, correct, seconds=None):
        row = {"fold": fold, "size": size, "detector": detector, "gold": 10, "caught": caught,
               "predicted": 20, "correct_predictions": correct}  # fmt: skip
        if size:
            row.update(requested="all", adapt_seconds=seconds)
        return row

    rows = summarize([run(0, 0, "base", 8, 10), run(1, 0, "base", 9, 12),
                      run(0, 90, "adapted", 10, 18, 60), run(1, 110, "adapted", 9, 16, 120)])  # fmt: skip
    base, adapted = rows
    assert (base["recall"], base["precision"], base["folds"]) == (0.85, 0.55, 2)
    assert (adapted["recall"], adapted["precision"]) == (0.95, 0.85)
    assert adapted["mean_train_notes"] == 100 and adapted["mean_adapt_minutes"] == 1.5
