"""The layers of docs/architecture.md, held by reading the source: `core` imports no pillar
and no outer layer, `metrics` is pure math. Every import counts, the ones inside functions
too, and so does `importlib.import_module("…")` with a literal name."""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import assay

ROOT = Path(assay.__file__).parent

# What `core` may never reach: the pillars and everything built on top of them.
OUTSIDE_CORE = (
    "assay.labeling",
    "assay.curation",
    "assay.evaluation",
    "assay.api",
    "assay.compat",
    "assay.web",
    "assay.cli",
    "assay.sdk",
    "assay.models_registry",
    "assay.pillars",
)
# What `metrics` may import besides the standard library: numpy, scipy and itself.
METRICS_MAY_IMPORT = ("numpy", "scipy", "assay.metrics")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(source: str, package: str) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in a module of `package`, relative ones
    resolved."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            # `from assay import labeling` imports the pillar itself.
            names = [f"{module}.{alias.name}" for alias in node.names if alias.name != "*"]
            yield node.lineno, module
            for name in names:
                yield node.lineno, name
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if (
                called in ("import_module", "__import__")
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ):
                yield node.lineno, first.value


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _violations(package: str, allowed: Callable[[str], bool]) -> str:
    """One line per import that is not allowed, naming the module, the line and what it
    imports (for `from a import b`, `a.b`: b may be a module)."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        name = _module_name(path)
        within = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for line, module in _imports(path.read_text(), within):
            if not allowed(module):
                found[f"{path.relative_to(ROOT.parent)}:{line}"] = module
    return "\n".join(f"{where} imports {module}" for where, module in found.items())


def test_core_imports_no_pillar_and_no_outer_layer():
    found = _violations("core", lambda module: not _within(module, OUTSIDE_CORE))
    assert not found, f"core reaches outside its layer:\n{found}"


def test_metrics_imports_numpy_scipy_and_the_standard_library_only():
    def allowed(module: str) -> bool:
        top = module.split(".")[0]
        return top in sys.stdlib_module_names or _within(module, METRICS_MAY_IMPORT)

    found = _violations("metrics", allowed)
    assert not found, f"metrics imports more than numpy, scipy and the standard library:\n{found}"


def test_the_check_sees_imports_inside_functions_relative_ones_and_import_module():
    """What a lazy or relative import, or `import_module`, hides is still seen."""
    source = (
        "import importlib\n"
        "def f():\n"
        "    from ..labeling import models\n"
        "    import assay.api.app\n"
        "    importlib.import_module('assay.curation.items')\n"
        "    from assay import evaluation\n"
    )
    seen = {module for _, module in _imports(source, "assay.core")}
    assert {"assay.labeling.models", "assay.api.app", "assay.curation.items"} <= seen
    assert "assay.evaluation" in seen
    assert all(_within(m, OUTSIDE_CORE) for m in seen - {"importlib", "assay"})
