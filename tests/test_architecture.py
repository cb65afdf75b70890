"""The import graph of the package against the layer table in docs/architecture.md."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "softmax_classifier"
TABLE = ROOT / "docs" / "architecture.md"


def layer_table():
    """``{layer: (modules, allowed layers)}`` from the markdown table."""
    rows = {}
    for line in TABLE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        layer = cells[0].strip("`")
        modules = re.findall(r"`([\w.]+)`", cells[1])
        allowed = set(re.findall(r"`([\w.]+)`", cells[2]))
        rows[layer] = (modules, allowed)
    return rows


LAYERS = layer_table()
OWNER = {module: layer for layer, (modules, _) in LAYERS.items() for module in modules}


def layer_of(dotted):
    """The layer of ``softmax_classifier.<dotted>``: its top-level name's row."""
    top = dotted.split(".")[0]
    if top not in OWNER:
        raise AssertionError(f"softmax_classifier.{dotted} is in no row of {TABLE.name}")
    return OWNER[top]


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).with_suffix("")
        parts = list(relative.parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        yield ".".join(parts), path


def package_imports(name, path):
    """``(imported module, names)`` for every import of the package in one file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    here = name.split(".")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("softmax_classifier."):
                    yield alias.name.removeprefix("softmax_classifier."), ()
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = here if is_package else here[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module and node.module.startswith("softmax_classifier"):
                target = node.module.removeprefix("softmax_classifier").lstrip(".")
            else:
                continue
            names = tuple(a.name for a in node.names)
            if target:
                yield target, names
            else:  # from softmax_classifier import x, y: each a module or a lazy name
                for imported in names:
                    yield imported, ()


def test_every_module_has_a_layer():
    for name, _ in modules():
        layer_of(name if name != "__init__" else "__init__")


def test_layer_table_names_known_layers_only():
    for layer, (_, allowed) in LAYERS.items():
        assert allowed <= set(LAYERS) | {"nothing"}, (layer, allowed - set(LAYERS))


@pytest.mark.parametrize("name,path", list(modules()), ids=[n for n, _ in modules()])
def test_imports_point_down_the_layer_table(name, path):
    own = layer_of(name)
    allowed = LAYERS[own][1] | {own}
    for target, _ in package_imports(name, path):
        if target in ("__version__",):  # the constant, from _version via the package
            continue
        assert layer_of(target) in allowed, (
            f"{name} ({own}) imports softmax_classifier.{target} ({layer_of(target)}); "
            f"{TABLE.name} lets {own} import {sorted(allowed)}"
        )


def test_the_command_line_takes_only_the_factory_from_data():
    for name, path in modules():
        if layer_of(name) != "cli":
            continue
        for target, names in package_imports(name, path):
            if target.split(".")[0] == "data":
                assert target == "data" and set(names) <= {"as_source"}, (name, target, names)


def test_no_layer_imports_the_estimator_or_the_command_line_from_below():
    order = list(LAYERS)
    for name, path in modules():
        own = layer_of(name)
        for target, _ in package_imports(name, path):
            for upper in ("estimator", "cli"):
                if layer_of(target) == upper and own != upper:
                    assert order.index(own) > order.index(upper), (name, target)


def test_solver_names_match_the_solvers():
    from softmax_classifier._parameters import SOLVER_NAMES
    from softmax_classifier.solvers import SOLVERS

    assert set(SOLVER_NAMES) == {*SOLVERS, "auto"}


def test_no_source_file_is_longer_than_600_lines_and_the_estimator_500():
    lengths = {
        path.relative_to(PACKAGE).as_posix(): len(path.read_text().splitlines())
        for path in PACKAGE.rglob("*")
        if path.suffix in (".py", ".c", ".h")
    }
    assert lengths["estimator.py"] < 500
    assert {p: n for p, n in lengths.items() if n > 600} == {}
