"""Static checks of the chapter notebooks (nbval executes them; these check their committed form)."""
import re
from pathlib import Path

import nbformat
import pytest

from nbtools import is_checked

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "book" / "chapters").glob("*.ipynb"))


def test_there_are_chapters():
    assert CHAPTERS, "no chapter notebooks under book/chapters"


@pytest.fixture(params=CHAPTERS, ids=lambda p: p.stem)
def nb(request):
    return nbformat.read(request.param, as_version=4)


def test_only_checked_cells_keep_outputs(nb):
    """Outputs are stored only where nbval compares them (run `python tests/nbtools.py refresh ...`)."""
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.outputs:
            assert is_checked(cell), f"unchecked cell has stored outputs:\n{cell.source[:200]}"
            assert all(o.output_type == "stream" or set(o.get("data", {})) == {"text/plain"} for o in cell.outputs)


def test_checked_cells_have_reference_outputs(nb):
    """A checked cell without a stored output would compare nothing."""
    for cell in nb.cells:
        if is_checked(cell):
            assert cell.outputs and cell.execution_count, f"checked cell was never executed:\n{cell.source[:200]}"


def test_notebooks_define_no_reusable_code(nb):
    """Functions and classes belong in lsmooth_lib, with a docstring naming the chapter."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not re.search(r"^\s*(def|class)\s", cell.source, re.M), cell.source[:200]


def test_chapter_skeleton(nb):
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert re.search(r"Learning objectives", text)
    assert re.search(r"\*\*Time\.\*\*", text)
    assert "## Summary" in text and "## Exercises" in text
    exercises = len(re.findall(r"\*\*Exercise \d+\.\d+\.\*\*", text))
    solutions = len(re.findall(SOLUTION, text))
    assert exercises >= 3 and solutions == exercises, (exercises, solutions)


SOLUTION = r'<details class="solution">\n<summary>Solution</summary>\n\n'


def test_solutions_are_hidden_in_jupyter_and_in_the_book(nb):
    """Solutions sit in HTML <details> blocks, closed until clicked, in Jupyter, Colab and the rendered book alike
    (a MyST dropdown admonition is plain text outside the book).  Each exercise is followed by its solution, and
    `make student-book` can cut every block out (nbtools.strip_solutions)."""
    from nbtools import strip_solutions
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert ":::{admonition} Solution" not in text
    parts = re.split(r"\*\*Exercise \d+\.\d+\.\*\*", text)[1:]
    assert parts and all(re.search(SOLUTION, p) and p.count("</details>") >= 1 for p in parts)
    assert text.count("<details") == text.count("</details>")
    stripped = strip_solutions(text)
    assert "<details" not in stripped and "Solution" not in stripped
    assert len(re.findall(r"\*\*Exercise \d+\.\d+\.\*\*", stripped)) == len(parts)


def test_first_code_cell_sets_up_colab(nb):
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert "google.colab" in first.source and "sys.path.insert" in first.source


def test_no_heading_repeats_within_a_chapter(nb):
    """A repeated heading renders twice and gives the book two sections with one title (chapter 5 once had one)."""
    headings = [line.strip() for c in nb.cells if c.cell_type == "markdown"
                for line in c.source.splitlines() if re.match(r"#{1,6} ", line)]
    assert len(headings) == len(set(headings)), [h for h in headings if headings.count(h) > 1]
