"""For citing users: CITATION.cff, the README's BibTeX, and LaTeX tables escaped and laid out as
booktabs expects (checked as text: no TeX is installed here to compile them)."""
import pathlib
import re

from experiment.analysis.report import _tex, latex_table

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_citation_file_names_the_paper_and_the_software():
    text = (ROOT / "CITATION.cff").read_text()
    assert text.startswith("cff-version: 1.2.0") and "\ntype: software" in text
    paper = text.split("preferred-citation:")[1]
    assert "family-names: Giel" in paper and "family-names: Diaz" in paper
    assert "year: 2015" in paper and "Recurrent Neural Networks and Transfer Learning" in paper
    version = re.search(r'^version = "(.*)"', (ROOT / "pyproject.toml").read_text(), re.M)[1]
    assert f"\nversion: {version}\n" in text


def test_readme_bibtex_entries():
    readme = (ROOT / "README.md").read_text()
    bib = readme.split("```bibtex")[1].split("```")[0]
    assert bib.count("@") == 2 and "author      = {Giel, Andrew and Diaz, Ryan}" in bib
    assert bib.count("{") == bib.count("}")


def test_latex_escaping_and_booktabs():
    assert _tex("a_b & 50% #1 $x$ {y}") == r"a\_b \& 50\% \#1 \$x\$ \{y\}"
    assert _tex("74.1 +- 0.9") == r"74.1 $\pm$ 0.9"
    table = latex_table([["LSTM (Lasagne 0.1 output gate)", "45.9 +- 1.0"]], ["Model", "Test %"],
                        "split 1")
    lines = table.splitlines()
    assert r"\toprule" in lines and r"\midrule" in lines and r"\bottomrule" in lines
    assert r"Model & Test \% \\" in lines
    assert r"LSTM (Lasagne 0.1 output gate) & 45.9 $\pm$ 1.0 \\" in lines
    assert lines.index(r"\begin{tabular}{lr}") < lines.index(r"\end{tabular}")
