"""The package's structure: every import points down the layers, and no module or function grows too big.

The layers, lowest first, are those of the README's layout section. A module may import its own
unit (the same top-level module or subpackage) and any lower layer, never a higher one nor another
unit of its own layer. A ``__main__.py`` is an app's entry point, in the top layer whatever its unit.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tuneahead"

LAYERS = [
    {"artifacts"},
    {"data"},
    {"model"},
    {"inference"},
    {"synthetic", "predict"},
    {"risk", "selection"},
    {"screen", "explain", "plots", "baselines", "integrations", "scheduler"},
    {"validation", "evaluation"},
    {"pipeline"},
    {"fit", "evaluate", "probe", "__init__", "__main__"},
]
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _unit(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    if path.name == "__main__.py":
        return "__main__"
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imported_units(path: Path) -> set[str]:
    """The package units that ``path`` imports, lazily or not."""
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    units = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                parts = (*base, *(node.module.split(".") if node.module else ()))
            else:
                parts = tuple((node.module or "").split("."))
            if parts[0] != "tuneahead":
                continue
            if len(parts) > 1:
                units.add(parts[1])
            else:  # ``from . import x`` at the top: x itself
                units.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "tuneahead" and len(parts) > 1:
                    units.add(parts[1])
    return units


def test_every_unit_has_a_layer():
    units = {_unit(p) for p in _modules()}
    assert units <= set(RANK), f"units without a layer: {sorted(units - set(RANK))}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    unit = _unit(path)
    own = {unit, path.relative_to(PACKAGE).parts[0]}  # an app's entry point imports its own package too
    for other in _imported_units(path) - own:
        assert RANK[other] < RANK[unit], f"{path.relative_to(PACKAGE)} ({unit}) imports {other}, not a lower layer"


def test_data_never_imports_the_model_side():
    for path in (PACKAGE / "data").rglob("*.py"):
        assert not _imported_units(path) & {"model", "risk", "inference"}, path


def test_modules_and_functions_stay_small():
    too_big = []
    for path in _modules():
        source = path.read_text()
        if len(source.splitlines()) > MAX_MODULE_LINES:
            too_big.append(f"{path.relative_to(PACKAGE)}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_big.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}: {length} lines")
    assert not too_big, too_big
