"""The evaluate pillar's jobs, registered through the same calls as plugins' (`assay.pillars`
loads this module): evaluation.import_eval_set in `eval_set_imports`, evaluation.run_probes in
`probe_reports`."""

from __future__ import annotations

from assay.evaluation import eval_set_imports, probe_reports  # noqa: F401  (their jobs)
