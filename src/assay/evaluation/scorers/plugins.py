"""Python scorer plugins: any callable registered by name, from a module in ASSAY_PLUGINS
(`core/plugins.py` imports it) or from a package's entry point in the group
`assay.scorers`. This module holds the one built-in written the way a plugin is: an
item scorer that is a plain function of the response and the target."""

from __future__ import annotations

from typing import Any

from assay.evaluation.scorers.registry import Score, scorer
from assay.evaluation.scorers.text import normalize, targets_of


@scorer("includes")
def includes(response: str, target: Any, *, case: bool = True) -> Score:
    """1 when the response contains an accepted answer (inspect_ai's `includes`)."""
    text = normalize(response, case=case, whitespace=True)
    for accepted in targets_of(target):
        if normalize(accepted, case=case, whitespace=True) in text:
            return Score(1.0, accepted, f"contains {accepted!r}")
    return Score(0.0, None, "contains no accepted answer")
