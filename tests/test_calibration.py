import math

import pytest
import torch
from torchmetrics.functional.classification import multiclass_calibration_error

from lsmooth_lib import calibration as C


def planted(n=20000, k=10, scale=3.0, temperature=2.5, seed=0):
    """Logits whose labels are drawn from softmax(logits / temperature): calibrated at that T."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, k, generator=g) * scale
    probs = torch.softmax(z / temperature, 1)
    y = torch.multinomial(probs, 1, generator=g).squeeze(1)
    return z, y


@pytest.mark.parametrize("n_bins", [5, 15])
def test_ece_matches_torchmetrics(n_bins):
    z, y = planted(n=5000, seed=1)
    ref = float(multiclass_calibration_error(torch.softmax(z, 1), y, num_classes=10, n_bins=n_bins, norm="l1"))
    assert C.ece(z, y, n_bins=n_bins) == pytest.approx(ref, abs=1e-5)


def test_planted_temperature_is_recovered():
    z, y = planted()
    t = C.fit_temperature(z, y)
    assert t == pytest.approx(2.5, rel=0.03)
    assert C.ece(z, y, temperature=t) < 0.015 < 0.2 < C.ece(z, y)   # over-confident at T=1, calibrated at T


def test_perfectly_calibrated_predictions_have_ece_near_zero():
    z, y = planted(temperature=1.0, n=50000)
    assert C.ece(z, y) < 0.01


def test_temperature_keeps_argmax_and_accuracy():
    z, y = planted(n=2000)
    for t in (0.5, 1.0, 3.0):
        assert torch.equal(C.confidences(z, t)[1], z.argmax(1))


def test_reliability_bins_are_half_open_on_the_left():
    # confidence exactly 0.5 belongs to the bin (0.4, 0.5] with 5 bins
    z = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]])   # confidences 0.5 and 0.75
    b = C.reliability_bins(z, torch.tensor([0, 1]), n_bins=5)
    assert b["count"].tolist() == [0, 0, 1, 1, 0]
    assert b["acc"][2] == 1.0 and b["acc"][3] == 0.0
    assert b["conf"][3] == pytest.approx(0.75)


def test_nll_matches_cross_entropy():
    z, y = planted(n=1000)
    assert C.nll(z, y, 2.0) == pytest.approx(float(torch.nn.functional.cross_entropy(z / 2.0, y)), rel=1e-6)


def test_bad_bins():
    with pytest.raises(ValueError, match="n_bins"):
        C.reliability_bins(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), n_bins=0)


# ---------------------------------------------------------------- chapter 3: calibration_report
def test_calibration_report_recovers_a_planted_temperature():
    """Validation and test logits drawn (with different seeds) from the same over-confident model:
    the report's T is the planted one, scaling fixes the ECE and the NLL, and never changes accuracy."""
    z_val, y_val = planted(n=20000, temperature=2.5, seed=3)
    z_test, y_test = planted(n=20000, temperature=2.5, seed=4)
    r = C.calibration_report(z_val, y_val, z_test, y_test)
    assert set(r) == {"T", "acc", "conf", "nll", "ece", "acc_ts", "conf_ts", "nll_ts", "ece_ts"}
    assert r["T"] == pytest.approx(2.5, rel=0.03)
    assert r["acc"] == r["acc_ts"] == pytest.approx(float((z_test.argmax(1) == y_test).double().mean()))
    assert r["ece_ts"] < 0.015 < 0.2 < r["ece"]
    assert r["nll_ts"] < r["nll"]
    assert r["conf"] > r["acc"] and r["conf_ts"] == pytest.approx(r["acc_ts"], abs=0.015)  # over-confident, then not


def test_calibration_report_agrees_with_the_single_measures():
    z_val, y_val = planted(n=3000, temperature=0.5, seed=5)   # under-confident logits: T < 1 expected
    z_test, y_test = planted(n=3000, temperature=0.5, seed=6)
    r = C.calibration_report(z_val, y_val, z_test, y_test, n_bins=10)
    t = C.fit_temperature(z_val, y_val)
    assert r["T"] == pytest.approx(t) and t < 1
    assert r["ece"] == pytest.approx(C.ece(z_test, y_test, n_bins=10))
    assert r["ece_ts"] == pytest.approx(C.ece(z_test, y_test, n_bins=10, temperature=t))
    assert r["nll_ts"] == pytest.approx(C.nll(z_test, y_test, t))
    assert r["conf"] == pytest.approx(float(torch.softmax(z_test.double(), 1).max(1).values.mean()))
    assert r["conf"] < r["acc"]   # under-confident as trained
