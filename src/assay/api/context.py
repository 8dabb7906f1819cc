"""What one running server holds: settings, the database, the blob store, job workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assay.core.db import Database
from assay.core.settings import Settings


@dataclass
class AppContext:
    settings: Settings
    db: Database
    blobs: Any = None
    runner: Any = None
    extras: dict[str, Any] = field(default_factory=dict)
