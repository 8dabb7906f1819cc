"""Job kinds that ship with Assay, registered through the same `job_kind` call as plugins'."""

import assay.core.webhooks  # webhook.deliver
import assay.labeling.exports  # labeling.export, labeling.import_prelabels
import assay.labeling.imports  # noqa: F401  (labeling.import_tasks)
