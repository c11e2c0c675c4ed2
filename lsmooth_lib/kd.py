"""Knowledge distillation's mathematics and the equivalent smoothing factor (chapter 5), on tensors only.

Hinton et al. (2015) train a student on a teacher's *tempered* output ``p_teacher(T) = softmax(z_t / T)``:

    loss = (1 - beta) * H(y, p) + beta * H(p_teacher(T), p(T))

where ``p(T)`` is the student's output at the same temperature.  The paper (section 4) uses ``beta = 1``
and student temperature 1 for its CIFAR-10 experiment (Figure 5), and for the MNIST toy the variant that
matches logits directly, ``(1 - beta) * H(y, p) + beta * 1/2 * mean_k (z_s - z_t)^2`` (the high-temperature
limit of the soft-target term).  The *equivalent smoothing factor* ``gamma`` puts distillation and
label smoothing on one axis: the teacher's probability mass on the wrong classes, rescaled by ``K / (K - 1)``
and averaged over the training set -- for a teacher that exactly fits smoothed targets it equals ``alpha``.

The training loop (:mod:`lsmooth_lib.train`) and the zoo (:mod:`lsmooth_lib.zoo`, gamma in a student's record)
use these functions; chapter 5 reads them, and the Figure-5 results gathered from the zoo, through
:mod:`lsmooth_lib.distillation`, which imports every name defined here.
"""
from __future__ import annotations

import math

import torch

from . import checks
from .losses import _log_softmax, _soft_ce, _targets, check_alpha, check_num_classes, smooth_targets

MODES = ("soft", "logits")


def check_temperature(temperature: float) -> float:
    """A distillation temperature must be a positive, finite number (not a string, not a bool)."""
    return checks.positive_finite("the temperature", temperature, hint=" (1 = the teacher's own probabilities)")


def teacher_targets(teacher_logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """The teacher's tempered output ``softmax(z_t / T)`` -- the student's soft targets (chapter 5)."""
    t = check_temperature(temperature)
    z = checks.matrix("teacher_logits", teacher_logits, min_cols=2)
    checks.values(finite={"teacher_logits": z}, key="teacher_targets")
    return _log_softmax(z / t).exp()


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
                      beta: float = 1.0, temperature: float = 1.0, mode: str = "soft",
                      student_temperature: float | None = None) -> torch.Tensor:
    """The distillation objective of chapter 5, averaged over the batch.

    ``mode="soft"``: ``(1 - beta) H(y, p) + beta H(p_t(T), p(T_s))`` with the student's temperature ``T_s``
    (default: the teacher's ``T``, as in Hinton et al.; the paper's Figure 5 uses ``T_s = 1``).
    ``mode="logits"``: ``(1 - beta) H(y, p) + beta * 1/2 * mean_k (z_s - z_t)^2`` (the MNIST toy; the mean over the
    ``K`` classes is Hinton et al.'s high-temperature limit ``T^2 H(p_t(T), p(T)) ~ 1/(2K) sum_k (z_s - z_t)^2``
    for zero-mean logits).

    Checked (see :mod:`lsmooth_lib.losses` for the cost in the training loop): student and teacher logits are
    finite ``(N, K)`` tensors of the same shape, ``labels`` ``N`` integers in ``[0, K)`` (also when ``beta = 1``
    ignores them: wrong labels are a bug either way), temperatures positive and finite.
    """
    beta = checks.in_range("beta", beta, 0.0, 1.0, hint=" (0 = hard labels only, 1 = teacher only)")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
    t = check_temperature(temperature)
    t_s = check_temperature(temperature if student_temperature is None else student_temperature)
    s, y = checks.logits_and_labels(student_logits, labels, logits_name="student_logits")
    teacher = checks.as_tensor("teacher_logits", teacher_logits)
    if teacher.shape != s.shape:
        raise ValueError(f"teacher_logits must have the shape of the student's logits {tuple(s.shape)}; got "
                         f"{checks.describe(teacher)}")
    teacher = teacher.detach().to(device=s.device, dtype=s.dtype)
    # one read-back for both logits and the labels (every DEVICE_CHECK_EVERY calls on an accelerator)
    checks.values(finite={"student_logits": s, "teacher_logits": teacher}, labels={"labels": (y, s.shape[1])},
                  key="distillation_loss", device_of=s)
    hard = (_soft_ce(s, _targets(y, s.shape[1], 0.0, "uniform", torch.promote_types(s.dtype, torch.float32)), "mean")
            if beta < 1 else s.new_zeros(()))
    if mode == "logits":  # averaged over classes: the summed form diverged with SGD at lr 0.02 (loss NaN)
        soft = 0.5 * ((s - teacher) ** 2).mean()
    else:
        soft = _soft_ce(s / t_s, _log_softmax(teacher / t).exp(), "mean")
    return (1 - beta) * hard + beta * soft


def equivalent_smoothing(teacher_logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0) -> float:
    """The paper's ``gamma = E[ sum_k (1 - y_k) p_t,k(T) ] * K / (K - 1)``: the teacher's mass on wrong
    classes at temperature ``T``, rescaled and averaged over the examples given (the training set; chapter 5).

    A model whose outputs equal the smoothed targets ``y (1 - alpha) + alpha / K`` has ``gamma = alpha``.
    """
    t = check_temperature(temperature)
    z, labels = checks.logits_and_labels(teacher_logits, labels, logits_name="teacher_logits")
    p = _log_softmax(z.to(torch.float64) / t).exp()
    K = p.shape[-1]
    wrong = 1.0 - p.gather(1, labels[:, None]).squeeze(1)
    return float(wrong.mean() * K / (K - 1))


def virtual_teacher_logits(labels: torch.Tensor, num_classes: int, correct: float = 0.9) -> torch.Tensor:
    """Logits of Yuan et al.'s teacher-free "virtual teacher" (chapter 6): probability ``correct`` on the label and
    ``(1 - correct) / (K - 1)`` on every other class -- label smoothing written as a teacher."""
    num_classes = check_num_classes(num_classes)
    correct = checks.number("correct", correct)
    if not 1.0 / num_classes < correct < 1.0:  # also refuses nan
        raise ValueError(f"the virtual teacher's probability of the correct class must lie in (1/K, 1); got {correct!r}")
    labels = checks.labels_tensor("labels", labels)
    checks.values(labels={"labels": (labels, num_classes)})
    logits = torch.full((len(labels), num_classes), math.log((1 - correct) / (num_classes - 1)), dtype=torch.float64)
    logits[torch.arange(len(labels)), labels] = math.log(correct)
    return logits.float()


def stability(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Shen et al.'s stability metric (chapter 6): ``S = 1 - 1/K sum_c 1/n_c sum_i ||p_i - mean_c||^2``, one minus the
    within-class variance of a teacher's probability vectors, averaged over the classes present."""
    p = checks.matrix("probs", probs, min_cols=2).to(torch.float64)
    labels = checks.labels_tensor("labels", labels, len(p), against="rows of probs")
    checks.values(finite={"probs": p}, labels={"labels": (labels, p.shape[1])}, distributions={"probs": p})
    variances = [((p[labels == c] - p[labels == c].mean(0)) ** 2).sum(1).mean() for c in labels.unique()]
    return float(1 - torch.stack(variances).mean())


def smoothing_logits(labels: torch.Tensor, num_classes: int, alpha: float) -> torch.Tensor:
    """Logits whose softmax is exactly the smoothed target of ``labels`` (log of it; chapter 5's check of gamma)."""
    check_alpha(alpha, num_classes)
    return smooth_targets(labels, num_classes, alpha, dtype=torch.float64).clamp_min(1e-300).log()

