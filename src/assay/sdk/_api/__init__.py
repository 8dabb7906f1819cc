"""Private per-noun HTTP classes. Importing this package registers every SDK route."""

from assay.sdk._api import blobs, jobs, keys, users, webhooks
from assay.sdk._api._endpoint import ROUTES, Route

__all__ = ["ROUTES", "Route", "blobs", "jobs", "keys", "users", "webhooks"]
