"""Chapters run the way Colab runs them (issue 21).

In Colab the kernel has ``google.colab`` imported, the library is *not* installed, and the notebook is a lone
file outside any checkout: its first cell must clone the repository, ``pip install`` it (which brings its
requirements) and make it importable, or fail with a message that says what to do.  This test builds that
situation offline: a fresh virtual environment that sees the test environment's packages (torch, ipykernel, ...)
but not ``lsmooth_lib``, a ``sitecustomize`` that imports a stand-in ``google.colab`` at start-up, the notebook
copied into a temporary folder, and ``LSMOOTH_REPO`` pointing at this repository as a ``file://`` URL (so the
clone holds the committed tree: commit before running it locally).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest

from conftest import REPO
from nbtools import is_checked

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def colab(tmp_path_factory) -> dict:
    """A Colab-like kernel ("colab") and the environment to run it with."""
    if not (REPO / ".git").exists():
        pytest.skip("needs a git checkout to clone from")
    root = tmp_path_factory.mktemp("colab")
    env_dir = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # the test environment's packages, without running its .pth files (which install lsmooth_lib's editable finder)
    (site / "_test_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    fake = root / "fake"
    (fake / "google" / "colab").mkdir(parents=True)
    (fake / "google" / "colab" / "__init__.py").write_text('"""Stand-in for Colab\'s module."""\n')
    (fake / "sitecustomize.py").write_text("import google.colab  # noqa: F401 -- Colab's kernel imports it at start-up\n")
    kernels = root / "jupyter" / "kernels" / "colab"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab stand-in", "language": "python"}))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LSMOOTH_ZOO", "VIRTUAL_ENV")}
    env.update(JUPYTER_PATH=str(root / "jupyter"), PYTHONPATH=str(fake), LSMOOTH_REPO=f"file://{REPO}",
               LSMOOTH_HOME=str(root / "content" / "lsmooth"), PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0",
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    check = subprocess.run([str(python), "-c", "import sys, google.colab; import lsmooth_lib"], env=env,
                           capture_output=True, text=True, cwd=root)
    assert "No module named 'lsmooth_lib'" in check.stderr, "the stand-in must not see the installed library"
    return dict(root=root, env=env, home=root / "content" / "lsmooth")


def _run(nb_path: Path, env: dict, timeout: int = 900):
    from nbclient import NotebookClient
    nb = nbformat.read(nb_path, as_version=4)
    old = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="colab",
                       resources={"metadata": {"path": str(nb_path.parent)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb


@pytest.mark.parametrize("chapter", ["01_label_smoothing", "03_calibration"])
def test_chapter_runs_like_colab(chapter, colab, tmp_path):
    committed = nbformat.read(REPO / "book" / "chapters" / f"{chapter}.ipynb", as_version=4)
    nb = nbformat.read(REPO / "book" / "chapters" / f"{chapter}.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import lsmooth_lib; print(lsmooth_lib.__file__)"))
    path = tmp_path / f"{chapter}.ipynb"   # a lone notebook, outside any checkout, as Colab opens it
    nbformat.write(nb, path)
    done = _run(path, colab["env"])
    assert (colab["home"] / "lsmooth_lib" / "__init__.py").exists(), "the first cell cloned the repository"
    where = "".join(o.get("text", "") for o in done.cells[-1].outputs)
    assert where.strip().startswith(str(colab["home"])), f"the library came from {where!r}, not the clone"
    # the chapter's checked outputs are what the book shows (the zoo and the data are the same here)
    for old, new in zip(committed.cells, done.cells):
        if is_checked(old):
            assert "".join(o.get("text", "") for o in new.outputs) == "".join(o.get("text", "") for o in old.outputs)


def test_a_failed_clone_says_what_to_do(colab, tmp_path):
    nb = nbformat.read(REPO / "book" / "chapters" / "01_label_smoothing.ipynb", as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    setup = first.source.split("\n\n")[0]          # the setup block, without the chapter's imports
    nb.cells = [nbformat.v4.new_code_cell(setup)]
    path = tmp_path / "setup.ipynb"
    nbformat.write(nb, path)
    env = dict(colab["env"], LSMOOTH_REPO=f"file://{tmp_path}/no-such-repository",
               LSMOOTH_HOME=str(tmp_path / "content" / "lsmooth"))
    from nbclient.exceptions import CellExecutionError
    with pytest.raises(CellExecutionError) as err:
        _run(path, env, timeout=120)
    assert "Setup failed at `git clone" in str(err.value) and "LSMOOTH_REPO" in str(err.value)


def test_every_chapter_has_the_same_setup_block():
    """One setup block for the whole book (a fix in one chapter must reach all of them)."""
    blocks = set()
    for path in sorted((REPO / "book").rglob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        first = next(c for c in nb.cells if c.cell_type == "code")
        if "google.colab" in first.source:
            blocks.add(first.source.split("\n\n")[0])
    assert len(blocks) == 1, f"{len(blocks)} different setup blocks"
