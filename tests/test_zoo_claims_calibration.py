"""Chapter 3's claims, checked on the committed zoo: implicit calibration by label smoothing (Table 3, Figure 2).

These pin what our CPU-preset models do (ECE with 15 bins on the official test set, T fitted by NLL on the
validation split); if a retrained zoo stops showing it, the chapter's text is wrong.  A claim whose entries
are not trained yet is skipped, not failed.
"""
from functools import lru_cache

import pytest
import torch

from lsmooth_lib import calibration as C, data as D, train, zoo

pytestmark = pytest.mark.data
SWEEPS = {"alexnet-cifar10": "cpu-alexnet-cifar10-a", "resnet20-cifar100": "cpu-resnet20-cifar100-a"}  # entry prefixes


@pytest.fixture(autouse=True)
def _use_committed_zoo(committed_zoo):
    pass


@lru_cache(maxsize=None)
def _report(name: str) -> dict:
    return C.calibration_report(*zoo.logits(name, "val"), *zoo.logits(name, "test"))


def report(name: str) -> dict:
    """The chapter's calibration report of a committed entry; skips the test if it is not trained yet."""
    if zoo.record(name) is None:
        pytest.skip(f"{name} is not trained yet")
    return _report(name)


def entries(sweep: str, alpha: str) -> list[str]:
    """Every trained seed of one (sweep, alpha); skips if there is none."""
    names = [f"{SWEEPS[sweep]}{alpha}-s{s}" for s in range(3)]
    names = [n for n in names if n in zoo.CONFIGS and zoo.record(n) is not None]
    if not names:
        pytest.skip(f"no trained entry for {sweep}, alpha = {alpha}")
    return names


def seed0_sweep(sweep: str) -> list[str]:
    """The trained seed-0 entries of a sweep, every alpha."""
    return [n for n in zoo.names(SWEEPS[sweep]) if n.endswith("-s0") and zoo.record(n) is not None]


@pytest.mark.parametrize("sweep", SWEEPS)
def test_smoothing_lowers_the_ece_at_t1(sweep):
    """Table 3's claim: alpha = 0.1 is better calibrated than hard targets, without temperature scaling."""
    for hard, ls in zip(entries(sweep, "0"), entries(sweep, "0.1")):   # seed by seed
        assert report(ls)["ece"] < report(hard)["ece"], (hard, ls)


def test_cifar100_table3_row_alpha_005():
    """The paper's CIFAR-100 row and Figure 2: alpha = 0.05 lowers the ECE about as much as temperature scaling
    does (paper: 0.024 vs 0.021; we measured smoothing slightly *below* scaling, hence the one-sided margin)."""
    hard, ls = report("cpu-resnet20-cifar100-a0-s0"), report("cpu-resnet20-cifar100-a0.05-s0")
    assert ls["ece"] < hard["ece"]
    assert ls["ece"] < hard["ece_ts"] + 0.01


@pytest.mark.parametrize("sweep", SWEEPS)
def test_hard_targets_are_over_confident_and_temperature_scaling_fixes_it(sweep):
    for name in entries(sweep, "0"):
        r = report(name)
        assert r["T"] > 1 and r["conf"] > r["acc"], name                 # over-confident, softened by T > 1
        assert r["ece_ts"] < 0.5 * r["ece"] and r["nll_ts"] < r["nll"], name


@pytest.mark.parametrize("sweep", SWEEPS)
def test_temperature_scaling_keeps_every_prediction(sweep):
    for alpha in ("0", "0.1"):
        for name in entries(sweep, alpha):
            z, _ = zoo.logits(name, "test")
            r = report(name)
            assert torch.equal((z / r["T"]).argmax(1), z.argmax(1)) and r["acc"] == r["acc_ts"], name


def test_large_alpha_makes_the_alexnet_under_confident():
    """The sweep's far end: accuracy above confidence and a fitted T below 1 (the chapter's exercise 3.3)."""
    r = report("cpu-alexnet-cifar10-a0.3-s0")
    assert r["T"] < 1 and r["acc"] > r["conf"]


@pytest.mark.parametrize("sweep", SWEEPS)
def test_lowest_ece_is_at_a_small_alpha(sweep):
    """The chapter: the ECE at T = 1 is lowest at a small alpha (not at 0, not at the largest trained value)."""
    names = seed0_sweep(sweep)
    if len(names) < 3:
        pytest.skip(f"fewer than three trained alphas in {sweep}")
    ece = {zoo.record(n)["config"]["alpha"]: report(n)["ece"] for n in names}
    best = min(ece, key=ece.get)
    assert 0 < best <= 0.1 and best < max(ece), ece


def _after_scaling(sweep: str):
    hard = report(entries(sweep, "0")[0])
    smoothed = [report(n) for n in seed0_sweep(sweep) if zoo.record(n)["config"]["alpha"] > 0]
    if not smoothed:
        pytest.skip(f"no smoothed model trained in {sweep}")
    return hard, smoothed


@pytest.mark.parametrize("sweep", SWEEPS)
def test_after_scaling_no_smoothed_model_has_a_better_nll(sweep):
    """Beyond the paper (Wang et al. 2021): once each model gets its own T, no smoothed model beats the hard-target
    model's NLL (measured: clearly lowest on CIFAR-100; on CIFAR-10 the AlexNet with alpha = 0.6 comes within 0.002)."""
    hard, smoothed = _after_scaling(sweep)
    assert hard["nll_ts"] <= min(r["nll_ts"] for r in smoothed) + 0.005


def test_after_scaling_the_alexnet_gains_nothing_from_smoothing():
    """Wang et al.'s "harder to calibrate further", in the interpolation regime: after scaling, no smoothed AlexNet
    is better calibrated than the hard-target one (within 0.005)."""
    hard, smoothed = _after_scaling("alexnet-cifar10")
    assert hard["ece_ts"] <= min(r["ece_ts"] for r in smoothed) + 0.005


def test_after_scaling_the_cifar100_resnet20_keeps_an_edge_from_smoothing():
    """Pinned as measured, *not* Wang et al.'s finding: the under-trained ResNet-20 (about 68 % training accuracy) is
    better calibrated after scaling with smoothing than without.  If this flips, update chapter 3's text."""
    hard, smoothed = _after_scaling("resnet20-cifar100")
    assert min(r["ece_ts"] for r in smoothed) < hard["ece_ts"]


def test_zoo_logits_are_the_models_predictions():
    """The logits the chapter reads are what the model computes: computed and cached from the committed weights
    (ResNet-20, 300 test images checked), or stored in a snapshot that agrees with the record's test metrics
    (AlexNet: the stored float16 logits give the recorded accuracy and NLL)."""
    name = "cpu-resnet20-cifar100-a0.1-s0"
    z, y = zoo.logits(name, "test")
    split = D.load_split("cifar100", "test")
    assert torch.equal(y, split.labels) and z.shape == (len(split), 100)
    model, _ = zoo.load(name, device="cpu")
    fresh = train.predict(model, split.subset(range(300)), device="cpu")
    assert torch.allclose(z[:300], fresh, atol=1e-4)
    sha = zoo.record(name)["weights"]["sha256"]
    assert (D.cache_dir() / "logits" / f"{name}_test_{sha[:16]}.pt").exists()
    assert zoo.logits(name, "test")[0] is z   # the second call is served from memory
    snap = "cpu-alexnet-cifar10-a0.1-s0"
    z, y = zoo.logits(snap, "test")
    m = zoo.record(snap)["metrics"]["test"]
    assert "snapshot" in zoo.record(snap) and z.shape == (10000, 10)
    assert abs(float((z.argmax(1) == y).float().mean()) - m["acc"]) <= 3e-4  # float16 rounding flips <= 3 near-ties
    assert C.nll(z, y) == pytest.approx(m["nll"], abs=2e-3)
