"""Prose reads the records (issue 19): no number about our models is typed into a chapter's markdown.

A decimal number in a markdown cell must be one of the paper's or the literature's numbers (held once in
lsmooth_lib/paper.py), a configuration value of a zoo entry (alpha, learning rate, ...), or sit inside math (a
derivation) or code (an API call); a measured number is printed by a cell, and the prose points at it.  Exercise
numbers ("Exercise 4.1") are labels, not numbers.
"""
import re
from pathlib import Path

import nbformat
import pytest

from lsmooth_lib import paper, zoo

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "book").rglob("*.ipynb"))  # the chapters and the generated appendices
DECIMAL = re.compile(r"(?<![\w.\-])\d+\.\d+(?![\w.])")
HIDDEN = re.compile(r"\$\$.*?\$\$|\$[^$\n]*\$|```.*?```|`[^`\n]*`|\{cite\}|\[[^\]]*\]\([^)]*\)", re.S)
LABELS = re.compile(r"([Ee]xercises?|[Cc]hapters?|§|[Ss]ections?|[Ll]essons?)\s+\d+\.\d+((,\s*|\s+and\s+|\s*[-–]\s*)\d+\.\d+)*")


def _config_numbers() -> set:
    out = set()

    def walk(v):
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)
        elif isinstance(v, float):
            out.update({f"{v:g}", repr(v)})
    for name in zoo.CONFIGS:
        walk(zoo.get_config(name))
    return out


ALLOWED = paper.quoted_numbers() | _config_numbers()


def typed_numbers(markdown: str) -> list:
    text = LABELS.sub(" ", HIDDEN.sub(" ", markdown))
    return [m.group(0) for m in DECIMAL.finditer(text) if m.group(0) not in ALLOWED]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_markdown_holds_no_typed_measurement(page):
    if page.suffix == ".ipynb":
        texts = [c.source for c in nbformat.read(page, as_version=4).cells if c.cell_type == "markdown"]
    else:
        texts = [page.read_text()]
    found = [n for t in texts for n in typed_numbers(t)]
    assert not found, (f"{page.name}: decimal numbers typed into the prose that are neither the paper's "
                       f"(lsmooth_lib/paper.py) nor configuration values: {found}. Print them in a cell and point at it.")


def test_the_check_catches_a_typed_measurement():
    assert typed_numbers("our AlexNet reaches 76.04 % with smoothing") == ["76.04"]
    assert typed_numbers("the paper's 0.056 and our $\\gamma = 0.113$ and `x = 2.5`, exercise 4.1 and 4.2") == []
    assert typed_numbers("alpha = 0.1 and a learning rate of 0.05") == []
