"""The committed zoo: intact, consistent with the configurations that claim to have produced it."""
import json
from pathlib import Path

import pytest

from lsmooth_lib import zoo

ZOO = Path(__file__).resolve().parent.parent / "zoo"
RECORDS = sorted(ZOO.glob("*.json"))


@pytest.fixture(autouse=True)
def _use_committed_zoo(committed_zoo):
    pass


def test_committed_zoo_verifies():
    assert zoo.verify() == []


def test_no_smoke_or_partial_entries_are_committed():
    assert not [p.name for p in ZOO.glob("smoke-*")]
    assert not [p.name for p in ZOO.glob("*.tmp")]


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.stem)
def test_record_matches_its_configuration(path):
    """A preset changed without retraining would leave records that no longer describe their config."""
    rec = json.loads(path.read_text())
    assert rec["name"] == path.stem
    assert rec["config"] == json.loads(json.dumps(zoo.get_config(path.stem)))
    assert rec["data"]["source"] and "lossless" in rec["data"]
    assert rec["history"][-1]["epoch"] == rec["config"]["epochs"]
    for split in ("train", "val", "test"):
        assert 0.0 <= rec["metrics"][split]["acc"] <= 1.0


CPU_ALEXNETS = set(zoo.select(family="alexnet-cifar10", preset="cpu"))  # hard or smoothed labels, no teacher, no noise


@pytest.mark.parametrize("path", [p for p in RECORDS if p.stem in CPU_ALEXNETS], ids=lambda p: p.stem)
def test_cpu_alexnet_preset_fits_its_training_set(path):
    """The CPU preset is meant to reach the interpolation regime the paper's claims need (issue 3).  (The
    distilled students of chapter 5 are trained on soft targets and are not held to the labels.)"""
    rec = json.loads(path.read_text())
    # Measured: alpha <= 0.3 reach >= 99.4 %; heavy smoothing (alpha = 0.6: 94.4 %) fits the labels less
    # completely, because its targets leave the wrong classes so much mass.  Beyond 0.6 the 15 epochs do not fit
    # (0.75: 83 %, 0.9: 62 %); chapters 2 and 5 say so, and test_zoo_claims_distillation pins it.
    alpha = rec["config"]["alpha"]
    floor = 0.97 if alpha <= 0.3 else 0.9 if alpha <= 0.6 else 0.5
    assert rec["metrics"]["train"]["acc"] > floor
