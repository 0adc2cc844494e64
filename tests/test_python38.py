"""The conda route (environment.yml) runs on Python 3.8, the last conda-forge caffe's Python:
the project's code must parse as Python 3.8 and avoid the common 3.9+ additions."""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCES = sorted(p for folder in ("reference", "rnn_models", "caffe_extract", "common",
                                   "configurations", "experiment")
                 for p in (ROOT / folder).rglob("*.py"))
NEWER_METHODS = {"removeprefix", "removesuffix", "is_relative_to", "with_stem"}  # 3.9+
NEWER_KEYWORDS = {"cancel_futures"}    # Executor.shutdown's, 3.9+: a TypeError on 3.8


def newer_than_38(source):
    """Problems of ``source`` for Python 3.8: syntax (raises SyntaxError), 3.9+ str/Path methods
    and keywords, dict | dict."""
    problems = []
    for node in ast.walk(ast.parse(source, feature_version=(3, 8))):
        if isinstance(node, ast.Attribute) and node.attr in NEWER_METHODS:
            problems.append(f"line {node.lineno}: .{node.attr}")
        if isinstance(node, ast.keyword) and node.arg in NEWER_KEYWORDS:
            problems.append(f"line {node.value.lineno}: {node.arg}=")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr) and any(
                isinstance(side, (ast.Dict, ast.DictComp)) for side in (node.left, node.right)):
            problems.append(f"line {node.lineno}: dict | dict")
    return problems


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_runs_on_python_38(path):
    assert newer_than_38(path.read_text()) == []


def test_the_check_can_fail():
    assert sorted(newer_than_38("name.removesuffix('_f')\nx = {1: 2} | other\n"
                                "pool.shutdown(wait=True, cancel_futures=True)\n")) == \
        ["line 1: .removesuffix", "line 2: dict | dict", "line 3: cancel_futures="]
    with pytest.raises(SyntaxError):
        newer_than_38("match x:\n    case 1:\n        pass\n")
