"""A notebook's parameters, read from its ``parameters`` cell and checked before a kernel starts.

Owns: what each notebook accepts (``papermill.inspect_notebook`` reads the tagged cell: names,
defaults, annotations, the comment as help) and the check of a run's parameters against it,
so that ``hepwb run -p epoch=200`` or ``-p max_events=abc`` is refused with one line instead of
running with the defaults or failing deep inside a cell.

The expected type of a parameter is its annotation when it has one (``max_events: Optional[int]
= None``), else the type of its default (``epochs = 30`` takes an integer; ``hidden = [128, 128]``
a list of integers; a float default also takes an integer). A ``None`` default without an
annotation accepts anything.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

from hepwb.messages import did_you_mean


class ParameterError(ValueError):
    """An unknown parameter name, or a value of the wrong type."""


@dataclass(frozen=True)
class Kind:
    """An expected parameter type: ``accepts(value)`` and a description for messages."""

    name: str  # "int", "float", "str", "bool", "list", "dict", "any", "optional"
    inner: Kind | None = None  # the element type of a list, the type beside None of an optional

    def accepts(self, value) -> bool:
        if self.name == "any":
            return True
        if self.name == "optional":
            return value is None or self.inner.accepts(value)
        if self.name == "list":
            return isinstance(value, list) and (self.inner is None or all(self.inner.accepts(v) for v in value))
        if isinstance(value, bool):
            return self.name == "bool"
        python_types = {"int": int, "float": (int, float), "str": str, "bool": bool, "dict": dict}
        return isinstance(value, python_types[self.name])

    def describe(self, plural: bool = False) -> str:
        singular = {"int": "an integer", "float": "a number", "str": "a string", "bool": "True or False",
                    "dict": "a dict", "any": "anything"}
        several = {"int": "integers", "float": "numbers", "str": "strings", "bool": "booleans", "dict": "dicts",
                   "any": "values"}
        if self.name == "optional":
            return f"{self.inner.describe(plural)} or None"
        if self.name == "list":
            return f"a list of {self.inner.describe(plural=True)}" if self.inner else "a list"
        return several[self.name] if plural else singular[self.name]


@dataclass(frozen=True)
class Parameter:
    name: str
    default: object
    kind: Kind
    help: str


_NAMES = {"int": "int", "float": "float", "str": "str", "bool": "bool", "dict": "dict", "Dict": "dict",
          "list": "list", "List": "list", "Any": "any"}


def kind_of_annotation(text: str) -> Kind | None:
    """``"Optional[int]"`` -> Kind; None for an annotation this module does not understand."""
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        return None
    return _kind_of_node(node)


def _kind_of_node(node) -> Kind | None:
    if isinstance(node, ast.Name) and node.id in _NAMES:
        return Kind(_NAMES[node.id])
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        inner = _kind_of_node(node.slice)
        if node.value.id == "Optional" and inner is not None:
            return Kind("optional", inner)
        if _NAMES.get(node.value.id) == "list":
            return Kind("list", inner)
        if _NAMES.get(node.value.id) == "dict":
            return Kind("dict")
    return None


def kind_of_default(value) -> Kind:
    """The type a default implies: ``30`` -> integer, ``[16, 8]`` -> list of integers, ``None`` -> anything."""
    if value is None:
        return Kind("any")
    if isinstance(value, list):
        kinds = {kind_of_default(v) for v in value}
        if kinds == {Kind("int"), Kind("float")}:
            kinds = {Kind("float")}
        return Kind("list", kinds.pop() if len(kinds) == 1 else None)
    for name, python_type in (("bool", bool), ("int", int), ("float", float), ("str", str), ("dict", dict)):
        if isinstance(value, python_type):
            return Kind(name)
    return Kind("any")


def notebook_parameters(notebook: Path | str) -> dict[str, Parameter]:
    """The parameters of a notebook's tagged cell: name -> Parameter (default, expected kind, help)."""
    path = Path(notebook).resolve()
    return dict(_inspect(path, path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=64)
def _inspect(path: Path, _mtime: int) -> tuple:
    import papermill

    found = []
    for name, info in papermill.inspect_notebook(str(path)).items():
        try:
            default = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError):
            default = None  # an expression, e.g. Path(...): its type is not checked
        annotation = info["inferred_type_name"]
        kind = (kind_of_annotation(annotation) if annotation != "None" else None) or kind_of_default(default)
        found.append((name, Parameter(name, default, kind, info["help"])))
    return tuple(found)


def check(notebook: Path | str, values: dict, known: dict[str, Parameter] | None = None) -> None:
    """Raise ParameterError (one line) for an unknown name or a value of the wrong type."""
    known = notebook_parameters(notebook) if known is None else known
    stem = Path(notebook).stem
    for name, value in values.items():
        if name not in known:
            raise ParameterError(f"{stem} has no parameter {name!r}{did_you_mean(name, known)}; "
                                 f"its parameters: {', '.join(known)}")
        kind = known[name].kind
        if not kind.accepts(value):
            raise ParameterError(f"{stem}: {name}: expected {kind.describe()}, got {value!r}")


def unknown_everywhere(notebooks: list[Path], values: dict) -> None:
    """Raise ParameterError for a parameter that none of ``notebooks`` has (several notebooks in one run)."""
    known = {}
    for path in notebooks:
        known.update(notebook_parameters(path))
    for name in values:
        if name not in known:
            stems = [p.stem for p in notebooks]
            raise ParameterError(f"none of {', '.join(stems)} has a parameter {name!r}{did_you_mean(name, known)}")
