"""Job kinds that ship with Assay, registered through the same `job_kind` call as plugins'."""

import assay.core.webhooks  # noqa: F401  (webhook.deliver)
