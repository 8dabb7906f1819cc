"""Job kinds that ship with Assay, registered through the same `job_kind` call as plugins'."""

import assay.compat.nucleus  # nucleus.import (the Nucleus API's async uploads)
import assay.core.logins  # duty: core.forget_login_failures
import assay.core.webhooks  # webhook.deliver
import assay.curation.jobs  # curation.delete_dataset
import assay.labeling.batches  # duty: labeling.park_paused_batches
import assay.labeling.exports  # labeling.export, labeling.import_prelabels
import assay.labeling.imports  # labeling.import_tasks
import assay.labeling.pipeline  # noqa: F401  (duty: labeling.complete_batches)
