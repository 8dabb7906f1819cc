"""Core's own job kinds and duties, registered through the same calls as plugins' (every
worker imports this). A pillar registers its own when it is loaded (`assay.pillars`)."""

import assay.core.logins  # duty: core.forget_login_failures
import assay.core.webhooks  # noqa: F401  (webhook.deliver)
