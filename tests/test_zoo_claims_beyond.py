"""Chapter 6's claims, checked on the committed zoo: the temperature of distillation from a smoothing teacher,
Shen et al.'s stability, feature norms, label smoothing as a virtual teacher, and label noise.

These pin what our models do; if a retrained zoo stops showing it, the chapter's text is wrong.  A claim whose
entries are not trained yet is skipped, not failed.
"""
from functools import lru_cache

import numpy as np
import pytest
import torch
from conftest import entry, trained_record as rec

from lsmooth_lib import data as D, distillation as KD, geometry as G, zoo
from lsmooth_lib.infer import predict

pytestmark = pytest.mark.data
CPU = dict(preset="cpu", seed=0)
TEACHERS = {a: entry(family="resnet20-cifar10", alpha=a, **CPU) for a in (0.0, 0.1)}


@pytest.fixture(autouse=True)
def _use_committed_zoo(committed_zoo):
    pass


def sweep(family: str) -> list[str]:
    """The trained seed-0 CPU entries of a family (hard labels, no teacher), by alpha."""
    return sorted(zoo.select(family=family, trained_only=True, **CPU), key=lambda n: zoo.fields(n)["alpha"])


def alexnet_sweep() -> list[str]:
    names = sweep("alexnet-cifar10")
    if len(names) < 3:
        pytest.skip("fewer than three AlexNet sweep entries are trained")
    return names


@lru_cache(maxsize=None)
def teacher_logits(alpha: float) -> torch.Tensor:
    model, _ = zoo.load(TEACHERS[alpha], device="cpu")
    return predict(model, D.load_split("cifar10", "train").subset(range(5000)))


def test_a_smoothing_teacher_heats_up_to_uniform_targets_much_faster():
    """Chapter 6, first cell: gamma(T) of the alpha = 0.1 teacher is near alpha at T = 1 and above 0.75 by T = 4
    (measured 0.126 -> 0.820), while the hard-target teacher's stays below 0.5 there (0.024 -> 0.368)."""
    for a in TEACHERS:
        rec(TEACHERS[a])
    labels = D.load_split("cifar10", "train").labels[:5000]
    g = {a: [KD.equivalent_smoothing(teacher_logits(a), labels, T) for T in (1, 2, 4, 8)] for a in TEACHERS}
    assert all(s > h for s, h in zip(g[0.1], g[0.0]))
    assert all(x < y for x, y in zip(g[0.0], g[0.0][1:])) and all(x < y for x, y in zip(g[0.1], g[0.1][1:]))
    assert g[0.1][0] == pytest.approx(0.1, abs=0.05) and g[0.1][2] > 0.75 and g[0.0][2] < 0.5


def test_stability_rises_with_alpha_in_every_sweep():
    """Shen et al.'s S on the test images rises monotonically with alpha (AlexNet: 0.677 at alpha 0 to 0.965 at
    0.6; CIFAR-100 ResNet-20: 0.778 to 0.884; the CIFAR-10 teachers: 0.731 at alpha 0 to 0.811 at 0.1 and higher)."""
    rec(TEACHERS[0.0]), rec(TEACHERS[0.1])
    sweeps = [alexnet_sweep(), sweep("resnet20-cifar100"), sweep("resnet20-cifar10")]
    for names in sweeps:
        s = []
        for n in names:
            z, y = zoo.logits(n, "test")
            s.append(KD.stability(torch.softmax(z.double(), 1), y))
        assert all(a < b for a, b in zip(s, s[1:])), (names, s)


def test_label_smoothing_shrinks_the_penultimate_features():
    """Chapter 6's feature-norm panel: the AlexNet's mean feature norm on 2,000 test images falls monotonically
    with alpha, and already alpha = 0.05 cuts it to less than half (measured 22.4 -> 7.2)."""
    norms = [float(zoo.feature_norms(n, "test")[:2000].mean()) for n in alexnet_sweep()]
    assert all(a > b for a, b in zip(norms, norms[1:])), norms
    assert norms[1] < 0.5 * norms[0]


def test_label_smoothing_is_distillation_from_a_virtual_teacher():
    gen = torch.Generator().manual_seed(0)
    s, y = torch.randn(64, 10, generator=gen, dtype=torch.float64), torch.randint(0, 10, (64,), generator=gen)
    from lsmooth_lib import losses as L
    for alpha in (0.05, 0.3):
        virtual = KD.virtual_teacher_logits(y, 10, correct=1 - alpha + alpha / 10).double()
        assert torch.allclose(KD.distillation_loss(s, virtual, y, beta=1.0), L.smoothed_cross_entropy(s, y, alpha))
        assert KD.equivalent_smoothing(virtual, y) == pytest.approx(alpha)


def _student(alpha: float, T: int) -> dict:
    return rec(entry(family="alexnet-cifar10-kd", teacher_alpha=alpha, temperature=T, **CPU))


def test_a_smoothing_teacher_is_on_par_at_low_temperature_and_collapses_at_t4():
    """Chandrasegaran et al. on our scale (one seed each; chapter 6's temperature sweep): at T = 1 and 2 the students
    of the two teachers differ by less than a point (measured -0.44 and +0.59); at T = 3 the smoothing teacher's is
    more than a point behind (-1.61); at T = 4 the smoothing teacher's
    student (72.84 %, gamma 0.82) is far below the hard teacher's (77.79 %), below the AlexNet trained on hard labels
    alone, and does not fit its training set."""
    acc = lambda r: 100 * r["metrics"]["test"]["acc"]  # noqa: E731
    for T in (1, 2):
        assert abs(acc(_student(0.1, T)) - acc(_student(0.0, T))) < 1.0
    assert acc(_student(0.1, 3)) < acc(_student(0.0, 3)) - 1  # measured 76.26 % vs 77.87 %
    hot = _student(0.1, 4)
    assert acc(hot) < acc(_student(0.0, 4)) - 3
    no_teacher = [100 * rec(entry(family="alexnet-cifar10", alpha=0.0, preset="cpu", seed=s))["metrics"]["test"]["acc"]
                  for s in range(3)]
    assert acc(hot) < min(no_teacher) and hot["metrics"]["train"]["acc"] < 0.9 and hot["gamma"] > 0.75
    assert acc(_student(0.0, 4)) > acc(_student(0.0, 1)) and acc(_student(0.0, 3)) > acc(_student(0.0, 1))


def test_label_smoothing_limits_memorisation_of_noisy_labels():
    """Lukasik et al. on our scale (20 % symmetric noise, one run per alpha): test accuracy rises with alpha
    (measured 62.03 / 64.76 / 69.25 % for alpha 0 / 0.1 / 0.3, against 75.43 / 75.97 / 77.00 % on clean labels), and
    the fraction of noisy training labels fitted in the last epoch falls (94.1 / 92.1 / 85.4 %)."""
    noisy = {a: rec(entry(family="alexnet-cifar10-noise0.2", alpha=a, **CPU)) for a in (0.0, 0.1, 0.3)}
    clean = {a: rec(entry(family="alexnet-cifar10", alpha=a, **CPU)) for a in noisy}
    test = [noisy[a]["metrics"]["test"]["acc"] for a in noisy]
    fitted = [noisy[a]["history"][-1]["train_acc"] for a in noisy]
    assert test[0] < test[1] < test[2] and test[2] - test[0] > 0.05
    assert all(noisy[a]["metrics"]["test"]["acc"] < clean[a]["metrics"]["test"]["acc"] - 0.05 for a in noisy)
    assert fitted[0] > fitted[1] > fitted[2] and fitted[0] > 0.9  # > 0.8: wrong labels learnt by heart
    best = max(noisy[0.0]["history"], key=lambda h: h["val_acc"])
    assert best["epoch"] < len(noisy[0.0]["history"]) and best["val_acc"] > noisy[0.0]["history"][-1]["val_acc"] + 0.02


def _teacher_seeds(alpha: float) -> list[str]:
    names = zoo.select(family="resnet20-cifar10", alpha=alpha, preset="cpu", trained_only=True)
    if len(names) < 3:
        pytest.skip(f"fewer than three teacher seeds at alpha {alpha:g}")
    return names


def test_the_teachers_rank_worse_with_smoothing_and_normalisation_helps_only_them_in_every_seed():
    """Chapter 6, selective classification: in each of the three seeds, the alpha = 0.1 teacher's excess AURC with the
    max softmax is above the hard-target teacher's (measured 0.055-0.059 against 0.039-0.042), normalised logits lower
    the smoothing teacher's and raise the hard-target teacher's (0.044-0.049: "it can hurt")."""
    from lsmooth_lib import selective
    rows = {(r["alpha"], r["seed"]): r for r in selective.zoo_table(_teacher_seeds(0.0) + _teacher_seeds(0.1))}
    for s in range(3):
        hard, ls = rows[(0.0, s)], rows[(0.1, s)]
        assert ls["e_aurc_msp"] > hard["e_aurc_msp"], s
        assert ls["e_aurc_pnorm"] < ls["e_aurc_msp"] and hard["e_aurc_pnorm"] > hard["e_aurc_msp"], s


def test_smoothed_features_transfer_worse_in_every_seed():
    """Chapter 6, transfer: every hard-target teacher's CIFAR-100 probe beats every alpha = 0.1 teacher's (measured
    20.4-20.8 % against 17.9-18.7 %), the claim's effect is several times its noise (reproduced in kind), and harder
    smoothing (alpha 0.3, 0.6: one seed each) moves the probe from the alpha = 0.1 mean by less than half of what the
    step from alpha 0 to 0.1 moved it."""
    from lsmooth_lib import claims, transfer
    names = _teacher_seeds(0.0) + _teacher_seeds(0.1)
    rows = transfer.zoo_transfer()
    acc = {a: [r["acc"] for r in rows if r["alpha"] == a] for a in (0.0, 0.1, 0.3, 0.6)}
    assert len(acc[0.0]) == len(acc[0.1]) == 3 and {r["name"] for r in rows} >= set(names)
    assert min(acc[0.0]) > max(acc[0.1])
    c = claims.kornblith2021_transfer()
    assert c.verdict == claims.IN_KIND and c.effect > 3 * c.noise
    mild = np.mean(acc[0.0]) - np.mean(acc[0.1])
    for a in (0.3, 0.6):
        assert acc[a] and max(abs(v - np.mean(acc[0.1])) for v in acc[a]) < mild / 2, (a, acc)
