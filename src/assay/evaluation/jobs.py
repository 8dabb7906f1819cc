"""The evaluate pillar's jobs, registered through the same calls as plugins' (`assay.pillars`
loads this module): evaluation.import_eval_set in `eval_set_imports`."""

from __future__ import annotations

from assay.evaluation import eval_set_imports  # noqa: F401  (its job)
