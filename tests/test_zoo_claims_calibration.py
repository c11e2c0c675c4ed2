"""Chapter 3's measurements on the committed zoo, beyond the verdicts: implicit calibration (Table 3, Figure 2).

Table 3's rows and Figure 2 are decided in lsmooth_lib.claims (table3_ece, figure2_temperature_scaling; their
verdicts are pinned in tests/test_claims.py).  These tests pin what the chapter's text quotes besides (ECE with 15
bins on the official test set, T fitted by NLL on the validation split, through claims.calibration); if a retrained
zoo stops showing it, the chapter's text is wrong.  A measurement whose entries are not trained yet is skipped.
"""
import pytest
import torch
from conftest import entry

from lsmooth_lib import calibration as C, claims, data as D, infer, zoo

pytestmark = pytest.mark.data
SWEEPS = ("alexnet-cifar10", "resnet20-cifar100")  # the registry families of the two CPU sweeps


@pytest.fixture(autouse=True)
def _use_committed_zoo(committed_zoo):
    pass


def report(name: str) -> dict:
    """The chapter's calibration report of a committed entry (claims.calibration); skips if it is not trained yet."""
    if zoo.record(name) is None:
        pytest.skip(f"{name} is not trained yet")
    return claims.calibration(name)


def entries(sweep: str, alpha: float) -> list[str]:
    """Every trained seed of one (sweep, alpha); skips if there is none."""
    names = zoo.select(family=sweep, alpha=alpha, preset="cpu", trained_only=True)
    if not names:
        pytest.skip(f"no trained entry for {sweep}, alpha = {alpha}")
    return names


def seed0_sweep(sweep: str) -> list[str]:
    """The trained seed-0 entries of a sweep, every alpha."""
    return zoo.select(family=sweep, preset="cpu", seed=0, trained_only=True)


def test_cifar100_smoothing_lowers_the_ece_but_not_to_temperature_scaling():
    """The CIFAR-100 row as the chapter quotes it (three ResNet-20 seeds per alpha; its claim is reproduced in kind):
    the 30-epoch ResNet-20 is badly over-confident, alpha = 0.05 halves its ECE (measured 0.281-0.295 ->
    0.145-0.149) but every seed stays well above every temperature-scaled hard-target seed (0.016-0.026; the paper:
    0.024 vs 0.021)."""
    c = claims.table3_ece("cifar100")
    hard, ls, ts = c.values["alpha 0"], c.values["alpha 0.05"], c.values["alpha 0, temperature-scaled"]
    assert len(hard) == len(ls) == len(ts) == 3, c.values
    assert max(ts) < min(ls) and max(ls) < min(hard), c.values


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100"])
def test_hard_targets_are_over_confident_and_temperature_scaling_fixes_it(dataset):
    """Figure 2's reading, per seed (its verdict is claims.figure2_temperature_scaling): every hard-target model is
    over-confident (T > 1, confidence above accuracy) and scaling more than halves its ECE and lowers its NLL."""
    c = claims.figure2_temperature_scaling(dataset)
    assert c.values["fitted T"] and all(t > 1 for t in c.values["fitted T"]), c.values
    for name in entries(dict(cifar10="alexnet-cifar10", cifar100="resnet20-cifar100")[dataset], 0.0):
        r = report(name)
        assert r["conf"] > r["acc"] and r["ece_ts"] < 0.5 * r["ece"] and r["nll_ts"] < r["nll"], name


@pytest.mark.parametrize("sweep", SWEEPS)
def test_temperature_scaling_keeps_every_prediction(sweep):
    for alpha in (0.0, 0.1):
        for name in entries(sweep, alpha):
            z, _ = zoo.logits(name, "test")
            r = report(name)
            assert torch.equal((z / r["T"]).argmax(1), z.argmax(1)) and r["acc"] == r["acc_ts"], name


def test_large_alpha_makes_the_alexnet_under_confident():
    """The sweep's far end: accuracy above confidence and a fitted T below 1 (the chapter's exercise 3.3)."""
    r = report(entry(family="alexnet-cifar10", alpha=0.3, preset="cpu", seed=0))
    assert r["T"] < 1 and r["acc"] > r["conf"]


def test_cifar100_ece_falls_over_the_trained_alphas():
    """The CIFAR-100 sweep (alpha 0, 0.05, 0.1; the 30-epoch models) has no alpha large enough to overshoot: its ECE
    at T = 1 falls at every step (measured 0.281, 0.145, 0.078)."""
    ece = [report(n)["ece"] for n in sorted(seed0_sweep("resnet20-cifar100"), key=lambda n: zoo.fields(n)["alpha"])]
    assert len(ece) >= 3 and all(a > b for a, b in zip(ece, ece[1:])), ece


@pytest.mark.parametrize("sweep", ["alexnet-cifar10"])
def test_lowest_ece_is_at_a_small_alpha(sweep):
    """The chapter: the ECE at T = 1 of the AlexNet sweep is lowest at a small alpha (not at 0, not at the largest
    trained value: larger alphas overshoot into under-confidence)."""
    names = seed0_sweep(sweep)
    if len(names) < 3:
        pytest.skip(f"fewer than three trained alphas in {sweep}")
    ece = {zoo.fields(n)["alpha"]: report(n)["ece"] for n in names}
    best = min(ece, key=ece.get)
    assert 0 < best <= 0.1 and best < max(ece), ece


def _after_scaling(sweep: str):
    hard = report(entries(sweep, 0.0)[0])
    smoothed = [report(n) for n in seed0_sweep(sweep) if zoo.fields(n)["alpha"] > 0]
    if not smoothed:
        pytest.skip(f"no smoothed model trained in {sweep}")
    return hard, smoothed


@pytest.mark.parametrize("sweep", SWEEPS)
def test_after_scaling_no_smoothed_model_has_a_better_nll(sweep):
    """Beyond the paper (Wang et al. 2021): once each model gets its own T, no smoothed model beats the hard-target
    model's NLL (measured: clearly lowest on CIFAR-100; on CIFAR-10 the AlexNet with alpha = 0.6 comes within 0.002,
    0.745 against 0.743, so no tolerance is allowed)."""
    hard, smoothed = _after_scaling(sweep)
    assert hard["nll_ts"] < min(r["nll_ts"] for r in smoothed)


def test_after_scaling_the_alexnet_gains_nothing_from_smoothing():
    """Wang et al.'s "harder to calibrate further", in the interpolation regime: after scaling, no smoothed AlexNet
    is better calibrated than the hard-target one (measured 0.012 against 0.015 at best)."""
    hard, smoothed = _after_scaling("alexnet-cifar10")
    assert hard["ece_ts"] < min(r["ece_ts"] for r in smoothed)


def test_after_scaling_the_cifar100_resnet20_keeps_an_edge_from_smoothing():
    """Pinned as measured, *not* Wang et al.'s finding: the CIFAR-100 ResNet-20 (30 epochs, one seed per alpha) is
    slightly better calibrated after scaling with smoothing than without.  If this flips, update chapter 3's text."""
    hard, smoothed = _after_scaling("resnet20-cifar100")
    assert min(r["ece_ts"] for r in smoothed) < hard["ece_ts"]


def test_zoo_logits_are_the_models_predictions():
    """The logits the chapter reads are what the model computes: computed and cached from the committed weights
    (ResNet-20, 300 test images checked), or stored in a snapshot that agrees with the record's test metrics
    (AlexNet: the stored float16 logits give the recorded accuracy and NLL)."""
    name = entry(family="resnet20-cifar100", alpha=0.1, preset="cpu", seed=0)
    z, y = zoo.logits(name, "test")
    split = D.load_split("cifar100", "test")
    assert torch.equal(y, split.labels) and z.shape == (len(split), 100)
    model, _ = zoo.load(name, device="cpu")
    fresh = infer.predict(model, split.subset(range(300)), device="cpu")
    assert torch.allclose(z[:300], fresh, atol=1e-4)
    sha = zoo.record(name)["weights"]["sha256"]
    assert (D.cache_dir() / "logits" / f"{name}_test_{sha[:16]}.pt").exists()
    assert zoo.logits(name, "test")[0] is z   # the second call is served from memory
    snap = entry(family="alexnet-cifar10", alpha=0.1, preset="cpu", seed=0)
    z, y = zoo.logits(snap, "test")
    m = zoo.record(snap)["metrics"]["test"]
    assert "snapshot" in zoo.record(snap) and z.shape == (10000, 10)
    assert abs(float((z.argmax(1) == y).float().mean()) - m["acc"]) <= 3e-4  # float16 rounding flips <= 3 near-ties
    assert C.nll(z, y) == pytest.approx(m["nll"], abs=2e-3)
