"""Appendix A: the reproduction report is computed from the zoo, and the committed page agrees with the records."""
from pathlib import Path

import nbformat
import numpy as np
import pytest

from lsmooth_lib import report, zoo

pytestmark = pytest.mark.data
ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "book" / "appendices" / "a_report.ipynb"


@pytest.fixture(scope="module")
def rows():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(zoo.ZOO_ENV, str(ROOT / "zoo"))
        return report.reproduction_rows()


def test_every_row_has_a_known_status_and_a_value_unless_out_of_reach(rows):
    assert len(rows) >= 15
    for r in rows:
        assert r["status"] in report.STATUSES
        assert r["paper"], r
        if r["status"] not in (report.NOT_HERE, report.PENDING):
            assert r["ours"] and r["setting"], r
    assert sum(report.counts(rows).values()) == len(rows)


def test_the_numbers_are_the_records(rows, monkeypatch):
    monkeypatch.setenv(zoo.ZOO_ENV, str(ROOT / "zoo"))
    mnist = next(r for r in rows if r["section"] == "§4, MNIST toy")
    names = ["cpu-mlp1200-mnist-dropout-s0", "cpu-mlp800-mnist-kd-from-dropout-s0", "cpu-mlp1200-mnist-ls-s0",
             "cpu-mlp800-mnist-kd-from-ls-s0"]
    if any(zoo.record(n) is None for n in names):
        pytest.skip("the MNIST toy is not trained")
    errors = [100 * (1 - zoo.record(n)["metrics"]["test"]["acc"]) for n in names]
    if all(zoo.record(n.replace("-s0", "-s1")) is None for n in names):
        assert mnist["ours"].startswith(" / ".join(f"{e:.2f}" for e in errors))
    alex = next(r for r in rows if r["result"].startswith("CIFAR-10 AlexNet: top-1"))
    accs = [100 * zoo.record(f"cpu-alexnet-cifar10-a0-s{s}")["metrics"]["test"]["acc"] for s in range(3)]
    assert alex["ours"].startswith(f"{np.mean(accs):.1f} ± {np.std(accs, ddof=1):.1f} (3 seeds)")
    bleu = next(r for r in rows if "BLEU" in r["result"])
    hard = {d["temperature"]: d["bleu"] for d in zoo.record("cpu-transformer-multi30k-a0-s0")["decoding"]["rows"]}
    assert f"{hard[1.0]:.2f} (hard)" in bleu["ours"]


def test_the_committed_page_agrees_with_the_records(rows):
    """The page's checked output (nbval compares it on every run, too) is exactly what the records give now."""
    nb = nbformat.read(PAGE, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "report.plain_text(rows)" in c.source)
    stored = "".join(o.get("text", "") for o in cell.outputs)
    assert stored == report.plain_text(rows) + "\n" + str(report.counts(rows)) + "\n", \
        "the zoo changed: refresh the page (python tests/nbtools.py refresh book/appendices/a_report.ipynb)"


def test_figure5_teacher_row_is_in_percent(rows, monkeypatch):
    monkeypatch.setenv(zoo.ZOO_ENV, str(ROOT / "zoo"))
    row = next(r for r in rows if r["result"].startswith("the teacher's accuracy"))
    if row["status"] == report.PENDING:
        pytest.skip("fewer than two CIFAR-10 teachers trained")
    acc = 100 * zoo.record("cpu-resnet20-cifar10-a0-s0")["metrics"]["test"]["acc"]
    assert f"alpha 0: {acc:.1f} %" in row["ours"]
