"""Appendix A: the reproduction report is the claims table (lsmooth_lib.claims) computed from the zoo, and the
committed page agrees with the records."""
from pathlib import Path

import nbformat
import numpy as np
import pytest

from conftest import entry

from lsmooth_lib import claims, zoo

pytestmark = pytest.mark.data
ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "book" / "appendices" / "a_report.ipynb"


@pytest.fixture(scope="module")
def rows():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(zoo.ZOO_ENV, str(ROOT / "zoo"))
        return claims.all_claims()


@pytest.fixture(autouse=True)
def _use_committed_zoo(committed_zoo):
    pass


def by_id(rows, claim_id):
    return next(r for r in rows if r.id == claim_id)


def test_the_report_is_the_claims_table(rows):
    assert sum(claims.counts(rows).values()) == len(rows) >= 18
    assert len({r.id for r in rows}) == len(rows)
    for r in rows:
        assert r.verdict in claims.VERDICTS and r.paper, r


def test_the_numbers_are_the_records(rows):
    mnist = by_id(rows, "mnist-teacher")
    for label, fields in (("teacher-dropout", dict(dropout=0.5)), ("teacher-ls", dict(alpha=0.1))):
        names = sorted(zoo.select(family="mlp1200-mnist", preset="cpu", **fields), key=lambda n: zoo.fields(n)["seed"])
        errors = [round(100 - 100 * zoo.record(n)["metrics"]["test"]["acc"], 4) for n in names]
        assert len(errors) == 3 and mnist.values[label] == pytest.approx(errors, abs=1e-9)
    alex = by_id(rows, "table2-cifar10")
    accs = [100 * zoo.record(entry(family="alexnet-cifar10", alpha=0.0, preset="cpu", seed=s))["metrics"]["test"]["acc"]
            for s in range(3)]
    assert alex.values["alpha 0"] == pytest.approx(accs, abs=1e-4)
    assert f"alpha 0: {np.mean(accs):.4g} ± {np.std(accs, ddof=1):.2g} (3 seeds)" in claims.values_text(alex)
    bleu = by_id(rows, "fig4-bleu")
    at_t1 = []
    for s in range(3):
        transformer = entry(family="transformer-multi30k", alpha=0.0, preset="cpu", seed=s)
        at_t1 += [d["bleu"] for d in zoo.record(transformer)["decoding"]["rows"] if d["temperature"] == 1.0]
    assert bleu.values["alpha 0"] == at_t1 and len(at_t1) == 3
    teacher = by_id(rows, "fig5-teacher")
    accs = [round(100 * zoo.record(entry(family="resnet20-cifar10", alpha=0.0, preset="cpu", seed=s))["metrics"]["test"]
                  ["acc"], 4) for s in range(3)]
    assert teacher.values["teacher alpha 0"] == accs


def test_the_plain_text_names_our_substitutes(rows):
    """Appendix A's text says what we trained: the paper's network in the "paper" part, ours in the "ours" part."""
    lines = {r.id: line for r, line in zip(rows, claims.plain_text(rows).splitlines())}
    assert len(lines) == len(rows)
    ours = {i: line.split(" | ours (", 1)[1] for i, line in lines.items()}
    assert "AlexNet (TF tutorial, no LRN)" in ours["table2-cifar10"] and "cpu preset" in ours["table2-cifar10"]
    # CIFAR-100: the paper's ResNet-56 on the GPU preset, named with its schedule (one seed: closest to the paper)
    assert "ResNet-56 (32/64/128)" in ours["table2-cifar100"] and "60 epochs, gpu preset" in ours["table2-cifar100"]
    assert "paper: ResNet-56 on CIFAR-100" in lines["table2-cifar100"]
    for i in ("table3-en-de", "fig3-en-de", "fig4-bleu", "fig7-tightness"):
        assert "Multi30k" in ours[i] and "EN-DE" not in ours[i].split("):")[0], i
    md = claims.markdown_table(rows).splitlines()
    assert len(md) == len(rows) + 2 and all(line.replace("\\|", "").count("|") == 10 for line in md)


def test_the_committed_page_agrees_with_the_records(rows):
    """The page's checked output (nbval compares it on every run, too) is exactly what the records give now."""
    nb = nbformat.read(PAGE, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "claims.plain_text(rows)" in c.source)
    stored = "".join(o.get("text", "") for o in cell.outputs)
    assert stored == claims.plain_text(rows) + "\n" + str(claims.counts(rows)) + "\n", \
        "the zoo changed: refresh the page (python tests/nbtools.py refresh book/appendices/a_report.ipynb)"


def test_provenance_names_the_hardware_and_every_dataset(rows):
    lines = claims.provenance()
    assert any(line.startswith("trained on ") for line in lines)
    assert any(line.startswith("CIFAR-10:") for line in lines) and any(line.startswith("MNIST:") for line in lines)
