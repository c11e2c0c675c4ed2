"""Keep the chapter notebooks in their committed form: outputs stored only where nbval compares them.

    python tests/nbtools.py refresh book/chapters/*.ipynb   # execute, keep outputs of checked cells only

Cells tagged ``nbval-check-output`` (or containing the comment ``NBVAL_CHECK_OUTPUT``) keep their (deterministic, text-only) outputs so
that ``pytest --nbval-lax`` compares them on every run; every other output is stripped, so the
notebooks stay small in git and Colab opens them clean.  ``tests/test_notebooks.py`` checks that the
committed notebooks are in this form.
"""
from __future__ import annotations

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


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "refresh":
        sys.exit(__doc__)
    for p in sys.argv[2:]:
        print(f"{p}: executed in {refresh(Path(p)):.1f} s")
