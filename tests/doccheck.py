"""Facts in README.md and docs/ that must not drift, checked against the code that holds them.

Each check takes a document's text (and where it lives) and returns a list of problems, one
line each; tests/test_docs.py runs them on every document and feeds each a broken one.

- links: a relative link ``[text](path#anchor)`` must name a file that exists (and, in a
  markdown file, a heading whose anchor is ``anchor``);
- make: every ``make TARGET VAR=value`` in code must name a target and variables the
  Makefile has;
- flags: every ``--flag`` after ``python -m MODULE [subcommand]`` in code must be an option of
  that module's argparse parser, built by calling its ``main`` (never by grepping);
- paths: every backticked path into the repository's own folders must exist;
- measured blocks: the text between ``<!-- include: PATH -->`` and ``<!-- /include -->`` is the
  file PATH verbatim; between ``<!-- output: python -m MODULE ARGS -->`` and
  ``<!-- /output -->`` it is what that command prints. ``python tests/doccheck.py --write``
  rewrites every block from its source.
"""
import argparse
import importlib
import importlib.util
import os
import pathlib
import re
import shlex
import subprocess
import sys
from unittest import mock

ROOT = pathlib.Path(__file__).resolve().parents[1]

#: Folders the commands write (never committed): paths into them are outputs, not checked.
OUTPUT_DIRS = {"results", "data", "features", "models", "demo", "logs", "checkpoints", ".cache",
               ".venv", ".venv-oracle", "build"}

BLOCK = re.compile(r"<!-- (include|output): (.+?) -->\n(.*?)<!-- /\1 -->", re.S)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
SPAN = re.compile(r"`([^`]+)`")          # inline code, which may wrap onto the next line


def documents(root=ROOT):
    """README.md and every markdown file under docs/."""
    return [root / "README.md"] + sorted((root / "docs").rglob("*.md"))


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(text):
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", strip_code(text), re.M)}


def strip_code(text):
    return FENCE.sub("", text)


def code_lines(text):
    """Each line of fenced code and each inline code span, as shell-like text."""
    lines = [line for block in FENCE.findall(text) for line in block.splitlines()]
    return lines + [span.replace("\n", " ") for span in SPAN.findall(strip_code(text))]


def commands(text, program):
    """The argument lists of every ``program ...`` command in code (up to ``#``, ``&&``, ...)."""
    out = []
    for line in code_lines(text):
        for piece in re.split(r"&&|\|\||;|\|", line.split(" #")[0]):
            try:
                words = shlex.split(piece)
            except ValueError:
                words = piece.split()
            for i, word in enumerate(words):
                if os.path.basename(word) == program and (i == 0 or "=" in words[i - 1]
                                                          or words[i - 1] in ("sudo", "nice")):
                    out.append(words[i + 1:])
                    break
    return out


# -- links --------------------------------------------------------------------------------

def broken_links(text, doc_path):
    problems = []
    for match in LINK.finditer(strip_code(text)):
        target = match.group(1) or match.group(2)
        if re.match(r"[a-z]+:", target):
            continue                                       # http:, https:, mailto:
        path, _, anchor = target.partition("#")
        if not path:
            if anchor not in anchors(text):
                problems.append(f"{doc_path.name}: link to {target}: no heading #{anchor} here")
            continue
        file = (doc_path.parent / path).resolve()
        if not file.exists():
            problems.append(f"{doc_path.name}: link to {target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file.read_text()):
            problems.append(f"{doc_path.name}: link to {target}: no heading #{anchor} there")
    return problems


# -- make -----------------------------------------------------------------------------------

def makefile_names(makefile=ROOT / "Makefile"):
    """(targets, variables) of the Makefile: its rules, and every variable it sets or reads."""
    text = makefile.read_text()
    targets = set()
    for match in re.finditer(r"^([^\s:#=$][^:#=]*?):(?![=])", text, re.M):
        targets.update(match.group(1).split())
    variables = set(re.findall(r"^([A-Z_][A-Z0-9_]*)\s*(?:\?=|:=|\+=|=)", text, re.M))
    variables |= set(re.findall(r"\$\(([A-Z_][A-Z0-9_]*)\)", text))
    variables |= set(re.findall(r"\(origin ([A-Z_][A-Z0-9_]*)\)", text))
    return targets - {".PHONY"}, variables


def bad_make(text, doc_name="doc", makefile=ROOT / "Makefile"):
    targets, variables = makefile_names(makefile)
    problems = []
    for words in commands(text, "make"):
        for word in words:
            if word.startswith("-"):
                continue
            name = word.split("=")[0]
            if "=" in word and name not in variables:
                problems.append(f"{doc_name}: `make ... {word}`: the Makefile has no variable {name}")
            elif "=" not in word and re.fullmatch(r"[\w.-]+", word) and word not in targets:
                problems.append(f"{doc_name}: `make {word}`: the Makefile has no target {word}")
    return problems


# -- CLI flags --------------------------------------------------------------------------------

class _Parser(Exception):
    pass


def parser_of(module):
    """The argparse parser ``python -m module`` builds: its ``main`` is called and stopped at
    ``parse_args``; None when the module parses no arguments with argparse."""
    name = module
    if importlib.util.find_spec(module) is None:
        raise ImportError(f"no module {module}")
    if importlib.util.find_spec(module).submodule_search_locations is not None:
        name = module + ".__main__"
    main = getattr(importlib.import_module(name), "main", None)
    if main is None:
        return None

    def stop(self, *args, **kwargs):
        raise _Parser(self)

    with mock.patch.object(argparse.ArgumentParser, "parse_args", stop), \
            mock.patch.object(argparse.ArgumentParser, "parse_known_args", stop):
        try:
            main([])
        except _Parser as found:
            return found.args[0]
        except (SystemExit, Exception):
            return None
    return None


def options(parser, subcommand=None):
    """Option strings of a parser (and of its subcommand's parser, when it has subcommands)."""
    found = set()
    for action in parser._actions:
        found.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction) and subcommand in action.choices:
            found |= options(action.choices[subcommand])
    return found


def bad_flags(text, doc_name="doc"):
    problems, parsers = [], {}
    for words in commands(text, "python") + commands(text, "python3"):
        if len(words) < 2 or words[0] != "-m":
            continue
        module, rest = words[1], words[2:]
        flags = [w.split("=")[0] for w in rest if w.startswith("--")]
        try:
            if module not in parsers:
                parsers[module] = parser_of(module)
        except ImportError:
            problems.append(f"{doc_name}: `python -m {module}`: no such module")
            continue
        if not flags:
            continue
        parser = parsers[module]
        if parser is None:
            problems.append(f"{doc_name}: `python -m {module}` takes no options, named: {flags}")
            continue
        subcommand = next((w for w in rest if not w.startswith("-")), None)
        known = options(parser, subcommand)
        for flag in flags:
            if flag not in known:
                problems.append(f"{doc_name}: `python -m {module}`: no option {flag}")
    return problems


# -- paths ----------------------------------------------------------------------------------

def bad_paths(text, doc_name="doc", root=ROOT):
    problems = []
    for code in code_lines(text):
        for token in code.split():
            token = token.strip("\"'(),;:")
            if (not re.fullmatch(r"[\w.\-/]+", token) or "..." in token
                    or token.startswith(("-", "/"))):
                continue
            first = token.split("/")[0]
            if "/" in token:
                if first in OUTPUT_DIRS or not (root / first).is_dir():
                    continue
            elif not re.fullmatch(r"LICENSE|Makefile|[A-Z]+\.(md|cff)|pyproject\.toml|environment\.yml",
                                  token):
                continue
            if not (root / token).exists():
                problems.append(f"{doc_name}: `{token}`: no such file in the repository")
    return problems


# -- measured blocks ----------------------------------------------------------------------------

def block_source(kind, source, root=ROOT):
    """The text a block must hold: the file's (include) or the command's output (output)."""
    if kind == "include":
        return (root / source).read_text()
    words = shlex.split(source)
    if words[:2] != ["python", "-m"]:
        raise ValueError(f"output blocks run `python -m ...`, not {source!r}")
    env = dict(os.environ, PYTHONPATH=str(root))
    done = subprocess.run([sys.executable] + words[1:], cwd=root, env=env, capture_output=True,
                          text=True, check=True)
    return done.stdout


def bad_blocks(text, doc_name="doc", root=ROOT):
    """Blocks that differ from their source. A block whose file lies in an output folder and
    is absent (never written on this checkout) is returned in the second list, not as wrong."""
    problems, absent = [], []
    for kind, source, body in BLOCK.findall(text):
        path = source.split()[0]
        if kind == "include" and not (root / path).exists():
            if path.split("/")[0] in OUTPUT_DIRS:
                absent.append(f"{doc_name}: {path} (written by {source[len(path):].strip().strip('()') or 'its command'})")
            else:
                problems.append(f"{doc_name}: included file {path} does not exist")
            continue
        if body.strip() != block_source(kind, path if kind == "include" else source, root).strip():
            problems.append(f"{doc_name}: the block {kind}: {source} differs from its source; "
                            "run: python tests/doccheck.py --write")
    return problems, absent


def write_blocks(path, root=ROOT):
    """Rewrite every measured block of one document from its source (absent outputs kept)."""
    text = path.read_text()

    def fill(match):
        kind, source, body = match.groups()
        file = source.split()[0]
        if kind == "include" and not (root / file).exists():
            return match.group(0)
        new = block_source(kind, file if kind == "include" else source, root).strip()
        return f"<!-- {kind}: {source} -->\n{new}\n<!-- /{kind} -->"

    new = BLOCK.sub(fill, text)
    if new != text:
        path.write_text(new)
    return new != text


def all_problems(root=ROOT):
    problems = []
    for doc in documents(root):
        text, name = doc.read_text(), str(doc.relative_to(root))
        problems += broken_links(text, doc) + bad_make(text, name, root / "Makefile")
        problems += bad_flags(text, name) + bad_paths(text, name, root)
    return problems


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if sys.argv[1:] == ["--write"]:
        for doc in documents():
            if write_blocks(doc):
                print(f"rewrote {doc.relative_to(ROOT)}")
    else:
        found = all_problems()
        for doc in documents():
            found += bad_blocks(doc.read_text(), doc.name)[0]
        print("\n".join(found) or "README.md and docs/: every link, target, flag, path and block checks")
        sys.exit(1 if found else 0)
