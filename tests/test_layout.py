"""The layout's rules (docs/development.md, "Layout"), read from the code itself: every
``import`` of every module, those inside functions included, and every function's length.

- The packages' imports point one way, downwards: what every command shares (``common``: the
  kernel pin, argument types, error wording, devices, processes) sits lowest, so the models need
  not import the extraction to get it, and the extraction need not import the models.
- No import circle, between modules or between packages (``experiment``'s subpackages count as
  packages: its engine, ``experiment.train``, must not need the studies built on it).
- No private name (``_x``) imported from another module: what another module needs is public.
- No file over 400 lines, no function over 80: a module has one job, a function one step.
"""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
#: package -> the project packages it may import
ALLOWED = {
    "common": set(),
    "reference": set(),
    "configurations": {"reference"},
    "rnn_models": {"common", "reference"},
    "caffe_extract": {"common", "configurations"},
    "experiment": {"common", "reference", "configurations", "rnn_models", "caffe_extract"},
}
MAX_FILE_LINES, MAX_FUNCTION_LINES = 400, 80


def modules(root=ROOT):
    """{dotted name: path} of every module of the project's packages."""
    found = {}
    for package in ALLOWED:
        for path in sorted((root / package).glob("**/*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports(name, path, known):
    """[(imported module, names imported from it)] of module ``name``, relative imports
    resolved, each to the deepest module of ``known`` it names."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            names = [alias.name for alias in node.names]
            submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in known]
            out += [(m, []) for m in submodules]
            rest = [n for n in names if f"{base}.{n}" not in known]
            if rest:
                out.append((base, rest))
    resolved = []
    for target, names in out:
        top = target.split(".")[0]
        while target and target not in known:
            target = target.rpartition(".")[0]
        target = target or (top if top in ALLOWED else "")       # a package not in this tree
        if target and target != name:
            resolved.append((target, names))
    return resolved


def graph(root=ROOT):
    known = modules(root)
    return known, {name: imports(name, path, known) for name, path in known.items()}


def unit(module):
    """The package a module belongs to for the circle rule: ``experiment``'s subpackages
    (``experiment.train``, ...) each count as one; elsewhere the top-level package."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "experiment" and len(parts) > 1 else parts[0]


def circles(edges):
    """The strongly connected components of more than one node of ``edges`` {node: {node}}
    (Tarjan), each sorted: every import circle."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))
    for v in list(edges):
        if v not in index:
            visit(v)
    return found


def test_each_package_imports_only_the_packages_below_it():
    known, edges = graph()
    wrong = sorted({f"{name} imports {target}" for name, targets in edges.items()
                    for target, _ in targets
                    if target.split(".")[0] not in ALLOWED[name.split(".")[0]]
                    | {name.split(".")[0]}})
    assert wrong == []


def test_no_import_circle_between_modules_or_packages():
    _, edges = graph()
    between_modules = {name: {t for t, _ in targets} for name, targets in edges.items()}
    between_packages = {}
    for name, targets in edges.items():
        for target, _ in targets:
            if unit(name) != unit(target):
                between_packages.setdefault(unit(name), set()).add(unit(target))
    assert circles(between_modules) == []
    assert circles(between_packages) == []


def test_no_private_name_is_imported_from_another_module():
    _, edges = graph()
    wrong = [f"{name} imports {n} from {target}" for name, targets in edges.items()
             for target, names in targets for n in names
             if n.startswith("_") and not n.startswith("__")]
    assert wrong == []


def test_files_and_functions_are_short():
    long_files, long_functions = [], []
    for name, path in modules().items():
        text = path.read_text()
        if len(text.splitlines()) > MAX_FILE_LINES:
            long_files.append(f"{path.relative_to(ROOT)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long_functions.append(f"{name}.{node.name}: {length} lines")
    assert long_files == [] and long_functions == []


def write(root, files):
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize("files, rule", [
    ({"caffe_extract/__init__.py": "", "caffe_extract/a.py": "def f():\n    from experiment "
      "import train\n"}, "upward"),
    ({"experiment/__init__.py": "", "experiment/a/__init__.py": "", "experiment/a/x.py":
      "from . import y\n", "experiment/a/y.py": "def f():\n    from .x import g\n"}, "circle"),
    ({"experiment/__init__.py": "", "experiment/a/__init__.py": "", "experiment/b/__init__.py":
      "", "experiment/a/x.py": "from experiment.b import y\n", "experiment/b/y.py":
      "def f():\n    from experiment.a.x import g\n"}, "package circle"),
    ({"common/__init__.py": "", "common/a.py": "from .b import _hidden\n", "common/b.py":
      "_hidden = 1\n"}, "private"),
])
def test_the_checks_see_what_they_forbid(tmp_path, files, rule):
    """Each rule catches its own kind: an upward import inside a function, a circle inside a
    package made by a function's import, a circle between two subpackages, a private name."""
    write(tmp_path, files)
    known, edges = graph(tmp_path)
    if rule == "upward":
        assert [t for t, _ in edges["caffe_extract.a"]] == ["experiment"]
    elif rule == "circle":
        assert circles({n: {t for t, _ in ts} for n, ts in edges.items()}) == \
            [["experiment.a.x", "experiment.a.y"]]
    elif rule == "package circle":
        packages = {}
        for name, targets in edges.items():
            for target, _ in targets:
                if unit(name) != unit(target):
                    packages.setdefault(unit(name), set()).add(unit(target))
        assert circles(packages) == [["experiment.a", "experiment.b"]]
    else:
        assert ("common.b", ["_hidden"]) in edges["common.a"]
