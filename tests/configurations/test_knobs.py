"""Every knob is set once (``configurations``): the code reads it from there, and this test
reads every module of the packages and fails where code sets a knob's value itself.

What counts as setting it, in any module of ``common``, ``rnn_models``, ``caffe_extract`` and
``experiment`` (``configurations`` holds the values; ``reference`` holds the three that are the
models' own defaults, and configurations reads them there):

- a name of the knob (``KNOB_NAMES``: its public constant, its dataclass field, its
  ``--option``, its keyword) given a literal equal to the knob's value: a module or class
  constant, a dataclass field's default, a function's default, ``add_argument(default=...)``,
  a call's keyword;
- a knob's public constant (``CONSTANTS``: ``EPOCHS``, ``WEIGHTS``, ...) assigned anything not
  read from ``configurations``, whatever its value;
- a knob's value that cannot be an accident (a grid, a dict, a tuple: ``(0.1, 0.25, 0.5,
  1.0)``, the Farneback parameters), written as a literal anywhere.
"""
import ast
import pathlib
from dataclasses import fields

import pytest

import configurations

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = ("common", "rnn_models", "caffe_extract", "experiment")
HOMES = {"EXTRACTION": configurations.EXTRACTION, "TRAINING": configurations.TRAINING,
         "FUTURE": configurations.FUTURE}

#: knob ("HOME.field") -> the names code gives it (module constants, fields, options,
#: keywords); "name@module": that name only in that module (a path part or file stem), where a
#: name as common as ``epochs`` means this knob.
KNOB_NAMES = {
    "EXTRACTION.n_frames": {"N_FRAMES", "n_frames"},
    "EXTRACTION.span": {"SPAN", "span"},
    "EXTRACTION.crop": {"SIZE", "crop", "crop_dims"},
    "EXTRACTION.farneback": {"FARNEBACK"},
    "EXTRACTION.flow_offset": {"OFFSET@flow"},
    "EXTRACTION.flow_scale": {"SCALE@flow"},
    "EXTRACTION.view_dims": {"IMAGE_DIMS", "image_dims", "view_dims"},
    "EXTRACTION.n_views": {"N_VIEWS", "n_views"},
    "TRAINING.lrs": {"lr", "lrs"},
    "TRAINING.hidden": {"hidden", "hiddens", "hidden_dim", "H@bench"},
    "TRAINING.seeds": {"seeds"},
    "TRAINING.epochs": {"epochs", "EPOCHS@bench", "EPOCHS@device_bench"},
    "TRAINING.patience": {"patience"},
    "TRAINING.batch_size": {"batch_size", "BATCH"},
    "TRAINING.momentum": {"momentum"},
    "TRAINING.weight_decay": {"weight_decay"},
    "TRAINING.dropout": {"dropout"},
    "TRAINING.val_groups": {"val_groups"},
    "TRAINING.split": {"split", "splits"},
    "TRAINING.tconv_width": {"width"},
    "FUTURE.hidden": {"hidden@future"},
    "FUTURE.lrs": {"lr@future", "lrs@future"},
    "FUTURE.epochs": {"epochs@future"},
    "FUTURE.patience": {"patience@future"},
    "FUTURE.seeds": {"seeds@future"},
    "FUTURE.reference": {"REFERENCE@future"},
    "FUTURE.flow_average_lrs": {"FLOW_AVERAGE_LRS"},
    "FUTURE.fusion_weights": {"WEIGHTS@fusion", "weights@fusion"},
    "FUTURE.finetune_epochs": {"EPOCHS@finetune", "epochs@finetune"},
    "FUTURE.finetune_fc_lr_scale": {"FC_LR_SCALE", "fc_lr_scale"},
    "FUTURE.finetune_fc_dropout": {"DROPOUT@finetune", "fc_dropout", "dropout@finetune"},
    "FUTURE.pretrain_lr": {"lr@pretrain"},
    "FUTURE.pretrain_epochs": {"epochs@pretrain"},
    "FUTURE.pretrain_split": {"split@pretrain"},
    "FUTURE.label_fractions": {"FRACTIONS", "fractions"},
}
#: The knobs' public constants in the code (name -> its module): there, assigned only from
#: configurations, whatever the value.
CONSTANTS = {"N_FRAMES": "frames", "SPAN": "frames", "SIZE": "preprocessing",
             "FARNEBACK": "flow", "OFFSET": "flow", "SCALE": "flow", "IMAGE_DIMS": "views",
             "N_VIEWS": "views", "REFERENCE": "future", "FLOW_AVERAGE_LRS": "future",
             "WEIGHTS": "fusion", "EPOCHS": "finetune", "FC_LR_SCALE": "finetune",
             "FRACTIONS": "pretrain"}
#: Modules the scan skips, each with its reason.
EXEMPT = {"theano_step.py": "a script for the Theano oracle's own venv (.venv-oracle): it "
                            "imports nothing of the project, so it cannot read configurations"}
#: Values too common to tell a knob by in a call's keyword (patience=0 in a bench's run).
COMMON = {0, 1}


def in_module(scope, path):
    """Whether ``path`` (relative) is module ``scope``: a folder of its path or its file stem,
    so that a module moved into a package keeps its scope."""
    path = pathlib.PurePath(path)
    return scope in path.parts[:-1] or path.stem == scope


def knob_values():
    """{"HOME.field": value} of every shared knob."""
    return {f"{home}.{f.name}": getattr(value, f.name)
            for home, value in HOMES.items() for f in fields(value)}


def normal(value):
    """Lists as tuples, so that a CLI's default=[0.003, 0.001] equals the grid (0.003, 0.001)."""
    if isinstance(value, (list, tuple)):
        return tuple(normal(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, normal(v)) for k, v in value.items()))
    return value


def literal(node):
    """The node's value when it is a literal (numbers, strings, tuples, lists, dicts), else a
    sentinel."""
    try:
        return normal(ast.literal_eval(node))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return NOT_LITERAL


NOT_LITERAL = object()


def reads_configurations(node):
    """Whether an expression reads a knob home: configurations.X, or FUTURE / TRAINING /
    EXTRACTION imported from it."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in {"configurations", *HOMES}:
            return True
    return False


def option_name(call):
    """add_argument("--val-groups", ...) -> "val_groups"."""
    for arg in call.args:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.startswith("--"):
            return arg.value[2:].replace("-", "_")
    return None


def sites(tree):
    """(name, value node, line, kind) for every place a value is given a name: assignments
    (module, class and function level), function defaults, call keywords (an
    ``add_argument``'s ``default`` named by its option), the string keys of a dict (options
    passed as ``**{"dropout": 0.5}``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    yield target.id, node.value, node.lineno, "assignment"
                elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    for t, v in zip(target.elts, node.value.elts):
                        if isinstance(t, ast.Name):
                            yield t.id, v, node.lineno, "assignment"
                elif isinstance(target, ast.Tuple):
                    for t in target.elts:
                        if isinstance(t, ast.Name):
                            yield t.id, node.value, node.lineno, "assignment"
        elif isinstance(node, ast.AnnAssign) and node.value is not None \
                and isinstance(node.target, ast.Name):
            yield node.target.id, node.value, node.lineno, "field"
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            a = node.args
            positional = a.posonlyargs + a.args
            for arg, default in zip(positional[len(positional) - len(a.defaults):], a.defaults):
                yield arg.arg, default, default.lineno, "default"
            for arg, default in zip(a.kwonlyargs, a.kw_defaults):
                if default is not None:
                    yield arg.arg, default, default.lineno, "default"
        elif isinstance(node, ast.Call):
            is_option = isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument"
            for keyword in node.keywords:
                if keyword.arg == "default" and is_option:
                    name = option_name(node)
                    if name:
                        yield name, keyword.value, keyword.value.lineno, "--option default"
                elif keyword.arg:
                    yield keyword.arg, keyword.value, keyword.value.lineno, "keyword"
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    yield key.value, value, value.lineno, "keyword"


def structured_values():
    """The knobs' values that no literal elsewhere can equal by accident."""
    return {normal(v): knob for knob, v in knob_values().items()
            if isinstance(v, (tuple, dict)) and len(v) >= 2}


def violations(source, path="<module>"):
    """Where ``source`` sets a knob's value (each a line of the failure message)."""
    tree = ast.parse(source)
    values = {knob: normal(v) for knob, v in knob_values().items()}
    by_name = {}
    for knob, names in KNOB_NAMES.items():
        for entry in names:
            name, _, scope = entry.partition("@")
            if not scope or in_module(scope, path):
                by_name.setdefault(name, []).append(knob)
    structured = structured_values()
    found = []
    for name, node, line, kind in sites(tree):
        value = literal(node)
        if name in CONSTANTS and in_module(CONSTANTS[name], path) and kind == "assignment" \
                and not reads_configurations(node):
            found.append(f"{path}:{line}: {name} is assigned here, not read from configurations")
            continue
        if value is NOT_LITERAL or isinstance(value, bool) \
                or (kind == "keyword" and value in COMMON):
            continue
        for knob in by_name.get(name, ()):
            if value == values[knob] or values[knob] == (value,):   # hidden_dim = 512
                found.append(f"{path}:{line}: {kind} {name} = {ast.unparse(node)} sets "
                             f"configurations.{knob}")
                break
    for node in ast.walk(tree):         # a grid or dict of a knob, written anywhere
        if isinstance(node, (ast.Tuple, ast.List, ast.Dict)):
            knob = structured.get(literal(node)) if literal(node) is not NOT_LITERAL else None
            if knob:
                found.append(f"{path}:{node.lineno}: {ast.unparse(node)} is "
                             f"configurations.{knob}'s value")
    return found


def modules():
    for package in PACKAGES:
        yield from (path for path in sorted((ROOT / package).rglob("*.py"))
                    if path.name not in EXEMPT)


def test_every_shared_knob_has_the_names_the_code_gives_it():
    """A new knob in configurations.shared gets its names here, so that the scan sees it."""
    assert set(KNOB_NAMES) == set(knob_values())


def test_no_code_sets_a_knobs_value_but_configurations():
    found = []
    for path in modules():
        found += violations(path.read_text(), path.relative_to(ROOT))
    assert found == []


@pytest.mark.parametrize("source", [
    "EPOCHS = 2\n",                                              # experiment/future/finetune.py's, back
    "EPOCHS = 3\n",                                              # the constant, another value
    ("WEIGHTS = tuple(np.round(np.linspace(0.0, 1.0, 21), 2).tolist())\n",
     "experiment/future/fusion.py"),                                   # computed, not read
    "FRACTIONS = (0.1, 0.25, 0.5, 1.0)\n",
    "GRID = (0.1, 0.25, 0.5, 1.0)\n",                            # renamed, the value is seen
    "import dataclasses\n@dataclasses.dataclass\nclass C:\n    fc_lr_scale: float = 0.1\n",
    "def run(epochs=80):\n    pass\n",
    "parser.add_argument('--patience', type=int, default=25)\n",
    "parser.add_argument('--lr', nargs='+', default=[0.003, 0.001])\n",
    "parser.add_argument('--epochs', type=int, default=2)\n",     # the fine-tuning's
    "TrainConfig(model='rnn', batch_size=64)\n",
    "build('average', 4096, 512, 101, **{'dropout': 0.5})\n",
    "import dataclasses\n@dataclasses.dataclass\nclass C:\n    hidden_dim: int = 512\n",
    ("OFFSET, SCALE = 128.0, 16.0\n", "caffe_extract/flow.py"),
    "cv2.calcOpticalFlowFarneback(a, b, None, **{'pyr_scale': 0.5, 'levels': 3, 'winsize': 15, "
    "'iterations': 3, 'poly_n': 5, 'poly_sigma': 1.2, 'flags': 0})\n",
])
def test_the_scan_sees_a_knob_set_in_code(source):
    source, path = source if isinstance(source, tuple) else (source, "experiment/future/finetune.py")
    assert len(violations(source, path)) >= 1


@pytest.mark.parametrize("source", [
    "from configurations import FUTURE\nEPOCHS = FUTURE.finetune_epochs\n",
    "import configurations\nWEIGHTS = configurations.FUTURE.fusion_weights\n",
    "from rnn_models.finetune import DROPOUT\n",
    "def run(epochs=EPOCHS, fc_lr_scale=FC_LR_SCALE):\n    pass\n",
    "parser.add_argument('--epochs', type=int, default=TRAINING.epochs)\n",
    "TrainConfig(model='rnn', epochs=1, patience=0)\n",       # a test's or a bench's own run
])
def test_the_scan_lets_a_read_pass(source):
    assert violations(source, "experiment/future/finetune.py") == []
