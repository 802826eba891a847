"""The set-up: pins agree across pyproject, environment.yml and binder; version checks refuse clearly."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

from hepwb import environment

ROOT = Path(__file__).resolve().parent.parent
if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")


def _requirements(lines) -> dict[str, str]:
    """name -> version specifier (markers dropped; a name with two markers must agree on one spec)."""
    out = {}
    for line in lines:
        line = line.split(";")[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        match = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$", line)
        name = match.group(1).lower().replace("_", "-")
        out[name] = match.group(3).replace(" ", "")
    return out


def _pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["dependencies"], project["optional-dependencies"]["test"]


def test_binder_and_conda_pin_the_same_versions_as_pyproject():
    deps, tests = _pyproject()
    expected = _requirements(deps)
    binder = _requirements((ROOT / "binder" / "requirements.txt").read_text().splitlines())
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in conda["dependencies"] if isinstance(item, dict))
    assert _requirements(pip_section) == {**expected, **_requirements(tests)}
    # binder is Linux: TensorFlow comes as tensorflow-cpu there
    assert binder == {k: v for k, v in expected.items() if k != "tensorflow"}
    assert "python=3.11" in conda["dependencies"]
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    assert "pip install" in (ROOT / "binder" / "postBuild").read_text()


def test_the_verified_stack_is_pinned_exactly():
    expected = _requirements(_pyproject()[0])
    for name, version in {"tensorflow-cpu": "2.14.1", "qkeras": "0.9.0", "hls4ml": "1.3.0",
                          "tensorflow-model-optimization": "0.7.5", "pythia8mc": "8.317.2"}.items():
        assert expected[name] == f"=={version}"
    assert expected["numpy"].endswith("<2")


def test_keras_3_is_refused_with_the_reason():
    with pytest.raises(environment.EnvironmentProblem, match="QKeras does not work on Keras 3"):
        environment.check_keras("3.3.3")
    environment.check_keras("2.14.0")


@pytest.mark.parametrize("version", [(3, 8), (3, 12), (3, 13)])
def test_python_outside_tensorflow_range_is_refused(version):
    with pytest.raises(environment.EnvironmentProblem, match=r"needs Python 3\.9-3\.11"):
        environment.check_python(version)


def test_this_environment_passes_and_a_keras_3_beside_it_would_not(monkeypatch):
    from importlib import metadata

    environment.check()
    assert metadata.version("keras").startswith("2.")
    real_version = metadata.version
    monkeypatch.setattr(environment.metadata, "version",
                        lambda name: "3.0.1" if name == "keras" else real_version(name))
    with pytest.raises(environment.EnvironmentProblem, match="Keras 3.0.1 is installed"):
        environment.check()


def test_readme_opens_with_the_two_commands_and_ci_calls_make_test():
    readme = (ROOT / "README.md").read_text()
    head = readme[: readme.index("##")] if "##" in readme else readme
    assert "make run" in head and "make test" in head
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
