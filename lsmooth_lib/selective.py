"""Selective classification: risk-coverage curves, AURC and logit normalisation (chapter 7; beyond the paper).

A selective classifier may *abstain*: it answers only when its confidence ``g(x)`` is above a threshold.
Sorting the test examples by confidence, highest first, and answering the top ``k`` of ``N`` gives the
**coverage** ``k / N`` and the **selective risk** -- the error rate among the ``k`` answered examples.  The
**risk-coverage curve** traces the risk over all coverages; its area (**AURC**, the mean risk over
``k = 1..N``) is small when the errors sit at the bottom of the ranking (Geifman & El-Yaniv 2017).

* A confidence that ranks every error below every correct prediction reaches the smallest AURC the errors
  allow, :func:`aurc_optimal`: with error rate ``e``, about ``e + (1 - e) log(1 - e)``.
* A confidence that carries no information (all equal) has risk ``e`` at every coverage: AURC = ``e``.
* Ties are broken by their *expected* effect: within a group of equal confidences the errors are counted as
  spread evenly (the mean over every order of the tied examples), so the curve does not depend on the order
  of the data.

Confidences (:func:`confidence`): ``"msp"`` the maximum softmax probability (the usual choice, and the
confidence of chapter 3); ``"maxlogit"`` the largest logit; ``"pnorm"`` the logit normalisation that Xia et
al. (ICLR 2025) use to undo what label smoothing does to the ranking -- Cattelan & Silva's MaxLogit-pNorm,
``max_k (z_k - mean(z)) / ||z - mean(z)||_p``: the logits are centred, divided by their ``p``-norm, and the
largest is the confidence.  It depends only on the *direction* of the centred logit vector, so it ignores the
logit norm that label smoothing caps (chapter 1) and that varies from example to example.  ``p`` is 2 by
default; :func:`fit_p` chooses it on held-out data, as Cattelan & Silva do.  With two classes the centred,
normalised logits are always ``(c, -c)``, so ``"pnorm"`` ranks nothing there: use it for ``K >= 3``.

Every function takes logits and labels (``zoo.logits(name, "test")`` feeds them) and checks them
(:mod:`lsmooth_lib.checks`).
"""
from __future__ import annotations

import math

import torch

from . import checks

METHODS = ("msp", "maxlogit", "pnorm")
P_GRID = (1, 2, 3, 4, 5, 6, 8, 10)


def _method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)} (max softmax probability, largest logit, "
                         f"p-normalised largest centred logit); got {method!r}")
    return method


def _p(p) -> float:
    p = checks.number("p", p, hint=" (the norm of the logit normalisation, e.g. 2)")
    if not p > 0:
        raise ValueError(f"p must be positive (1 = sum of absolute values, 2 = Euclidean, inf = largest); got {p!r}")
    return p


def normalise_logits(logits, p: float = 2) -> torch.Tensor:
    """``(z - mean(z)) / ||z - mean(z)||_p`` per row, in float64 (Cattelan & Silva's logit normalisation).

    Invariant to adding a constant to a row and to multiplying a row by a positive number; a row whose logits
    are all equal stays zero."""
    p = _p(p)
    z = checks.matrix("logits", logits, min_cols=2).to(torch.float64)
    checks.values(finite={"logits": z})
    c = z - z.mean(1, keepdim=True)
    return c / torch.linalg.vector_norm(c, ord=p, dim=1, keepdim=True).clamp_min(1e-300)


def confidence(logits, method: str = "msp", p: float = 2) -> torch.Tensor:
    """The confidence ``g(x)`` of each row of ``logits`` (float64, ``(N,)``): ``method`` is ``"msp"``
    (largest softmax probability), ``"maxlogit"`` (largest logit) or ``"pnorm"`` (the largest logit after
    :func:`normalise_logits` with this ``p``; Xia et al.'s fix for label-smoothed models)."""
    method = _method(method)
    if method == "pnorm":
        return normalise_logits(logits, p).max(1).values
    z = checks.matrix("logits", logits, min_cols=2).to(torch.float64)
    checks.values(finite={"logits": z})
    if method == "maxlogit":
        return z.max(1).values
    return torch.exp(z.max(1).values - torch.logsumexp(z, 1))


def _curve(conf: torch.Tensor, wrong: torch.Tensor) -> dict:
    """Risk-coverage of confidences ``conf`` and error indicators ``wrong`` (both ``(N,)``), ties averaged."""
    n = len(conf)
    order = torch.sort(conf, descending=True, stable=True).indices
    c, err = conf[order], wrong[order].to(torch.float64)
    _, counts = torch.unique_consecutive(c, return_counts=True)
    ends = torch.cumsum(counts, 0)
    starts = ends - counts
    cum = torch.cumsum(err, 0)
    before = torch.cat([cum.new_zeros(1), cum])[starts]           # errors ranked above each tie group
    group_err = cum[ends - 1] - before
    group = torch.repeat_interleave(torch.arange(len(counts)), counts)
    k = torch.arange(1, n + 1, dtype=torch.float64)
    expected = before[group] + (k - starts[group].double()) * group_err[group] / counts[group].double()
    return dict(coverage=k / n, risk=expected / k, threshold=c)


def risk_coverage(logits, labels, method: str = "msp", p: float = 2) -> dict:
    """The risk-coverage curve of ``logits`` on ``labels`` with the confidence ``method`` (chapter 7).

    Returns float64 tensors ``coverage`` (``k / N``, ``k = 1..N``), ``risk`` (error rate among the ``k`` most
    confident examples; tied confidences count their errors evenly) and ``threshold`` (the ``k``-th largest
    confidence), plus ``aurc`` (the mean of ``risk``) and ``error`` (the risk at full coverage)."""
    z, y = checks.logits_and_labels(logits, labels)
    conf = confidence(z, method, p)
    out = _curve(conf.cpu(), (z.argmax(1) != y).cpu())
    out["aurc"] = float(out["risk"].mean())
    out["error"] = float(out["risk"][-1])
    return out


def aurc(logits, labels, method: str = "msp", p: float = 2) -> float:
    """Area under the risk-coverage curve (the mean selective risk over the coverages ``1/N .. 1``), a fraction
    in ``[0, 1]``: lower is better; see :func:`aurc_optimal` for the floor the errors allow."""
    return risk_coverage(logits, labels, method, p)["aurc"]


def aurc_optimal(logits, labels) -> float:
    """The AURC of a perfect ranking with the same predictions: every error ranked below every correct
    prediction.  With ``m`` errors among ``N``: ``(1/N) sum_{k=N-m+1}^{N} (k - N + m) / k``, close to
    ``e + (1 - e) log(1 - e)`` for the error rate ``e = m / N``."""
    z, y = checks.logits_and_labels(logits, labels)
    n, m = len(y), int((z.argmax(1) != y).sum())
    if m == 0:
        return 0.0
    k = torch.arange(n - m + 1, n + 1, dtype=torch.float64)
    return float(((k - (n - m)) / k).sum() / n)


def fit_p(logits, labels, grid=P_GRID) -> float:
    """The ``p`` of the grid whose :func:`normalise_logits` confidence has the lowest AURC on these (held-out)
    data, as Cattelan & Silva choose it; ties go to the first (smallest) value."""
    if isinstance(grid, (str, bytes)) or not hasattr(grid, "__iter__"):
        raise TypeError(f"grid must be a list of positive numbers (values of p to try); got {checks.describe(grid)}")
    ps = [_p(p) for p in grid]
    if not ps:
        raise ValueError("grid is empty; give at least one p, e.g. [1, 2, 4]")
    z, y = checks.logits_and_labels(logits, labels)
    scores = [aurc(z, y, "pnorm", p) for p in ps]
    return ps[min(range(len(ps)), key=lambda i: (scores[i], i))]


def zoo_table(names, p: float = 2, grid=P_GRID) -> list[dict]:
    """Selective classification of trained zoo entries, one row per entry (chapters 6 and 7): ``name``,
    ``alpha``, ``seed``, test ``acc``, the test AURC with the MSP (``aurc_msp``), with the logit normalisation
    at ``p`` (``aurc_pnorm``) and at the ``p`` fitted on the validation logits (``p_fit``, ``aurc_pnorm_fit``),
    the floor ``aurc_optimal``, and the excess over it (``e_aurc_msp``, ``e_aurc_pnorm``: the ranking's own cost,
    net of the error rate, which moves the AURC by itself).  Reads ``zoo.logits`` (snapshots, or the committed
    weights; computed logits are cached)."""
    from . import zoo
    p = _p(p)
    rows = []
    for name in names:
        f = zoo.fields(name)
        z, y = zoo.logits(name, "test")
        zv, yv = zoo.logits(name, "val")
        p_fit = fit_p(zv, yv, grid)
        row = dict(name=name, alpha=f["alpha"], seed=f["seed"], acc=float((z.argmax(1) == y).double().mean()),
                   aurc_msp=aurc(z, y, "msp"), aurc_pnorm=aurc(z, y, "pnorm", p), p_fit=p_fit,
                   aurc_pnorm_fit=aurc(z, y, "pnorm", p_fit), aurc_optimal=aurc_optimal(z, y))
        row["e_aurc_msp"] = row["aurc_msp"] - row["aurc_optimal"]
        row["e_aurc_pnorm"] = row["aurc_pnorm"] - row["aurc_optimal"]
        rows.append(row)
    return rows


def optimal_aurc_of_error(error: float) -> float:
    """The continuous approximation ``e + (1 - e) log(1 - e)`` of :func:`aurc_optimal` for an error rate ``e``."""
    e = checks.in_range("error", error, 0.0, 1.0)
    return e if e == 1.0 else e + (1 - e) * math.log1p(-e)


def table_text(rows: list[dict]) -> str:
    """:func:`zoo_table`'s rows as the text table chapter 6 prints: one line per entry (AURC with the maximum
    softmax probability and with logit normalisation, each also as the excess over the floor its error allows)."""
    lines = [f"{'entry':38s} {'acc.':>6s} {'AURC':>7s} {'normalised':>10s} | excess: {'AURC':>7s} {'normalised':>10s}"]
    for r in rows:
        lines.append(f"{r['name']:38s} {100 * r['acc']:5.1f}% {r['aurc_msp']:7.4f} {r['aurc_pnorm']:10.4f} | "
                     f"{'':8s}{r['e_aurc_msp']:7.4f} {r['e_aurc_pnorm']:10.4f}")
    return "\n".join(lines)
