"""Do the README's demo numbers still come out of the code? (`make demo` asks this at its end.)

    python -m experiment.tools.readme_check README.md results/demo-paper/table.json

The README's demo table is the block between the lines ``<!-- demo table -->`` and
``<!-- /demo table -->``. Its lines that start with ``|`` are the table: after the header and
the ``| --- |`` line, they must equal, line for line and in order, the rows that ``rows(table)``
makes from this run's table.json; any other line in the block is ignored. Exit status: 0 same,
3 different (a unified diff is printed), 1 the README or table cannot be read or has no such
block. `make demo` fails on anything but 0.
"""
import json
import sys


def rows(table):
    """The README's demo rows for a results table (table.json as a dict)."""
    from configurations import Configuration, model_label
    from experiment.analysis.report import pct
    config = Configuration(**table["config"])
    out = []
    for model in table["models"]:
        interval = table["intervals"][model["model"]]
        out.append(f"| {model_label(model['model'], config)} | {pct(model, 'train_acc')} "
                   f"| {pct(model, 'val_acc')} | {pct(model, 'test_acc')} "
                   f"[{100 * interval['low']:.1f}, {100 * interval['high']:.1f}] |")
    return out


BEGIN, END = "<!-- demo table -->", "<!-- /demo table -->"


def readme_rows(text, path="README.md"):
    """The body rows of the demo table block in README text (the module docstring)."""
    lines = [line.strip() for line in text.splitlines()]
    if BEGIN not in lines or END not in lines[lines.index(BEGIN):]:
        raise ValueError(f"{path} has no demo table block: a line {BEGIN!r}, the table, then a "
                         f"line {END!r}")
    start = lines.index(BEGIN)
    block = lines[start + 1:lines.index(END, start)]
    table = [line for line in block if line.startswith("|")]
    if len(table) < 2 or not table[1].replace(" ", "").startswith("|---"):
        raise ValueError(f"{path}: the demo table block has no header and '| --- |' line")
    return table[2:]


def check(readme_path, table_path):
    """(matches, message): the message is a unified diff when they differ."""
    import difflib
    with open(table_path) as f:
        expected = rows(json.load(f))
    with open(readme_path) as f:
        found = readme_rows(f.read(), readme_path)
    if found == expected:
        return True, f"{readme_path}: its demo table matches this run ({table_path})"
    diff = difflib.unified_diff(found, expected, f"{readme_path} (demo table)",
                                f"{table_path} (this run)", lineterm="", n=len(expected))
    return False, (f"{readme_path}: its demo table DIFFERS from this run ({table_path}):\n"
                   + "\n".join(diff))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m experiment.tools.readme_check README.md RESULTS/table.json", file=sys.stderr)
        return 2
    try:
        ok, message = check(*argv)
    except (OSError, KeyError, ValueError) as error:
        print(f"error: cannot compare: {error}", file=sys.stderr)
        return 1
    print(message, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 3


if __name__ == "__main__":
    sys.exit(main())
