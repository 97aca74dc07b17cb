"""Package data that lives outside ``pipeline/`` in the checkout, mapped into the wheel.

The detector model (``models/detector``), the sensitive-category classifier (``models/sensitive``) and the
Avro schemas (``schemas/``) stay where they are in git, so a checkout, an editable install and ``make demo``
use them in place. A built wheel carries every file of these folders (by glob, so a retrained model with new
files ships without a change here) as ``pipeline/_data/detector``, ``pipeline/_data/sensitive`` and
``pipeline/_data/schemas``; ``pipeline.config`` prefers those copies when they exist. Everything else about
the package is declared in ``pyproject.toml``.
"""

from setuptools import find_packages, setup

SHIPPED = {
    "pipeline._data.detector": "models/detector",
    "pipeline._data.sensitive": "models/sensitive",
    "pipeline._data.schemas": "schemas",
}

setup(
    packages=[*find_packages(include=["pipeline", "pipeline.*"]), *SHIPPED],
    package_dir=SHIPPED,
    package_data={
        "pipeline": ["py.typed"],
        "pipeline.interfaces": ["reveal_openapi.json"],
        "pipeline.core.detection": ["lexicon_data/*"],
        "pipeline.core": ["summary_data/*"],
        "pipeline.core.policy": ["*.yaml"],
        **{name: ["*", "**/*"] for name in SHIPPED},
    },
)
