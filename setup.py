"""Package data that lives outside ``pipeline/`` in the checkout, mapped into the wheel.

The detector model with its sensitive-category head (``models/detector``), the categories' criteria and card
(``models/sensitive``) and the Avro schemas (``schemas/``) stay where they are in git, so a checkout, an
editable install and ``make demo`` use them in place. A built wheel carries every file of these folders (by
glob, so a retrained model with new files ships without a change here) as ``pipeline/_data/detector``,
``pipeline/_data/sensitive`` and ``pipeline/_data/schemas``; ``pipeline.config`` prefers those copies when
they exist. Everything else about the package is declared in ``pyproject.toml``.
"""

import sys

from setuptools import find_packages, setup

SHIPPED = {
    "pipeline._data.detector": "models/detector",
    "pipeline._data.sensitive": "models/sensitive",
    "pipeline._data.schemas": "schemas",
}

#: Folders of data inside ``pipeline/`` (no ``__init__.py``), declared as packages so setuptools ships them
#: without its "would be ignored" warning.
DATA_PACKAGES = ["pipeline.core.detection.lexicon_data", "pipeline.core.summary_data"]

#: An editable install (``make install``) leaves the folders in place (``pipeline.config`` falls back to
#: them): no mapping, so setuptools takes the plain layout (a ``.pth`` entry for the checkout) and prints no
#: "Editable installation" warning, which it does for a layout that maps packages elsewhere.
EDITABLE = "editable_wheel" in sys.argv
if EDITABLE:
    SHIPPED = {}

setup(
    packages=[*find_packages(include=["pipeline", "pipeline.*"]), *DATA_PACKAGES, *SHIPPED],
    package_dir={"": "."} if EDITABLE else SHIPPED,
    package_data={
        "pipeline": ["py.typed"],
        "pipeline.interfaces": ["reveal_openapi.json"],
        "pipeline.core.detection.lexicon_data": ["*"],
        "pipeline.core.summary_data": ["*"],
        "pipeline.core.policy": ["*.yaml"],
        **{name: ["*", "**/*"] for name in SHIPPED},
    },
)
