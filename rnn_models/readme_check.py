"""Do the README's demo numbers still come out of the code? (`make demo` asks this at its end.)

    python -m rnn_models.readme_check README.md results/demo-paper/table.json

The README's demo table is the rows ``rows(table)`` makes from a results table. Once, the
README quoted numbers measured before a later code change (a fresh clone printed LSTM train
98.9 +- 1.6 where the README said 98.6 +- 1.3); since then `make demo` compares its own
table with the README's and says whether they match, row by row.
"""
import json
import sys


def rows(table):
    """The README's demo rows for a results table (table.json as a dict)."""
    from .configs import Configuration, model_label
    from .report import _pct

    def pct(model, key):
        return _pct(model[key + "_mean"], model[key + "_std"], len(model["runs"]))

    config = Configuration(**table["config"])
    out = []
    for model in table["models"]:
        interval = table["intervals"][model["model"]]
        out.append(f"| {model_label(model['model'], config)} | {pct(model, 'train_acc')} "
                   f"| {pct(model, 'val_acc')} | {pct(model, 'test_acc')} "
                   f"[{100 * interval['low']:.1f}, {100 * interval['high']:.1f}] |")
    return out


def check(readme_path, table_path):
    """(matches, message)."""
    with open(table_path) as f:
        expected = rows(json.load(f))
    with open(readme_path) as f:
        readme = f.read()
    missing = [row for row in expected if row not in readme]
    if not missing:
        return True, f"{readme_path}: its demo table matches this run ({table_path})"
    return False, (f"{readme_path}: its demo table differs from this run ({table_path}); this "
                   "run's rows:\n" + "\n".join(missing))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m rnn_models.readme_check README.md RESULTS/table.json", file=sys.stderr)
        return 2
    try:
        ok, message = check(*argv)
    except (OSError, KeyError, ValueError) as error:
        print(f"error: cannot compare: {error}", file=sys.stderr)
        return 1
    print(message)
    return 0 if ok else 3


if __name__ == "__main__":
    sys.exit(main())
