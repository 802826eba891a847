"""The house of hepwb: every module sits in a room, a room imports only the rooms below it, nothing imports
in a circle (function-level imports included), a function-level import says why, a long module says why,
and no notebook imports the runner.

The import graph is built from the source with ``ast``, so an import hidden inside a function counts
as much as one at the top of a module.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "hepwb"

#: the rooms from the bottom up (docs/design.md): a module may import its own room's modules and those of
#: the rooms listed before its own, never one listed after it
ROOMS = (
    ("hepwb", "constants", "quiet", "environment", "messages", "progress"),
    ("data",),
    ("notebook", "sim"),
    ("samples", "metrics"),
    ("models", "fpga", "plotting"),
    ("studies", "widgets"),
    ("run",),
    ("__main__",),
)
RANK = {room: rank for rank, rooms in enumerate(ROOMS) for room in rooms}
#: a module longer than this says at its top why it is kept in one piece
MAX_LINES = 400


def modules(package: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``package`` (a package is its ``__init__``)."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def room(module: str) -> str:
    """The room of a module: the part of its name after the package, ``hepwb`` for the package itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imports(module: str, path: Path, known: dict[str, Path]) -> list[dict]:
    """The package's own modules that ``module`` imports: target, line, and whether inside a function."""
    package = module.split(".")[0]
    lines = path.read_text().splitlines()
    found = []

    def add(target: str, node, in_function: bool):
        found.append({"target": target, "line": node.lineno, "in_function": in_function,
                      "text": lines[node.lineno - 1], "above": lines[node.lineno - 2] if node.lineno > 1 else ""})

    def visit(node, in_function: bool):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == package:
                    add(alias.name, node, in_function)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package
                anchor = module.split(".")[: -node.level] if path.name != "__init__.py" else \
                    module.split(".")[: len(module.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            if base.split(".")[0] == package:
                for alias in node.names:
                    add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base, node, in_function)
        for child in ast.iter_child_nodes(node):
            visit(child, in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(path.read_text()), False)
    return found


def import_graph(package: Path) -> dict[str, list[dict]]:
    known = modules(package)
    return {module: imports(module, path, known) for module, path in known.items()}


def circles(graph: dict[str, list[dict]]) -> list[list[str]]:
    """Every set of modules that import one another in a circle (Tarjan's strongly connected components)."""
    edges = {module: sorted({i["target"] for i in found if i["target"] in graph and i["target"] != module})
             for module, found in graph.items()}
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def strongconnect(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            strongconnect(v)
    return found


def upward(graph: dict[str, list[dict]]) -> list[str]:
    """Imports from a module to one in a room above its own."""
    return [f"{module} (room {room(module)}) imports {i['target']} (room {room(i['target'])}), line {i['line']}"
            for module, found in graph.items() for i in found
            if RANK.get(room(i["target"]), -1) > RANK.get(room(module), -1)]


def unexplained_function_imports(graph: dict[str, list[dict]]) -> list[str]:
    """Function-level imports of the package's own modules without a comment (on the line or above it)."""
    return [f"{module}, line {i['line']}: {i['text'].strip()}" for module, found in graph.items() for i in found
            if i["in_function"] and "#" not in i["text"] and not i["above"].strip().startswith("#")]


GRAPH = import_graph(PACKAGE)


def test_every_module_sits_in_a_room():
    assert {room(module) for module in GRAPH} <= set(RANK), sorted({room(m) for m in GRAPH} - set(RANK))


def test_no_module_imports_a_room_above_its_own():
    assert not upward(GRAPH), "\n".join(upward(GRAPH))


def test_no_import_circle_not_even_through_function_level_imports():
    assert not circles(GRAPH), circles(GRAPH)


def test_function_level_imports_of_hepwb_say_why():
    """Only where they keep a heavy start-up away (a command's libraries, Dask for a cluster), with the reason."""
    assert not unexplained_function_imports(GRAPH), "\n".join(unexplained_function_imports(GRAPH))


def test_a_module_longer_than_400_lines_says_why_at_its_top():
    long = {module: len(path.read_text().splitlines()) for module, path in modules(PACKAGE).items()
            if len(path.read_text().splitlines()) > MAX_LINES}
    silent = [module for module in long
              if "kept in one module" not in (ast.get_docstring(ast.parse(modules(PACKAGE)[module].read_text())) or "")]
    assert not silent, f"modules over {MAX_LINES} lines with no 'kept in one module because ...' at the top: " \
                       f"{ {m: long[m] for m in silent} }"


def test_no_notebook_imports_the_runner():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        code = "\n".join("".join(cell["source"]) for cell in json.loads(path.read_text())["cells"]
                         if cell["cell_type"] == "code")
        assert "hepwb.run" not in code and "from hepwb import run" not in code, path.name


def test_the_checks_find_a_circle_an_upward_import_and_an_unexplained_one(tmp_path):
    """Break the rules on purpose in a package of three modules: each check must say so."""
    package = tmp_path / "hepwb"
    (package / "models").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "models" / "__init__.py").write_text("")
    (package / "data.py").write_text("def load():\n    from hepwb.models import taggers\n")
    (package / "models" / "taggers.py").write_text("from hepwb import data\n")
    graph = import_graph(package)
    assert circles(graph) == [["hepwb.data", "hepwb.models.taggers"]]
    assert upward(graph) == ["hepwb.data (room data) imports hepwb.models.taggers (room models), line 2"]
    assert unexplained_function_imports(graph) == ["hepwb.data, line 2: from hepwb.models import taggers"]
    (package / "data.py").write_text("def load():\n    from hepwb.models import taggers  # lazy: TensorFlow\n")
    assert not unexplained_function_imports(import_graph(package))


@pytest.mark.parametrize("module", sorted(GRAPH), ids=str)
def test_every_module_says_what_it_is_for(module):
    assert ast.get_docstring(ast.parse(modules(PACKAGE)[module].read_text())), f"{module} has no docstring"
