"""Calibration: reliability bins, expected calibration error, temperature scaling (chapters 3 and 4).

Definitions follow Guo et al. (2017): the confidence of a prediction is its largest softmax
probability; predictions are grouped into ``M = 15`` equal-width bins ``((m-1)/M, m/M]``; the
expected calibration error is ``ECE = sum_m |B_m|/n * |acc(B_m) - conf(B_m)|`` (a fraction, as in the
paper, not a percentage).  Temperature scaling divides every logit by one scalar ``T`` fitted by
minimising the NLL on held-out data; argmax and accuracy are unchanged.

Every public function checks its arguments (:mod:`lsmooth_lib.checks`): logits are a finite real ``(N, K)``
tensor with ``N >= 1`` and ``K >= 2``, labels ``N`` integers in ``[0, K)``, temperatures positive and finite,
``n_bins`` a whole number ``>= 1``; anything else raises with a one-sentence message instead of a silent ``nan``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from . import checks


def _floats(logits) -> torch.Tensor:
    # float32 or float64 logits are used as they are (no float64 copy of a 17,000 x 5,000 array in
    # chapter 4); half precision and integers are widened to float32.
    z = torch.as_tensor(logits)
    return z if z.dtype in (torch.float32, torch.float64) else z.float()


def _logits(logits, labels=None):
    """Checked float logits (and labels): see the module's notes."""
    if labels is None:
        z = checks.matrix("logits", logits, min_cols=2)
        checks.values(finite={"logits": z})
        return _floats(z)
    z, y = checks.logits_and_labels(logits, labels)
    return _floats(z), y


def _temperature(temperature) -> float:
    return checks.positive_finite("temperature", temperature, hint=" (1 = the logits as they are)")


def _n_bins(n_bins) -> int:
    return checks.count("n_bins", n_bins, hint=" (the paper uses 15 equal-width bins)")


def confidences(logits: torch.Tensor, temperature: float = 1.0):
    """``(confidence, predicted class)`` of each row: the largest softmax probability at ``temperature``
    (computed as ``exp(max_k z_k / T - logsumexp(z / T))``, returned in float64)."""
    return _confidences(_logits(logits), _temperature(temperature))


def _confidences(z: torch.Tensor, temperature: float):
    z = z / temperature
    top, pred = z.max(dim=-1)
    return torch.exp(top - torch.logsumexp(z, dim=-1)).double(), pred


def reliability_bins(logits: torch.Tensor, labels: torch.Tensor, n_bins: int = 15, temperature: float = 1.0) -> dict:
    """Per-bin counts, mean accuracy and mean confidence over ``n_bins`` equal-width bins (chapter 3).

    Bin ``m`` (1-based) holds confidences in ``((m-1)/M, m/M]``.  Empty bins have ``count`` 0 and NaN means.
    """
    n_bins, temperature = _n_bins(n_bins), _temperature(temperature)
    z, y = _logits(logits, labels)
    return _reliability_bins(z, y, n_bins, temperature)


def _reliability_bins(z: torch.Tensor, y: torch.Tensor, n_bins: int, temperature: float) -> dict:
    conf, pred = _confidences(z, temperature)
    correct = (pred == y).double()
    edges = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)
    which = torch.bucketize(conf, edges, right=False) - 1          # conf in (e[m], e[m+1]] -> m
    which = which.clamp(0, n_bins - 1)
    count = torch.bincount(which, minlength=n_bins).double()
    acc = torch.bincount(which, weights=correct, minlength=n_bins) / count
    mean_conf = torch.bincount(which, weights=conf, minlength=n_bins) / count
    return dict(edges=edges, count=count, acc=acc, conf=mean_conf)


def ece(logits: torch.Tensor, labels: torch.Tensor, n_bins: int = 15, temperature: float = 1.0) -> float:
    """Expected calibration error (a fraction in [0, 1]) with ``n_bins`` equal-width bins (chapter 3)."""
    return _ece_of_bins(reliability_bins(logits, labels, n_bins, temperature))


def ece_of_bins(b: dict) -> float:
    """The ECE of :func:`reliability_bins`' output (the count-weighted mean gap; empty bins count 0)."""
    if not isinstance(b, dict) or not {"count", "acc", "conf"} <= set(b):
        raise TypeError(f"ece_of_bins needs the dict reliability_bins returns (keys count, acc, conf); "
                        f"got {checks.describe(b)}")
    count = checks.as_tensor("bins['count']", b["count"], torch.float64)
    if count.ndim != 1 or not len(count) or bool((count < 0).any()) or not float(count.sum()) > 0:
        raise ValueError(f"the bins hold no predictions (bins['count'] must be non-negative counts with a positive "
                         f"sum); got {checks.describe(count)} summing to {float(count.sum()) if count.numel() else 0}")
    return _ece_of_bins(b)


def _ece_of_bins(b: dict) -> float:
    gaps = torch.nan_to_num((b["acc"] - b["conf"]).abs(), nan=0.0)
    return float((b["count"] / b["count"].sum() * gaps).sum())


def nll(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the labels under ``softmax(logits / T)`` (chapter 3)."""
    temperature = _temperature(temperature)
    z, y = _logits(logits, labels)
    return _nll(z, y, temperature)


def _nll(z: torch.Tensor, y: torch.Tensor, temperature: float) -> float:
    return float(F.cross_entropy(z / temperature, y))


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature ``T > 0`` minimising the NLL of ``softmax(logits / T)`` on these (validation) data (chapter 3).

    Optimised over ``log T`` with L-BFGS (in the logits' precision), so ``T`` stays positive.
    """
    z, y = _logits(logits, labels)
    log_t = torch.zeros(1, dtype=z.dtype, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(z / log_t.exp(), y)
        loss.backward()
        return loss

    with torch.enable_grad():  # also inside torch.no_grad() / set_grad_enabled(False), as chapter 4 runs
        opt.step(closure)
    t = float(log_t.detach().exp())
    if not (t > 0 and t < float("inf")):
        raise ValueError(f"no finite temperature minimises the NLL of these {len(y)} predictions (the fit reached "
                         f"T = {t}): with every prediction correct and confident the optimum is T -> 0; use more "
                         f"(held-out) data")
    return t


def calibration_report(logits_val, labels_val, logits_test, labels_test, n_bins: int = 15) -> dict:
    """Everything chapter 3's tables show for one model: test accuracy, NLL, ECE and mean confidence as
    trained (``T = 1``), the temperature ``T`` fitted on the validation split by NLL, and the same test
    metrics after dividing the logits by ``T`` (chapter 3).

    Keys: ``acc, nll, ece, conf, T, acc_ts, nll_ts, ece_ts, conf_ts``.  ``acc - conf`` is positive for an
    under-confident model; ``T < 1`` means temperature scaling had to *sharpen* the predictions.
    """
    n_bins = _n_bins(n_bins)
    z, y = _logits(logits_test, labels_test)
    t = fit_temperature(logits_val, labels_val)
    zv = checks.as_tensor("logits_val", logits_val)
    if zv.shape[1] != z.shape[1]:
        raise ValueError(f"the validation and test logits must have the same number of classes; got "
                         f"{checks.describe(zv)} and {checks.describe(z)}")
    out = {"T": t}
    for suffix, temp in (("", 1.0), ("_ts", t)):
        conf, pred = _confidences(z, temp)
        out["acc" + suffix] = float((pred == y).double().mean())
        out["conf" + suffix] = float(conf.mean())
        out["nll" + suffix] = _nll(z, y, temp)
        out["ece" + suffix] = _ece_of_bins(_reliability_bins(z, y, n_bins, temp))
    return out


def calibration_table(logits: torch.Tensor, labels: torch.Tensor, temperatures, n_bins: int = 15) -> dict:
    """Accuracy, mean confidence, ECE, NLL and the reliability bins of ``logits`` at each temperature, as
    arrays over ``temperatures`` (chapter 4 reads this table for the Transformers' 17,000 validation
    tokens x 5,000 classes, which the zoo computes once instead of committing the logits).

    Keys: ``temperature (M,)``, ``acc``, ``conf``, ``ece``, ``nll`` ``(M,)`` and ``bin_count``,
    ``bin_acc``, ``bin_conf`` ``(M, n_bins)`` (NaN in empty bins), all float64 tensors.
    """
    if isinstance(temperatures, (str, bytes)) or not hasattr(temperatures, "__iter__"):
        raise TypeError(f"temperatures must be a list of positive numbers; got {checks.describe(temperatures)}")
    temps = [_temperature(t) for t in temperatures]
    if not temps:
        raise ValueError("temperatures is empty; give at least one temperature (e.g. [1.0])")
    n_bins = _n_bins(n_bins)
    z, y = _logits(logits, labels)  # checked once, not once per temperature (17,000 x 5,000 in chapter 4)
    rows = {k: [] for k in ("acc", "conf", "ece", "nll", "bin_count", "bin_acc", "bin_conf")}
    for t in temps:
        b = _reliability_bins(z, y, n_bins, t)
        conf, pred = _confidences(z, t)
        rows["acc"].append(float((pred == y).double().mean()))
        rows["conf"].append(float(conf.mean()))
        rows["ece"].append(_ece_of_bins(b))
        rows["nll"].append(_nll(z, y, t))
        for k in ("count", "acc", "conf"):
            rows["bin_" + k].append(b[k])
    out = {"temperature": torch.tensor(temps, dtype=torch.float64)}
    for k, v in rows.items():
        out[k] = torch.stack(v) if k.startswith("bin_") else torch.tensor(v, dtype=torch.float64)
    return out
