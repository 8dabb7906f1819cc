"""Shared foundations: settings, database, identity, jobs, blobs, webhooks."""
