"""constraints.txt: the versions the numbers were measured with, which ``make setup`` installs
(the demo's stage digests depend on them: ffmpeg's encoder, skimage's resize, numpy's sums)."""
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def normal(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned():
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    return {normal(name): version for name, version in
            (line.split("==") for line in lines if line and not line.startswith("#"))}


def dependencies():
    """The names pyproject.toml's dependencies and test extra list."""
    text = (ROOT / "pyproject.toml").read_text()
    block = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M)[1]
    names = re.findall(r'^\s*"([A-Za-z0-9_.-]+)', block, re.M)
    names += re.findall(r'test = \["([A-Za-z0-9_.-]+)', text)
    return [normal(n) for n in names]


def test_every_dependency_but_torch_has_its_version():
    """torch is make's TORCH (its build: CPU or CUDA); every other one is pinned, exactly."""
    versions = pinned()
    missing = [n for n in dependencies() if n != "torch" and n not in versions]
    assert dependencies() and not missing, missing
    assert "torch" not in versions


@pytest.mark.skipif(Path(sys.prefix).name != ".venv", reason="not the .venv make setup made")
def test_the_venv_has_the_pinned_versions():
    wrong = {name: (metadata.version(name), version) for name, version in pinned().items()
             if metadata.version(name) != version}
    assert not wrong, f"(installed, pinned): {wrong}; rerun make setup"
