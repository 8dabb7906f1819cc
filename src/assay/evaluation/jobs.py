"""The evaluate pillar's jobs, registered through the same calls as plugins' (`assay.pillars`
loads this module): evaluation.import_eval_set in `eval_set_imports`, evaluation.run_probes in
`probe_reports`, evaluation.run in `run_engine`."""

from __future__ import annotations

from assay.core.jobs import job_kind
from assay.evaluation import (  # noqa: F401  (their jobs)
    eval_set_imports,
    probe_reports,
    run_engine,
)
from assay.evaluation.runs import RUN_JOB

job_kind(RUN_JOB, max_attempts=5, on_failed=run_engine.mark_failed)(run_engine.run_job)
