"""README.md and docs/ state only what the code, the Makefile and the measured files hold.

Each kind of check runs on every document, and is fed a broken document to show it can fail
(tests/doccheck.py has the checks).
"""
import json
import pathlib
import re

import pytest

from tests import doccheck

ROOT = doccheck.ROOT
DOCS = doccheck.documents()
NAMES = [str(d.relative_to(ROOT)) for d in DOCS]


def test_the_front_page_is_short_and_in_order():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) <= 8 * 1024
    sections = re.findall(r"^## (.+)$", readme, re.M)
    assert sections == ["Results", "Quick start", "Reproduce on UCF-101", 'What "faithful" means here',
                        "Documentation", "Citing", "License"]
    assert "> **Status.**" in readme.split("## Results")[0]
    for link in ("http://cs231n.stanford.edu/reports.html", "https://www.crcv.ucf.edu/data/UCF101.php",
                 "https://github.com/BVLC/caffe", "models/bvlc_reference_caffenet",
                 "https://github.com/Lasagne/Lasagne"):
        assert link in readme


def test_every_docs_page_is_in_the_readme_index():
    readme = (ROOT / "README.md").read_text()
    for page in (ROOT / "docs").glob("*.md"):
        assert f"](docs/{page.name})" in readme, page.name


@pytest.mark.parametrize("doc", DOCS, ids=NAMES)
def test_links_resolve(doc):
    assert doccheck.broken_links(doc.read_text(), doc) == []


@pytest.mark.parametrize("doc", DOCS, ids=NAMES)
def test_make_targets_and_variables_exist(doc):
    assert doccheck.bad_make(doc.read_text(), doc.name) == []


@pytest.mark.parametrize("doc", DOCS, ids=NAMES)
def test_cli_flags_exist(doc):
    assert doccheck.bad_flags(doc.read_text(), doc.name) == []


@pytest.mark.parametrize("doc", DOCS, ids=NAMES)
def test_paths_exist(doc):
    assert doccheck.bad_paths(doc.read_text(), doc.name) == []


@pytest.mark.parametrize("doc", DOCS, ids=NAMES)
def test_measured_blocks_equal_their_source(doc):
    problems, absent = doccheck.bad_blocks(doc.read_text(), doc.name)
    assert problems == []
    if absent:
        pytest.skip("not written on this checkout, so not compared: " + "; ".join(absent))


def test_the_measured_tables_are_blocks():
    """The knob table and the bench tables are included, not typed."""
    text = "".join(d.read_text() for d in DOCS)
    assert "<!-- output: python -m configurations -->" in text
    for bench in sorted((ROOT / "bench").glob("*.md")):
        assert f"<!-- include: bench/{bench.name} -->" in text, bench.name


def test_demo_table_has_the_rows_readme_check_compares():
    from experiment.tools import readme_check
    rows = readme_check.readme_rows((ROOT / "README.md").read_text())
    cell = r"\d+\.\d \+- \d+\.\d"
    assert len(rows) == 4
    for row in rows:
        assert re.fullmatch(rf"\| [^|]+ \| {cell} \| {cell} \| {cell} \[\d+\.\d, \d+\.\d\] \|", row), row


def test_demo_table_equals_the_recorded_demo_run():
    """The README's demo table is the one the committed record's run gave (the record, not the
    checkout's own demo folder, which may be older than the code: `make demo` compares that)."""
    from experiment.tools import readme_check
    record = json.loads((ROOT / "results/demo-bits/paper.json").read_text())
    rows = readme_check.readme_rows((ROOT / "README.md").read_text())
    assert rows == record["readme_rows"]


def test_license_and_citation():
    assert (ROOT / "LICENSE").read_text().startswith("BSD 2-Clause License")
    assert "\nlicense: BSD-2-Clause\n" in (ROOT / "CITATION.cff").read_text()
    assert (ROOT / "CHANGELOG.md").exists()


# -- each check can fail ------------------------------------------------------------------

def test_a_broken_link_is_caught(tmp_path):
    (tmp_path / "there.md").write_text("# A heading\n")
    doc = tmp_path / "doc.md"
    ok = "[a](there.md) [b](there.md#a-heading) [c](https://example.org/x) [d](#mine)\n# Mine\n"
    assert doccheck.broken_links(ok, doc) == []
    assert len(doccheck.broken_links("[a](gone.md)", doc)) == 1
    assert len(doccheck.broken_links("[b](there.md#no-such-heading)", doc)) == 1
    assert len(doccheck.broken_links("![plot](img/none.png)", doc)) == 1
    assert len(doccheck.broken_links("[d](#nowhere)\n# Mine\n", doc)) == 1


def test_a_missing_make_target_or_variable_is_caught():
    assert doccheck.bad_make("`make demo CONFIG=modern SPLITS=\"1 2 3\"`") == []
    assert doccheck.bad_make("```sh\nmake data weights   # a comment: make nothing\n```") == []
    assert len(doccheck.bad_make("`make demos`")) == 1
    assert len(doccheck.bad_make("```sh\nmake train SPLIT=2\n```")) == 1


def test_an_unknown_cli_flag_or_module_is_caught():
    good = ("`python -m experiment.train --features f --seeds 3 --config paper`\n"
            "```sh\npython -m caffe_extract extract --videos v --splits s --backend torch\n```")
    assert doccheck.bad_flags(good) == []
    assert len(doccheck.bad_flags("`python -m experiment.train --seed 3`")) == 1
    assert len(doccheck.bad_flags("`python -m caffe_extract merge --videos v`")) == 1
    assert len(doccheck.bad_flags("`python -m rnn_models.nothing --x 1`")) == 1


def test_a_missing_path_is_caught():
    assert doccheck.bad_paths("`configurations/__init__.py`, `results/demo-paper/table.md`, `Makefile`") == []
    assert len(doccheck.bad_paths("`rnn_models/config.py`")) == 1
    assert len(doccheck.bad_paths("```sh\nscripts/slurm_extrakt.sh\n```")) == 1
    assert len(doccheck.bad_paths("see `CHANGES.md`")) == 1


def test_a_measured_block_that_differs_is_caught(tmp_path):
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "t.md").write_text("| a |\n|---|\n| 1.0 |\n")
    good = "<!-- include: bench/t.md -->\n| a |\n|---|\n| 1.0 |\n<!-- /include -->\n"
    assert doccheck.bad_blocks(good, root=tmp_path) == ([], [])
    assert len(doccheck.bad_blocks(good.replace("1.0", "1.1"), root=tmp_path)[0]) == 1
    assert len(doccheck.bad_blocks(good.replace("t.md", "u.md"), root=tmp_path)[0]) == 1
    knobs = doccheck.block_source("output", "python -m configurations").strip()
    generated = f"<!-- output: python -m configurations -->\n{knobs}\n<!-- /output -->\n"
    assert doccheck.bad_blocks(generated)[0] == []
    assert len(doccheck.bad_blocks(generated.replace("| frames |", "| frame |"))[0]) == 1
    absent = "<!-- include: results/x.md (make x) -->\n<!-- /include -->\n"
    assert doccheck.bad_blocks(absent, root=tmp_path) == ([], ["doc: results/x.md (written by make x)"])


def test_write_fills_a_block_from_its_source(tmp_path):
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "t.md").write_text("new\n")
    doc = tmp_path / "d.md"
    doc.write_text("x\n<!-- include: bench/t.md -->\nold\n<!-- /include -->\ny\n")
    assert doccheck.write_blocks(doc, root=tmp_path)
    assert doc.read_text() == "x\n<!-- include: bench/t.md -->\nnew\n<!-- /include -->\ny\n"
    assert not doccheck.write_blocks(doc, root=tmp_path)
