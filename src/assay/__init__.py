"""Assay: a self-hosted data engine for labeling, curation and evaluation."""

from __future__ import annotations

from typing import Any

__all__ = ["Client", "__version__"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The SDK is imported on first use so the server and CLI do not pay for it.
    if name == "Client":
        from assay.sdk import Client

        return Client
    raise AttributeError(name)
