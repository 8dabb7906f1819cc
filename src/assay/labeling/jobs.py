"""What the labeling pillar registers, through the same calls a plugin uses: importing this
module (`assay.pillars` does, at start, like a module named in ASSAY_PLUGINS) imports the
modules whose decorators and calls register each one next to the code it runs.
"""

import assay.labeling.batches  # duty labeling.park_paused_batches
import assay.labeling.exports  # job kinds labeling.export, labeling.import_prelabels
import assay.labeling.imports  # job kind labeling.import_tasks
import assay.labeling.pipeline  # duty labeling.complete_batches
import assay.labeling.projects  # noqa: F401  blob readers: scopes project, project_manager
