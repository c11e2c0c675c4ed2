"""lsmooth_lib.distillation and lsmooth_lib.information (chapter 5): the distillation loss, the equivalent
smoothing factor gamma, and the mutual-information estimator of Figure 6, on inputs with known answers."""
import math

import pytest
import torch
import torch.nn.functional as F

from lsmooth_lib import distillation as KD
from lsmooth_lib import information as I
from lsmooth_lib import losses
from lsmooth_lib import train as T
from lsmooth_lib import zoo as Z


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- distillation loss
def test_beta_zero_is_plain_cross_entropy_and_beta_one_ignores_labels():
    s, t = torch.randn(8, 10, generator=_g(0)), torch.randn(8, 10, generator=_g(1))
    y = torch.randint(0, 10, (8,), generator=_g(2))
    assert torch.allclose(KD.distillation_loss(s, t, y, beta=0.0), F.cross_entropy(s, y))
    assert torch.allclose(KD.distillation_loss(s, t, y, beta=1.0), KD.distillation_loss(s, t, (y + 1) % 10, beta=1.0))


def test_soft_term_is_kl_plus_teacher_entropy_and_minimal_at_the_teacher():
    t = torch.randn(4, 10, generator=_g(3), dtype=torch.float64)
    y = torch.zeros(4, dtype=torch.long)
    for T in (1.0, 4.0):
        p_t = KD.teacher_targets(t, T)
        s = torch.randn(4, 10, generator=_g(4), dtype=torch.float64)
        loss = KD.distillation_loss(s, t, y, beta=1.0, temperature=T, student_temperature=T)
        entropy = -(p_t * p_t.log()).sum(-1).mean()
        kl = losses.kl_divergence(p_t, torch.softmax(s / T, -1)).mean()
        assert torch.allclose(loss, entropy + kl)
        at_teacher = KD.distillation_loss(t.clone(), t, y, beta=1.0, temperature=T, student_temperature=T)
        assert torch.allclose(at_teacher, entropy)


def test_temperature_softens_the_teacher():
    t = torch.tensor([[8.0, 2.0, 1.0]])
    h = [float(-(p * p.log()).sum()) for p in (KD.teacher_targets(t, T)[0] for T in (1, 2, 4, 16))]
    assert h == sorted(h) and h[-1] < math.log(3)


def test_logit_matching_mode():
    s, t = torch.zeros(2, 3), torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, 0.0]])
    y = torch.tensor([0, 1])
    assert torch.isclose(KD.distillation_loss(s, t, y, beta=1.0, mode="logits"), torch.tensor((0.5 * 2 + 0.5 * 4) / 6))


@pytest.mark.parametrize("bad", [dict(beta=1.5), dict(beta=-0.1), dict(temperature=0), dict(mode="l2")])
def test_bad_distillation_settings(bad):
    s = torch.zeros(2, 3)
    with pytest.raises(ValueError):
        KD.distillation_loss(s, s, torch.tensor([0, 1]), **bad)


# ---------------------------------------------------------------- gamma
@pytest.mark.parametrize("K", [3, 10, 100])
@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.45])
def test_gamma_of_a_teacher_that_fits_smoothed_targets_is_alpha(K, alpha):
    y = torch.randint(0, K, (500,), generator=_g(5))
    assert KD.equivalent_smoothing(KD.smoothing_logits(y, K, alpha), y) == pytest.approx(alpha, abs=1e-9)


def test_gamma_grows_with_temperature_and_reaches_one():
    y = torch.randint(0, 10, (200,), generator=_g(6))
    z = 8 * F.one_hot(y, 10).double() + torch.randn(200, 10, generator=_g(7), dtype=torch.float64)
    g = [KD.equivalent_smoothing(z, y, T) for T in (1, 2, 4, 8, 1000)]
    assert g == sorted(g) and g[0] < 0.1 and g[-1] == pytest.approx(1.0, abs=1e-2)


# ---------------------------------------------------------------- mutual information
def test_mi_of_well_separated_examples_is_log_n():
    N = 600
    mu = torch.arange(N, dtype=torch.float64) * 10
    samples = mu[:, None] + torch.randn(N, 5, generator=_g(8), dtype=torch.float64)
    value = I.mutual_information(samples, mu + torch.randn(N, generator=_g(9), dtype=torch.float64))
    assert value == pytest.approx(math.log(N), abs=1e-3)


def test_mi_of_indistinguishable_examples_is_near_zero():
    N = 600
    value = I.mutual_information(torch.randn(N, 5, generator=_g(10)), torch.randn(N, generator=_g(11)))
    assert -0.15 < value < 0.05


def test_mi_of_two_tight_clusters_is_about_log_2():
    mu = torch.cat([torch.zeros(300), torch.full((300,), 50.0)]).double()
    samples = mu[:, None] + torch.randn(600, 5, generator=_g(12), dtype=torch.float64)
    value = I.mutual_information(samples, mu + torch.randn(600, generator=_g(13), dtype=torch.float64))
    assert 0.55 < value < math.log(2) + 0.01


@pytest.mark.parametrize("seed", range(5))
def test_mi_never_exceeds_log_n(seed):
    N = 50
    samples = torch.randn(N, 3, generator=_g(seed)) * torch.rand(N, 1, generator=_g(seed + 100)) * 5
    assert I.mutual_information(samples, torch.randn(N, generator=_g(seed + 200))) <= math.log(N) + 1e-9


def test_mi_rejects_bad_shapes():
    with pytest.raises(ValueError, match="shape"):
        I.mutual_information(torch.zeros(5), torch.zeros(5))


# ---------------------------------------------------------------- training with a teacher
@pytest.mark.data
def test_distilled_smoke_entry_records_gamma_and_mi(smoke_zoo, smoke_records):
    rec = Z.train("smoke-kd-mlp-mnist", progress=False, device="cpu")
    assert 0.0 <= rec["gamma"] <= 1.0
    points = rec["history"][0]["mi"]
    assert points[0][0] == 0 and len(points) >= 3
    assert all(-0.5 < v <= math.log(40) + 1e-9 for _, v in points)
    assert rec["config"]["teacher"] == "smoke-mlp-mnist" and rec["config"]["beta"] == 0.6


def test_distilling_from_a_missing_teacher_says_what_to_do(tmp_zoo):
    with pytest.raises(Z.ZooError, match="has not been trained"):
        Z.train("smoke-kd-mlp-mnist", progress=False, device="cpu")


@pytest.mark.data
def test_a_metrics_only_teacher_keeps_local_weights_for_its_students(tmp_zoo, monkeypatch):
    # Chapter 5's MNIST teachers of seeds 1-2 are committed without weights (zoo budget); their weights stay in
    # zoo/.local/ so that their students train on the same machine, and a missing copy says how to get it back.
    monkeypatch.setitem(Z.CONFIGS, "smoke-mlp-mnist", {**Z.CONFIGS["smoke-mlp-mnist"], "keep_weights": False})
    rec = Z.train("smoke-mlp-mnist", progress=False, device="cpu")
    assert "weights" not in rec and not (tmp_zoo / "smoke-mlp-mnist.pt").exists()
    local = tmp_zoo / ".local" / "smoke-mlp-mnist.pt"
    assert rec["local_weights"]["sha256"] == Z.sha256(local)
    model, _ = Z.load("smoke-mlp-mnist")
    assert sum(p.numel() for p in model.parameters()) > 0
    student = Z.train("smoke-kd-mlp-mnist", progress=False, device="cpu")
    assert 0.0 <= student["gamma"] <= 1.0
    assert Z.verify() == []
    local.write_bytes(local.read_bytes()[:100])  # truncated: refused, with the command that recreates it
    with pytest.raises(Z.ZooError, match="local weights of 'smoke-mlp-mnist' .* are corrupted or truncated.*--force"):
        Z.load("smoke-mlp-mnist")


@pytest.mark.data
def test_cached_teacher_logits_train_like_the_teacher_run_on_every_batch(smoke_zoo):
    # Without augmentation fit() computes the teacher's logits once; a no-op augmentation (pad 0, no flip)
    # makes it run the teacher on every batch instead.  Both must give the same training run (one epoch: the
    # no-op crop still draws random offsets, which changes the next epoch's shuffle).
    cfg = {k: v for k, v in Z.CONFIGS["smoke-kd-mlp-mnist"].items() if k != "track_mi"}
    teacher, _ = Z.load(cfg["teacher"], device="cpu")
    _, cached = T.fit(cfg, teacher=teacher, progress=False, device="cpu")
    _, live = T.fit({**cfg, "augment": {"pad": 0}}, teacher=teacher, progress=False, device="cpu")
    for a, b in zip(cached, live, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["val_acc"] == pytest.approx(b["val_acc"], abs=1e-3)


# ---------------------------------------------------------------- chapter 6's relatives of distillation
def test_virtual_teacher_is_label_smoothing_written_as_a_teacher():
    labels = torch.tensor([0, 3, 9, 3])
    z = KD.virtual_teacher_logits(labels, 10, correct=0.91)
    p = torch.softmax(z.double(), 1)
    assert torch.allclose(p, losses.smooth_targets(labels, 10, 0.1, dtype=torch.float64), atol=1e-6)
    assert KD.equivalent_smoothing(z, labels) == pytest.approx(0.1, abs=1e-6)
    for bad in (0.05, 1.0):
        with pytest.raises(ValueError, match="correct class"):
            KD.virtual_teacher_logits(labels, 10, bad)


def test_stability_is_one_for_identical_profiles_and_drops_with_spread():
    labels = torch.tensor([0, 0, 1, 1])
    same = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.2, 0.8], [0.2, 0.8]])
    assert KD.stability(same, labels) == pytest.approx(1.0)
    spread = torch.tensor([[1.0, 0.0], [0.6, 0.4], [0.2, 0.8], [0.2, 0.8]])
    # class 0: mean (0.8, 0.2), squared distances 0.08 and 0.08 -> variance 0.08; class 1: 0 -> S = 1 - 0.04
    assert KD.stability(spread, labels) == pytest.approx(0.96)


def test_symmetric_label_noise_flips_exactly_the_rate_to_other_classes():
    from lsmooth_lib import data as D
    split = D.Split("cifar10", "train", torch.zeros(1000, 3, 2, 2, dtype=torch.uint8), torch.arange(1000) % 10,
                    [str(i) for i in range(10)])
    noisy = D.with_label_noise(split, 0.2, seed=1)
    changed = noisy.labels != split.labels
    assert int(changed.sum()) == 200 and split.labels.equal(torch.arange(1000) % 10)
    assert noisy.labels.equal(D.with_label_noise(split, 0.2, seed=1).labels)
    assert not noisy.labels.equal(D.with_label_noise(split, 0.2, seed=2).labels)
    assert len(torch.unique(noisy.labels[changed])) == 10  # spread over the classes
    with pytest.raises(ValueError, match="label-noise rate"):
        D.with_label_noise(split, 1.0)


def test_distillation_and_label_noise_configs_are_checked():
    base = dict(dataset="mnist", model="mlp800")
    cfg = T.complete_config({**base, "teacher": "smoke-mlp-mnist"})
    assert cfg["beta"] == 1.0 and cfg["distill_temperature"] == 1.0
    assert "beta" not in T.complete_config(base)
    with pytest.raises(ValueError, match="unknown config keys.*virtual_teacher"):  # no entry used it: removed
        T.complete_config({**base, "virtual_teacher": 0.9})
    with pytest.raises(ValueError, match="label_noise"):
        T.complete_config({**base, "label_noise": 1.5})


def test_fit_takes_its_teacher_from_the_caller():
    """fit never reads the zoo: a config that names a teacher needs the model, and a model needs such a config."""
    base = dict(dataset="mnist", model="mlp800", limit=64)
    with pytest.raises(ValueError, match=r"distils from the zoo entry 'smoke-mlp-mnist': pass its model.*zoo\.load"):
        T.fit({**base, "teacher": "smoke-mlp-mnist"}, progress=False, device="cpu")
    with pytest.raises(ValueError, match="names no 'teacher'"):
        T.fit(base, teacher=T.build_model("mlp800", 10), progress=False, device="cpu")
    with pytest.raises(TypeError, match="teacher must be a trained model"):
        T.fit({**base, "teacher": "smoke-mlp-mnist"}, teacher="smoke-mlp-mnist", progress=False, device="cpu")


@pytest.mark.data
def test_training_with_noisy_labels_runs():
    cfg = dict(Z.CONFIGS["smoke-mlp-mnist"], label_noise=0.2)
    model, history = T.fit(cfg, progress=False, device="cpu")
    assert len(history) == 1 and math.isfinite(history[0]["train_loss"])
    assert history[0]["train_acc"] < 0.95  # a fifth of the training labels are wrong


def test_label_smoothing_baseline_interpolates_and_never_extrapolates():
    res = {"student": {0.0: [0.74, 0.76], 0.1: [0.77], 0.6: [0.80]}}
    assert KD.label_smoothing_baseline(0.05, res) == pytest.approx(76.0)
    assert KD.label_smoothing_baseline(0.35, res) == pytest.approx(78.5)
    assert KD.label_smoothing_baseline(0.6, res) == pytest.approx(80.0)
    assert KD.label_smoothing_baseline(0.7, res) is None and KD.label_smoothing_baseline(-0.01, res) is None
    assert KD.label_smoothing_baseline(0.1, {"student": {}}) is None


def test_hard_teacher_curve_interpolates_along_gamma_and_never_extrapolates():
    res = {"from_hard": {1: {"gamma": [0.02, 0.04], "acc": [0.76, 0.78]}, 4: {"gamma": [0.33], "acc": [0.80]}}}
    assert KD.hard_teacher_curve(0.03, res) == pytest.approx(77.0)
    assert KD.hard_teacher_curve(0.18, res) == pytest.approx(78.5)
    assert KD.hard_teacher_curve(0.34, res) is None and KD.hard_teacher_curve(0.01, res) is None
    assert KD.hard_teacher_curve(0.1, {"from_hard": {}}) is None
