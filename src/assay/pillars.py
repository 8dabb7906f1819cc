"""The pillars that ship with Assay, loaded at start the way plugins are.

Loading a pillar imports its registration module, which registers its job kinds, duties and
blob readers through the same calls a plugin uses (`@job_kind`, `@jobs.duty`,
`blob_refs.register_reader_check`). `assay serve` and `assay worker` load these, then the
modules named in ASSAY_PLUGINS; `core` names no pillar.
"""

from __future__ import annotations

from assay.core import plugins
from assay.core.settings import Settings

BUILTIN = (
    "assay.labeling.jobs",
    "assay.curation.jobs",
    "assay.evaluation.jobs",
    # The Nucleus API's jobs (uploads, exports, send to labeling, deduplication): compat,
    # loaded like a pillar — the whole router, so a worker without the API has every kind.
    "assay.compat.nucleus",
)


def load(settings: Settings) -> None:
    """Import the built-in pillars, then the settings' plugins (each module once)."""
    plugins.load([*BUILTIN, *settings.plugins])
