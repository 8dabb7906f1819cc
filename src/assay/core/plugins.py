"""Extension points. Built-ins register through the same calls as third-party plugins."""

from __future__ import annotations

import importlib
import logging

log = logging.getLogger(__name__)
_loaded: set[str] = set()


def load(modules: list[str]) -> None:
    """Import each plugin module once; importing registers its job kinds, backends, etc."""
    for name in modules:
        if name in _loaded:
            continue
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise RuntimeError(
                f"plugin module {name!r} (from ASSAY_PLUGINS) could not be imported: {exc}"
            ) from exc
        _loaded.add(name)
        log.info("loaded plugin %s", name)
