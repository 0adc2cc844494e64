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


def upward_imports(edges):
    """Each import of a package that is not below the importer's (``ALLOWED``)."""
    return sorted({f"{name} imports {target}" for name, targets in edges.items()
                   for target, _ in targets
                   if target.split(".")[0] not in ALLOWED[name.split(".")[0]]
                   | {name.split(".")[0]}})


def module_circles(edges):
    return circles({name: {t for t, _ in targets} for name, targets in edges.items()})


def package_circles(edges):
    between = {}
    for name, targets in edges.items():
        for target, _ in targets:
            if unit(name) != unit(target):
                between.setdefault(unit(name), set()).add(unit(target))
    return circles(between)


def private_imports(edges):
    return [f"{name} imports {n} from {target}" for name, targets in edges.items()
            for target, names in targets for n in names
            if n.startswith("_") and not n.startswith("__")]


def test_each_package_imports_only_the_packages_below_it():
    assert upward_imports(graph()[1]) == []


def test_no_import_circle_between_modules_or_packages():
    _, edges = graph()
    assert module_circles(edges) == [] and package_circles(edges) == []


def test_no_private_name_is_imported_from_another_module():
    assert private_imports(graph()[1]) == []


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


@pytest.mark.parametrize("files, rule, found", [
    ({"caffe_extract/__init__.py": "", "caffe_extract/a.py": "def f():\n    from experiment "
      "import train\n"}, upward_imports, ["caffe_extract.a imports experiment"]),
    ({"experiment/__init__.py": "", "experiment/a/__init__.py": "", "experiment/a/x.py":
      "from . import y\n", "experiment/a/y.py": "def f():\n    from .x import g\n"}, module_circles,
     [["experiment.a.x", "experiment.a.y"]]),
    ({"experiment/__init__.py": "", "experiment/a/__init__.py": "", "experiment/b/__init__.py":
      "", "experiment/a/x.py": "from experiment.b import y\n", "experiment/b/y.py":
      "def f():\n    from experiment.a.x import g\n"}, package_circles,
     [["experiment.a", "experiment.b"]]),
    ({"common/__init__.py": "", "common/a.py": "from .b import _hidden\n", "common/b.py":
      "_hidden = 1\n"}, private_imports,
     ["common.a imports _hidden from common.b"]),
])
def test_the_checks_see_what_they_forbid(tmp_path, files, rule, found):
    """Each rule finds its own kind, and only that, in a tree that breaks it once: an upward
    import inside a function, a circle inside a package made by a function's import, a circle
    between two subpackages, a private name."""
    write(tmp_path, files)
    edges = graph(tmp_path)[1]
    assert rule(edges) == found
    others = {upward_imports, module_circles, package_circles, private_imports} - {rule}
    if rule is package_circles:                    # a.x -> b.y -> a.x: the modules' circle too
        others.remove(module_circles)
    assert [other.__name__ for other in others if other(edges)] == []
