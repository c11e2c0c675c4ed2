"""Label smoothing, the loss it changes, and its relatives (chapter 1).

Two conventions for the smoothed target exist in the literature and in code:

* ``"uniform"`` (the paper, Szegedy et al. 2016, PyTorch's ``label_smoothing``):
  ``y_LS = y (1 - alpha) + alpha / K`` -- the uniform part also covers the true class;
* ``"others"`` (tensor2tensor, fairseq): the true class gets exactly ``1 - alpha``
  and every other class ``alpha / (K - 1)``.

They describe the same family of targets: ``uniform`` with ``alpha`` equals
``others`` with ``alpha * (K - 1) / K`` (:func:`convert_alpha`).

Every function checks its arguments (:mod:`lsmooth_lib.checks`): logits are a real ``(N, K)`` tensor with
``N >= 1`` and ``K >= 2``, labels are ``N`` integers in ``[0, K)``, and logits that contain ``nan`` or ``inf``
raise ``ValueError`` instead of returning a ``nan`` loss.  Cost of those checks in the training loop
(``train.fit`` calls :func:`smoothed_cross_entropy` once per step): one pass over the batch's logits and
labels, and on the CPU nothing else (well under 1 % of a step).  On an accelerator the answer has to be read
back to Python, a host synchronisation, so there the value checks run on the first call and then every
:data:`lsmooth_lib.checks.DEVICE_CHECK_EVERY` (50) calls -- a diverged run, whose logits stay ``nan``, is
still stopped within 50 steps, and the other 49 steps pay nothing.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import checks

CONVENTIONS = ("uniform", "others")


def check_alpha(alpha: float, num_classes: int | None = None) -> float:
    """Validate a smoothing factor: ``0 <= alpha < 1`` and, if given, ``K >= 2``."""
    if num_classes is not None:
        check_num_classes(num_classes)
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"alpha must be a number in [0, 1); got {alpha!r}") from None
    if not (0.0 <= a < 1.0) or math.isnan(a):
        raise ValueError(
            f"alpha must lie in [0, 1) (0 = hard targets, 0.1 = the paper's usual value); got {alpha!r}. "
            "alpha = 1 would make the targets uniform and carry no label information.")
    return a


def check_num_classes(num_classes: int) -> int:
    """Validate a class count: an integer ``K >= 2``."""
    try:
        ok = not isinstance(num_classes, (bool, str)) and int(num_classes) == num_classes and num_classes >= 2
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ValueError(f"the number of classes K must be an integer >= 2; got {checks.describe(num_classes)}")
    return int(num_classes)


def _check_convention(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS} "
                         f"('uniform' = alpha/K as in the paper, 'others' = alpha/(K-1) as in tensor2tensor); "
                         f"got {convention!r}")
    return convention


def convert_alpha(alpha: float, num_classes: int, src: str = "uniform", dst: str = "others") -> float:
    """The smoothing factor in convention ``dst`` that gives the same targets as ``alpha`` in ``src``.

    ``uniform -> others``: ``alpha * (K - 1) / K``; ``others -> uniform``: ``alpha * K / (K - 1)``
    (chapter 1, "Two conventions").  ``others`` values above ``(K - 1) / K`` have no
    ``uniform`` equivalent below 1 and raise ``ValueError``.
    """
    _check_convention(src)
    _check_convention(dst)
    K = check_num_classes(num_classes)
    a = check_alpha(alpha)
    if src == dst:
        return a
    if src == "uniform":
        return a * (K - 1) / K
    return check_alpha(a * K / (K - 1))


def smooth_targets(labels: torch.Tensor, num_classes: int, alpha: float,
                   convention: str = "uniform", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Smoothed one-hot targets, shape ``(N, K)``, rows summing to 1 (chapter 1).

    ``uniform``: ``y (1 - alpha) + alpha / K``; ``others``: ``1 - alpha`` on the label and
    ``alpha / (K - 1)`` elsewhere.
    """
    _check_convention(convention)
    num_classes = check_num_classes(num_classes)
    a = check_alpha(alpha)
    labels = checks.labels_tensor("labels", labels)
    checks.values(labels={"labels": (labels, num_classes)})
    return _targets(labels, int(num_classes), a, convention, dtype)


def _targets(labels: torch.Tensor, num_classes: int, a: float, convention: str, dtype) -> torch.Tensor:
    onehot = F.one_hot(labels, num_classes).to(dtype)
    if convention == "uniform":
        return onehot * (1 - a) + a / num_classes
    return onehot * (1 - a) + (1 - onehot) * a / (num_classes - 1)


def _log_softmax(logits: torch.Tensor) -> torch.Tensor:
    # at least float32 (mixed-precision logits), float64 kept (exact checks in chapter 1)
    return F.log_softmax(logits, dim=-1, dtype=torch.promote_types(logits.dtype, torch.float32))


REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none'; got {reduction!r}")
    return reduction


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy ``H(targets, softmax(logits))`` for probability targets (chapters 1, 5);
    averaged over the batch, summed with ``reduction="sum"``, or per example with ``reduction="none"``.

    ``logits`` and ``targets`` are ``(N, K)`` of the same shape; the targets' rows must be probability vectors
    (non-negative, summing to 1) and both must be finite (checked; see the module's notes for the cost)."""
    _check_reduction(reduction)
    z = checks.matrix("logits", logits, min_cols=2)
    t = checks.as_tensor("targets", targets)
    if t.shape != z.shape:
        raise ValueError(f"targets must have the shape of the logits {tuple(z.shape)}; got {checks.describe(t)}")
    if not t.is_floating_point():
        raise TypeError(f"targets must be floating-point probabilities; got {checks.describe(t)} "
                        f"(for class indices use smoothed_cross_entropy)")
    checks.values(finite={"logits": z, "targets": t}, distributions={"targets": t}, key="soft_cross_entropy",
                  device_of=z)
    return _soft_ce(z, t.to(z.device), reduction)


def _soft_ce(logits: torch.Tensor, targets: torch.Tensor, reduction: str) -> torch.Tensor:
    per_example = -(targets * _log_softmax(logits)).sum(-1)
    if reduction == "mean":
        return per_example.mean()
    if reduction == "sum":
        return per_example.sum()
    return per_example


def smoothed_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, alpha: float = 0.0,
                           convention: str = "uniform", reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy between smoothed targets and ``softmax(logits)`` (chapter 1), averaged over the
    batch (or per example with ``reduction="none"``).

    With ``convention="uniform"`` this equals ``F.cross_entropy(logits, labels, label_smoothing=alpha)``.
    ``logits`` ``(N, K)`` must be finite and ``labels`` ``N`` integers in ``[0, K)`` (checked; the cost is in
    the module's notes).
    """
    _check_convention(convention)
    a = check_alpha(alpha)
    _check_reduction(reduction)
    z, y = checks.logits_and_labels(logits, labels, key="smoothed_cross_entropy")
    dtype = torch.promote_types(z.dtype, torch.float32)
    return _soft_ce(z, _targets(y, z.shape[-1], a, convention, dtype), reduction)


def confidence_penalty(logits: torch.Tensor, labels: torch.Tensor, beta: float) -> torch.Tensor:
    """Pereyra et al. (2017): ``H(y, p) - beta * H(p)``, averaged over the batch (chapter 1).

    Where label smoothing is ``(1 - alpha) H(y, p) + alpha KL(u || p)`` (up to a constant), the confidence penalty
    adds ``beta KL(p || u) = beta (log K - H(p))`` to the unweighted ``H(y, p)``: the same pull towards uniform, in the
    reversed direction.
    """
    beta = checks.finite_number("beta", beta, hint=" (the weight of the entropy bonus, >= 0)")
    if beta < 0:
        raise ValueError(f"beta must be >= 0 (0 = plain cross-entropy); got {beta!r}")
    z, y = checks.logits_and_labels(logits, labels, key="confidence_penalty")
    logp = _log_softmax(z)
    entropy = -(logp.exp() * logp).sum(-1)
    return F.nll_loss(logp, y) - beta * entropy.mean()


def target_probabilities(num_classes: int, alpha: float, convention: str = "uniform") -> tuple[float, float]:
    """``(p_correct, p_incorrect)`` of a smoothed target (chapter 1)."""
    _check_convention(convention)
    K = check_num_classes(num_classes)
    a = check_alpha(alpha)
    if convention == "uniform":
        return 1 - a + a / K, a / K
    return 1 - a, a / (K - 1)


def optimal_logit_gap(num_classes: int, alpha: float, convention: str = "uniform") -> float:
    """Gap ``z_correct - z_incorrect`` at which softmax matches the smoothed target exactly (chapter 1).

    ``uniform``: ``log(1 + K (1 - alpha) / alpha)``; ``others``: ``log((1 - alpha)(K - 1) / alpha)``;
    infinite for hard targets (``alpha = 0``).
    """
    p_c, p_i = target_probabilities(num_classes, alpha, convention)
    return math.inf if p_i == 0 else math.log(p_c / p_i)


def minimum_loss(num_classes: int, alpha: float, convention: str = "uniform") -> float:
    """The smallest reachable smoothed cross-entropy: the entropy of the target, in nats (chapter 1)."""
    p_c, p_i = target_probabilities(num_classes, alpha, convention)
    h = -p_c * math.log(p_c)
    if p_i > 0:
        h -= (num_classes - 1) * p_i * math.log(p_i)
    return h


def fit_free_logits(num_classes: int, alpha: float, convention: str = "uniform", label: int = 0,
                    loss: str = "smoothed", beta: float = 0.0, steps: int = 200) -> torch.Tensor:
    """Minimise a loss over a free logit vector (no network), starting from zeros (chapter 1).

    ``loss="smoothed"`` minimises :func:`smoothed_cross_entropy`; ``loss="confidence"`` minimises
    :func:`confidence_penalty` with ``beta``.  Uses L-BFGS in float64; returns the logits.  With
    hard targets the optimum is at infinity, so the result then only shows the gap still growing.
    """
    num_classes = check_num_classes(num_classes)
    check_alpha(alpha)
    _check_convention(convention)
    label = checks.index("label", label, num_classes)
    if loss not in ("smoothed", "confidence"):
        raise ValueError(f"loss must be 'smoothed' or 'confidence'; got {loss!r}")
    if loss == "confidence":
        beta = checks.finite_number("beta", beta)
        if beta < 0:
            raise ValueError(f"beta must be >= 0 (0 = plain cross-entropy); got {beta!r}")
    steps = checks.count("steps", steps)
    z = torch.zeros(1, num_classes, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([label])
    opt = torch.optim.LBFGS([z], lr=1.0, max_iter=steps, tolerance_grad=1e-12, tolerance_change=1e-15,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        if loss == "smoothed":
            value = smoothed_cross_entropy(z, y, alpha, convention)
        elif loss == "confidence":
            value = confidence_penalty(z, y, beta)
        else:
            raise ValueError(f"loss must be 'smoothed' or 'confidence'; got {loss!r}")
        value.backward()
        return value

    opt.step(closure)
    return z.detach()


def kl_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """``KL(p || q) = sum_k p_k log(p_k / q_k)`` along the last axis, with ``0 log 0 = 0`` (chapter 1).

    ``p`` and ``q`` have the same shape and their rows are probability vectors (checked)."""
    p, q = checks.as_tensor("p", p, torch.float64), checks.as_tensor("q", q, torch.float64)
    if p.shape != q.shape or p.ndim == 0 or p.numel() == 0:
        raise ValueError(f"p and q must be non-empty probability vectors of the same shape (..., K); got "
                         f"{checks.describe(p)} and {checks.describe(q)}")
    checks.values(finite={"p": p, "q": q}, distributions={"p": p, "q": q})
    return torch.where(p > 0, p * (p.clamp_min(1e-300).log() - q.log()), torch.zeros_like(p)).sum(-1)
