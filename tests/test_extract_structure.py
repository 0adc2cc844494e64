"""caffe_extract stays in small modules with one job (docs/development.md): no module over 400
lines, no function over 80, no private name (``_x``) imported from another module, no import
circle between its modules; and the pipeline's public names stay importable from
``caffe_extract.pipeline``, where the rest of the project imports them."""
import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "caffe_extract"
MAX_LINES, MAX_FUNCTION = 400, 80


def modules():
    return sorted(PACKAGE.glob("*.py"))


def internal_imports(path):
    """[(module, names)] of the package's own modules that ``path`` imports (anywhere in it)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.append((node.module, [a.name for a in node.names]))
            else:                                        # from . import frames
                found += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("caffe_extract."):
            found.append((node.module.split(".")[1], [a.name for a in node.names]))
    return found


def long_functions(path, limit=MAX_FUNCTION):
    tree = ast.parse(path.read_text())
    return [f"{path.name}:{n.name} ({n.end_lineno - n.lineno + 1} lines)" for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and n.end_lineno - n.lineno + 1 > limit]


def cycles(graph):
    """The import circles of ``graph`` (module -> modules it imports), each as a path."""
    found, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"
    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_module_over_400_lines():
    assert [f"{p.name}: {n}" for p in modules() if (n := len(p.read_text().splitlines())) > MAX_LINES] == []


def test_no_function_over_80_lines():
    assert [f for p in modules() for f in long_functions(p)] == []


def test_no_private_name_imported_from_another_module():
    private = [f"{p.name} imports {module}.{name}" for p in modules()
               for module, names in internal_imports(p) for name in names if name.startswith("_")]
    assert private == []


def test_no_import_circle():
    graph = {p.stem: {m for m, _ in internal_imports(p)} for p in modules()}
    assert cycles(graph) == []


def test_the_checks_can_fail(tmp_path):
    """Each check sees what it forbids."""
    module = tmp_path / "m.py"
    module.write_text("from .pipeline import _forward\ndef f():\n" + "    x = 1\n" * 80)
    assert internal_imports(module) == [("pipeline", ["_forward"])]
    assert long_functions(module) == ["m.py:f (81 lines)"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("name", ["ExtractConfig", "Extraction", "LAYER_BLOBS", "check_views",
                                  "extract", "finished", "kept_note", "merge", "run_chunks",
                                  "saved_chunks", "shard_path", "summarize"])
def test_public_names_stay_in_pipeline(name):
    """The names other packages and commands import from ``caffe_extract.pipeline``."""
    from caffe_extract import pipeline
    assert hasattr(pipeline, name)
