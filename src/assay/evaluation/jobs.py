"""The evaluate pillar's jobs, registered through the same calls as plugins' (`assay.pillars`
loads this module): evaluation.run_probes in `probe_reports`."""

from __future__ import annotations

from assay.evaluation import probe_reports  # noqa: F401  (its job)
