"""The packages' imports point one way, downwards (docs/development.md, "Layout"): what every
command shares (``common``: the kernel pin, argument types, error wording, devices) sits
lowest, so the models need not import the extraction to get it, and the extraction need not
import the models. Every ``import`` in every module is read, those inside functions included."""
import ast
import pathlib

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


def project_imports(path):
    """The project packages a module imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {name.split(".")[0] for name in names} & set(ALLOWED)
    return found


def test_each_package_imports_only_the_packages_below_it():
    wrong = []
    for package, allowed in ALLOWED.items():
        for path in sorted((ROOT / package).glob("*.py")):
            extra = project_imports(path) - allowed - {package}
            if extra:
                wrong.append(f"{path.relative_to(ROOT)} imports {', '.join(sorted(extra))}")
    assert wrong == []


def test_the_check_sees_an_upward_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from caffe_extract import pipeline\n")
    assert project_imports(module) == {"caffe_extract"}
