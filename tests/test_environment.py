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
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _stack_requirements(stack: str) -> dict[str, str]:
    """pyproject's dependencies with a stack's extra (hepwb[...] in an extra followed), the stack's pins winning."""
    project = _pyproject()
    extras = project["optional-dependencies"]

    def flat(name):
        for line in extras[name]:
            yield from flat(line[len("hepwb["):-1]) if line.startswith("hepwb[") else [line]

    return {**_requirements(project["dependencies"]), **_requirements(flat(stack))}


def _conda(name: str) -> tuple[dict[str, str], list]:
    conda = yaml.safe_load((ROOT / name).read_text())
    pip_section = next(item["pip"] for item in conda["dependencies"] if isinstance(item, dict))
    return _requirements(pip_section), conda["dependencies"]


def test_binder_and_conda_pin_the_same_versions_as_pyproject():
    tests = _requirements(_pyproject()["optional-dependencies"]["test"])
    for stack, name, python in (("keras2", "environment.yml", "3.11"), ("keras3", "environment-keras3.yml", "3.13")):
        pins, dependencies = _conda(name)
        assert pins == {**_stack_requirements(stack), **tests}, name
        assert f"python={python}" in dependencies
    # binder is Linux and the keras2 stack: TensorFlow comes as tensorflow-cpu there
    binder = _requirements((ROOT / "binder" / "requirements.txt").read_text().splitlines())
    assert binder == {k: v for k, v in _stack_requirements("keras2").items() if k != "tensorflow"}
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    assert "pip install" in (ROOT / "binder" / "postBuild").read_text()


def test_the_verified_stacks_are_pinned_exactly():
    keras2, keras3 = _stack_requirements("keras2"), _stack_requirements("keras3")
    for name, version in {"tensorflow-cpu": "2.14.1", "qkeras": "0.9.0", "hls4ml": "1.3.0",
                          "tensorflow-model-optimization": "0.7.5", "pythia8mc": "8.317.2"}.items():
        assert keras2[name] == f"=={version}"
    assert keras2["numpy"].endswith("<2")
    for name, version in {"tensorflow-cpu": "2.21.0", "keras": "3.15.1", "hgq2": "0.2.0", "hls4ml": "1.3.0"}.items():
        assert keras3[name] == f"=={version}"
    assert keras3["numpy"] == ">=2" and "qkeras" not in keras3 and "tensorflow-model-optimization" not in keras3
    assert "tensorflow-cpu" not in _requirements(_pyproject()["optional-dependencies"]["colab"])


def test_each_stack_is_found_from_its_keras_and_a_mixed_one_is_refused_with_the_reason():
    assert environment.stack_for("2.14.0").name == "keras2" and environment.stack_for("3.15.1").name == "keras3"
    installed = {"keras": "3.15.1", "qkeras": "0.9.0"}
    with pytest.raises(environment.EnvironmentProblem, match="qkeras is installed beside Keras 3.15.1.*keras2 stack"):
        environment.check_stack(installed=installed.get)
    installed = {"keras": "2.14.0", "hgq2": "0.2.0"}
    with pytest.raises(environment.EnvironmentProblem, match="hgq2 is installed beside Keras 2.14.0.*keras3 stack"):
        environment.check_stack(installed=installed.get)
    environment.check_stack(installed={"keras": "3.15.1", "hgq2": "0.2.0"}.get)
    environment.check_stack(installed={}.get)  # nothing installed yet: nothing to refuse


@pytest.mark.parametrize("version", [(3, 8), (3, 14)])
def test_python_outside_both_stacks_is_refused(version):
    with pytest.raises(environment.EnvironmentProblem, match=r"needs Python 3\.9-3\.13"):
        environment.check_python(version)


@pytest.mark.parametrize(("stack", "version"), [("keras2", (3, 12)), ("keras2", (3, 13)), ("keras3", (3, 9))])
def test_python_outside_a_stacks_range_is_refused(stack, version):
    with pytest.raises(environment.EnvironmentProblem, match=f"its {stack} stack needs Python"):
        environment.check_python(version, environment.STACKS[stack])


def test_make_chooses_keras2_where_it_runs_and_keras3_elsewhere():
    assert [environment.default_stack(v) for v in [(3, 9), (3, 11), (3, 12), (3, 13)]] == [
        "keras2", "keras2", "keras3", "keras3"]


def test_this_environment_passes_and_is_one_stack(monkeypatch):
    environment.check()
    stack = environment.installed_stack()
    from importlib import metadata

    assert metadata.version("keras").startswith(f"{stack.keras_major}.")
    assert metadata.version(stack.quantization)
    real_version = environment._version
    foreign = stack.foreign[0]
    monkeypatch.setattr(environment, "_version", lambda name: "1.0" if name == foreign else real_version(name))
    with pytest.raises(environment.EnvironmentProblem, match=f"{foreign} is installed beside"):
        environment.check_stack(installed=environment._version)


def test_readme_opens_with_the_two_commands_and_ci_calls_make_test():
    readme = (ROOT / "README.md").read_text()
    head = readme[: readme.index("##")] if "##" in readme else readme
    assert "make run" in head and "make test" in head
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
