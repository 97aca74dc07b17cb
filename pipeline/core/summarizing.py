"""Old name of :mod:`pipeline.core.summary_processing`, kept only while ``pipeline/stream/app.py`` imports it.

``app.py`` is being changed on another branch; once that branch is merged its import becomes
``pipeline.core.summary_processing`` and this module is deleted (issue 19, item 5).
"""

from pipeline.core.summary_processing import SummaryProcessor

__all__ = ["SummaryProcessor"]
