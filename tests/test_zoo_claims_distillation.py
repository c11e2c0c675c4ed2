"""Chapter 5's measurements on the committed zoo: distillation, the equivalent smoothing gamma, and the mutual
information of Figure 6.

The paper's claims (the MNIST toy, Figures 5 and 6) are decided in lsmooth_lib.claims and their verdicts pinned in
tests/test_claims.py.  These tests pin the measured values the chapter's text quotes, read through the same claim
functions where one exists.  If a retrained zoo stops showing them, the chapter's text is wrong.  A measurement whose
entries are not trained yet is skipped, not failed.
"""
import math
from functools import lru_cache

import numpy as np
import pytest
from conftest import entry, trained_record as rec

from lsmooth_lib import claims, data as D, distillation as KD, zoo
from lsmooth_lib.infer import predict

pytestmark = pytest.mark.data
# the rows of chapter 5's MNIST table, by their registry fields (every seed of each)
MNIST = {"dropout": dict(family="mlp1200-mnist", dropout=0.5), "ls": dict(family="mlp1200-mnist", alpha=0.1),
         "kd-from-dropout": dict(family="mlp800-mnist-kd", teacher_alpha=0.0),
         "kd-from-ls": dict(family="mlp800-mnist-kd", teacher_alpha=0.1), "student": dict(family="mlp800-mnist")}
CPU = dict(preset="cpu", seed=0)
ALL_TEACHERS = {a: entry(family="resnet20-cifar10", alpha=a, **CPU) for a in (0.0, 0.1, 0.3, 0.6)}  # Figure 5's
CIFAR_TEACHERS = {a: ALL_TEACHERS[a] for a in (0.0, 0.1)}


def mnist_entry(key: str, seed: int = 0) -> str:
    return entry(preset="cpu", seed=seed, **MNIST[key])


def alexnet(**fields) -> str:
    """The seed-0 CPU AlexNet entry with these fields (``family`` defaults to the AlexNet trained on hard labels)."""
    return entry(**{"family": "alexnet-cifar10", **CPU, **fields})


@pytest.fixture(autouse=True)
def _use_committed_zoo(committed_zoo):
    pass



def mnist_error(key: str) -> float:
    """Mean test error (%) over the trained seeds of one row of chapter 5's MNIST table."""
    recs = [zoo.record(n) for n in zoo.select(preset="cpu", trained_only=True, **MNIST[key])]
    if not recs:
        pytest.skip(f"no seed of {MNIST[key]} is trained yet")
    return float(np.mean([100 * (1 - r["metrics"]["test"]["acc"]) for r in recs]))


@lru_cache(maxsize=None)
def _mnist_gamma(name: str, temperature: float) -> float:
    z, y = zoo.logits(name, "train")
    return KD.equivalent_smoothing(z, y, temperature)


def test_gamma_of_the_label_smoothing_teacher_is_about_alpha():
    """Chapter 5's consistency check on a real teacher: gamma of the MNIST teacher trained with alpha = 0.1, at
    T = 1 over the training set, is close to 0.1 (measured 0.113) -- and is what its student's record holds."""
    name = mnist_entry("ls")
    rec(name)
    gamma = _mnist_gamma(name, 1.0)
    assert gamma == pytest.approx(0.1, abs=0.03)
    assert rec(mnist_entry("kd-from-ls"))["gamma"] == pytest.approx(gamma, abs=1e-6)


def test_the_dropout_teacher_smooths_far_less_at_t1_and_temperature_raises_gamma():
    name = mnist_entry("dropout")
    rec(name)
    gammas = [_mnist_gamma(name, t) for t in (1.0, 2.0, 4.0, 8.0)]
    assert gammas[0] < 0.05
    assert all(a < b for a, b in zip(gammas, gammas[1:]))


def test_both_mnist_students_beat_the_student_without_a_teacher():
    """Chapter 5's MNIST table beyond the paper's anomaly (claims mnist-teacher and mnist-student): both distilled
    students beat the 2x800 network trained on the labels alone (measured 1.00 % and 1.08 % against 1.66 %)."""
    assert max(mnist_error("kd-from-ls"), mnist_error("kd-from-dropout")) < mnist_error("student")


def mi_curve(name: str) -> list[float]:
    rec(name)
    return claims.mi_curve(name)


@pytest.mark.parametrize("alpha", sorted(ALL_TEACHERS))
def test_mutual_information_stays_in_range_and_rises_then_falls(alpha):
    """Figure 6: every point lies in [0, log N] up to estimation noise; the curve rises from initialisation and
    falls again before the end of training."""
    values = mi_curve(ALL_TEACHERS[alpha])
    assert len(values) >= 20
    assert all(-0.1 <= v <= math.log(600) for v in values)
    assert claims.rise_and_fall(values) > 0.1  # measured 0.27 / 0.27 / 0.16 / 0.12 nats


def test_figure5_results_group_every_trained_entry():
    res = KD.figure5_results()
    cpu = dict(preset="cpu", trained_only=True)
    trained = (set(zoo.select(family=("resnet20-cifar10", "alexnet-cifar10"), **cpu))  # teachers, LS students
               | set(zoo.select(family="alexnet-cifar10-kd", teacher_alpha=0.0, **cpu))  # hard teacher, every T
               | set(zoo.select(family="alexnet-cifar10-kd", temperature=1, **cpu)))  # LS teachers at T = 1
    counted = (sum(len(v) for v in res["teacher"].values()) + sum(len(v) for v in res["student"].values())
               + sum(len(p["acc"]) for g in ("from_hard", "from_ls") for p in res[g].values()))
    assert counted == len(trained)
    gammas = [np.mean(p["gamma"]) for p in res["from_hard"].values()]  # sorted by T: gamma grows with T
    assert all(a < b for a, b in zip(gammas, gammas[1:]))
    for alpha, p in res["from_ls"].items():  # a label-smoothing teacher at T = 1 sits near its own alpha
        assert np.mean(p["gamma"]) == pytest.approx(alpha, abs=0.05)


def test_label_smoothing_erases_information_during_training():
    """Figure 6 as measured, three teacher seeds per alpha (fig6-ls-lower-near-log2 reproduced in kind; chapter 5 says
    so): in every seed the two curves start together (a seed's teachers share their initialisation), and the label-
    smoothing teacher ends lower (0.76-0.81 nats against 0.98-1.05), a little above log 2 = 0.69; both teachers fit
    their training sets, and the smoothing teacher is no less accurate on the test set (fig5-teacher: within noise)."""
    c = claims.figure6_ls_lower()
    assert c.n_seeds >= 3 and c.verdict == claims.IN_KIND
    for s in range(3):
        hard, ls = (entry(family="resnet20-cifar10", alpha=a, preset="cpu", seed=s) for a in (0.0, 0.1))
        assert mi_curve(hard)[0] == pytest.approx(mi_curve(ls)[0], abs=1e-6)  # same init
        assert mi_curve(ls)[-1] < mi_curve(hard)[-1] - 0.15, s
        assert math.log(2) < mi_curve(ls)[-1] < math.log(2) + 0.15, s
        assert min(rec(n)["metrics"]["train"]["acc"] for n in (hard, ls)) > 0.99  # both fit their data
    teacher = claims.figure5_teacher()
    assert teacher.verdict == claims.INCONCLUSIVE and teacher.effect > 0 and teacher.n_seeds >= 3


def test_more_smoothing_lowers_the_peak_but_not_the_floor():
    """Chapter 5, beyond the paper's two curves: the peak of the estimate falls as alpha grows (measured 1.323 /
    1.301 / 1.193 / 1.157 nats for alpha 0 / 0.1 / 0.3 / 0.6), while every smoothed teacher ends near log 2
    (0.76 / 0.76 / 0.79), well below the hard-target teacher (1.06)."""
    curves = [mi_curve(ALL_TEACHERS[a]) for a in sorted(ALL_TEACHERS)]
    peaks = [max(c) for c in curves]
    assert all(a > b for a, b in zip(peaks, peaks[1:])), peaks
    ends = [c[-1] for c in curves]
    assert all(math.log(2) - 0.1 < e < ends[0] - 0.15 for e in ends[1:]), ends


def test_the_smoothing_teacher_gives_every_cat_the_same_similarity_profile():
    """Chapter 5's slider: across training images of one class, the hard-target teacher's wrong-class
    log-probabilities vary several times more than the label-smoothing teacher's (6.65 vs 0.92 nats for 8 cats)."""
    import torch
    train = D.load_split("cifar10", "train")
    cats = train.per_class([train.class_index("cat")], 8)
    wrong = [k for k in range(10) if k != train.class_index("cat")]
    spread = {}
    for alpha, name in CIFAR_TEACHERS.items():
        rec(name)
        model, _ = zoo.load(name, device="cpu")
        spread[alpha] = float(torch.log_softmax(predict(model, cats).double(), 1)[:, wrong].std(0).mean())
    assert spread[0.0] > 3 * spread[0.1]


def _against_baseline(claim) -> dict:
    """Figure 5: each distilled student's test accuracy minus the label-smoothing student's at the same gamma, in
    points, per point, as the claim measured it (points beyond the largest trained alpha are left out)."""
    points = claim.detail["per point (effect, noise, seeds)"]
    if not points:
        pytest.skip(f"no student of {claim.id} is trained yet")
    return {k: effect for k, (effect, _, _) in points.items()}


def test_students_of_the_hard_target_teacher_beat_label_smoothing_at_every_point():
    """Figure 5's first verdict as measured, three seeds a side at every point (chapter 5 says so): above the
    baseline at all seven temperatures (+0.8 to +1.7 points for T = 1..8, about +5 and +6.5 at T = 12 and 16, where
    both lines under-fit -- see the next test), beyond the noise at T = 2..16 but not at T = 1, where the claim is
    decided (inconclusive)."""
    claim = claims.figure5_hard_teacher_students()
    diffs = _against_baseline(claim)
    points = claim.detail["per point (effect, noise, seeds)"]
    assert len(diffs) == 7 and min(diffs.values()) > 0, diffs
    if claim.n_seeds < 3:
        pytest.skip("fewer than three seeds at some Figure-5 point")
    clears = {k: effect > noise for k, (effect, noise, _) in points.items()}
    assert clears == {k: k != "T 1" for k in points}, points
    assert claim.verdict == claims.INCONCLUSIVE and claim.note.endswith("decided at T 1")


def test_the_smoothest_targets_are_under_fit_by_the_cpu_schedule():
    """Chapter 5's caveat on the right of Figure 5: 15 epochs fit the training set with hard or mildly smoothed
    targets, not with near-uniform ones (train accuracy: T = 1 student 99.5 %, T = 16 student 72 %; the baseline
    at alpha 0.9 62 %)."""
    res = KD.figure5_results()

    def train(**fields):
        return rec(alexnet(**fields))["metrics"]["train"]["acc"]

    def student(T):
        return train(family="alexnet-cifar10-kd", teacher_alpha=0.0, temperature=T)

    if zoo.record(alexnet(family="alexnet-cifar10-kd", teacher_alpha=0.0, temperature=16)) is None \
            or zoo.record(alexnet(alpha=0.9)) is None:
        pytest.skip("the T = 16 student or the alpha = 0.9 baseline is not trained")
    assert student(1) > 0.99 and train(alpha=0.3) > 0.99
    assert student(16) < 0.8 and train(alpha=0.9) < 0.7
    students = [student(t) for t in res["from_hard"]]
    assert all(a > b for a, b in zip(students, students[1:]))  # hotter teacher, worse fit


def _against_hard_teacher() -> dict:
    """Figure 5: each label-smoothing teacher's student minus the hard-target teacher's students at the same gamma
    (teachers whose gamma lies outside the temperatures trained are left out), in points."""
    res = KD.figure5_results()
    curve = {a: KD.hard_teacher_curve(float(np.mean(p["gamma"])), res) for a, p in res["from_ls"].items()}
    return {a: 100 * float(np.mean(p["acc"])) - curve[a] for a, p in res["from_ls"].items() if curve[a] is not None}


def test_students_of_smoothing_teachers_as_measured():
    """Part 2 ("no better than label smoothing"), as chapters 5 and 6 state it: the students of the alpha = 0.1 / 0.3 /
    0.6 teachers land above label smoothing at their gamma (three seeds each, measured +0.72 +- 0.81 / +1.04 +- 0.59 /
    +0.52 +- 0.27 points: beyond the noise for alpha 0.3 and 0.6, not for 0.1; none beyond the half-point margin by
    more than its noise, so the claim is not refuted) and within half a point of the hard-target teacher's students at
    the same gamma (-0.35 / -0.29 / +0.12), although the alpha = 0.1 teacher's mean accuracy is the higher one (within
    the seed noise: fig5-teacher is inconclusive)."""
    claim = claims.figure5_ls_teacher_students()
    base, hard = _against_baseline(claim), _against_hard_teacher()
    assert len(base) == 3 and all(d > 0.2 for d in base.values()), base
    points = claim.detail["per point (effect, noise, seeds)"]
    if claim.n_seeds >= 3:
        above = {k: effect > noise for k, (effect, noise, _) in points.items()}
        assert above == {"teacher alpha 0.1": False, "teacher alpha 0.3": True, "teacher alpha 0.6": True}, points
        assert all(effect - noise <= claims.TABLE2_MARGIN for effect, noise, _ in points.values()), points
    assert all(abs(d) < 0.5 for d in hard.values()) and hard[0.1] < 0, hard
    res = KD.figure5_results()
    assert np.mean(res["teacher"][0.1]) > np.mean(res["teacher"][0.0])
    assert len(res["from_ls"][0.1]["acc"]) >= 2 and np.ptp(res["from_ls"][0.1]["acc"]) > 0.01  # seeds differ by > 1 point


def test_temperature_sweep_holds_every_soft_student_and_agrees_with_figure5():
    sweep, fig5 = KD.temperature_sweep(), KD.figure5_results()
    students = zoo.select(family="alexnet-cifar10-kd", preset="cpu", trained_only=True)
    assert sum(len(p["acc"]) for points in sweep.values() for p in points.values()) == len(students)
    assert sweep.get(0.0, {}) == fig5["from_hard"]
    for alpha, p in fig5["from_ls"].items():
        assert sweep[alpha][1] == p
