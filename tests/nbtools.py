"""Keep the chapter notebooks in their committed form: outputs stored only where nbval compares them.

    python tests/nbtools.py refresh book/chapters/*.ipynb   # execute, keep outputs of checked cells only
    python tests/nbtools.py student-source DIR              # the book's sources without solutions (make student-book)

Cells tagged ``nbval-check-output`` (or containing the comment ``NBVAL_CHECK_OUTPUT``) keep their (deterministic, text-only) outputs so
that ``pytest --nbval-lax`` compares them on every run; every other output is stripped, so the
notebooks stay small in git and Colab opens them clean.  ``tests/test_notebooks.py`` checks that the
committed notebooks are in this form.
"""
from __future__ import annotations

import re
import shutil
import sys
import time
from pathlib import Path

import nbformat

MARK = "NBVAL_CHECK_OUTPUT"
TAG = "nbval-check-output"


def is_checked(cell) -> bool:
    """Does nbval compare this cell's output? (the tag keeps the marker out of the rendered book)"""
    return cell.cell_type == "code" and (TAG in cell.metadata.get("tags", []) or MARK in cell.source)


def strip(nb) -> None:
    """Remove all outputs except those of checked cells; drop volatile metadata."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        if is_checked(cell):
            cell.outputs = [o for o in cell.outputs if o.output_type == "stream" or "text/plain" in o.get("data", {})]
            for o in cell.outputs:
                o.pop("metadata", None) if o.output_type == "stream" else None
                if "data" in o:
                    o["data"] = {"text/plain": o["data"]["text/plain"]}
        else:
            cell.outputs = []
            cell.execution_count = None
    nb.metadata.pop("widgets", None)


def refresh(path: Path) -> float:
    """Execute a notebook in its folder, strip it, write it back; returns seconds."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    t0 = time.perf_counter()
    NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - t0
    strip(nb)
    nbformat.write(nb, path)
    return seconds


SOLUTION_BLOCK = re.compile(r'\n*<details class="solution">.*?</details>\n?', re.S)


def strip_solutions(markdown: str) -> str:
    """The markdown without its ``<details class="solution">`` blocks (the student edition, ``make student-book``)."""
    return SOLUTION_BLOCK.sub("\n\n", markdown).rstrip("\n") + ("\n" if markdown.endswith("\n") else "")


def student_source(out: Path) -> int:
    """Copy the book's sources (configuration, table of contents, bibliography, book/) into ``out`` with every
    solution removed; the copy executes into the main build's cache, so unchanged code cells are not re-run.
    Returns the number of solutions removed."""
    root = Path(__file__).resolve().parent.parent
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(root / "book", out / "book", ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    for name in ("_toc.yml", "references.bib"):
        shutil.copy2(root / name, out / name)
    config = (root / "_config.yml").read_text()
    config = config.replace("cache: _build/.jupyter_cache", f"cache: {root / '_build' / '.jupyter_cache'}")
    config = re.sub(r"^title: (.*)$", r"title: \1 (student edition, without solutions)", config, count=1, flags=re.M)
    (out / "_config.yml").write_text(config)
    removed = 0
    for path in sorted((out / "book").rglob("*")):
        if path.suffix == ".ipynb":
            nb = nbformat.read(path, as_version=4)
            for cell in nb.cells:
                if cell.cell_type == "markdown":
                    removed += len(SOLUTION_BLOCK.findall(cell.source))
                    cell.source = strip_solutions(cell.source)
            nbformat.write(nb, path)
        elif path.suffix == ".md":
            text = path.read_text()
            removed += len(SOLUTION_BLOCK.findall(text))
            path.write_text(strip_solutions(text))
    return removed


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "student-source":
        print(f"{sys.argv[2]}: {student_source(Path(sys.argv[2]))} solutions removed")
        sys.exit(0)
    if len(sys.argv) < 3 or sys.argv[1] != "refresh":
        sys.exit(__doc__)
    for p in sys.argv[2:]:
        print(f"{p}: executed in {refresh(Path(p)):.1f} s")
