"""What one running server holds: settings, the database, the blob store, job workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assay.core.db import Database
from assay.core.keys import KeyCache
from assay.core.settings import Settings


@dataclass
class AppContext:
    settings: Settings
    db: Database
    blobs: Any = None
    runner: Any = None
    extras: dict[str, Any] = field(default_factory=dict)
    key_cache: KeyCache = field(init=False)

    def __post_init__(self) -> None:
        self.key_cache = KeyCache(self.settings.auth_cache_seconds)
