"""Calibration: reliability bins, expected calibration error, temperature scaling (chapters 3 and 4).

Definitions follow Guo et al. (2017): the confidence of a prediction is its largest softmax
probability; predictions are grouped into ``M = 15`` equal-width bins ``((m-1)/M, m/M]``; the
expected calibration error is ``ECE = sum_m |B_m|/n * |acc(B_m) - conf(B_m)|`` (a fraction, as in the
paper, not a percentage).  Temperature scaling divides every logit by one scalar ``T`` fitted by
minimising the NLL on held-out data; argmax and accuracy are unchanged.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _floats(logits) -> torch.Tensor:
    # float32 or float64 logits are used as they are (no float64 copy of a 17,000 x 5,000 array in
    # chapter 4); half precision and integers are widened to float32.
    z = torch.as_tensor(logits)
    return z if z.dtype in (torch.float32, torch.float64) else z.float()


def confidences(logits: torch.Tensor, temperature: float = 1.0):
    """``(confidence, predicted class)`` of each row: the largest softmax probability at ``temperature``
    (computed as ``exp(max_k z_k / T - logsumexp(z / T))``, returned in float64)."""
    z = _floats(logits) / temperature
    top, pred = z.max(dim=-1)
    return torch.exp(top - torch.logsumexp(z, dim=-1)).double(), pred


def reliability_bins(logits: torch.Tensor, labels: torch.Tensor, n_bins: int = 15, temperature: float = 1.0) -> dict:
    """Per-bin counts, mean accuracy and mean confidence over ``n_bins`` equal-width bins (chapter 3).

    Bin ``m`` (1-based) holds confidences in ``((m-1)/M, m/M]``.  Empty bins have ``count`` 0 and NaN means.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1; got {n_bins}")
    conf, pred = confidences(logits, temperature)
    correct = (pred == torch.as_tensor(labels)).double()
    edges = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)
    which = torch.bucketize(conf, edges, right=False) - 1          # conf in (e[m], e[m+1]] -> m
    which = which.clamp(0, n_bins - 1)
    count = torch.bincount(which, minlength=n_bins).double()
    acc = torch.bincount(which, weights=correct, minlength=n_bins) / count
    mean_conf = torch.bincount(which, weights=conf, minlength=n_bins) / count
    return dict(edges=edges, count=count, acc=acc, conf=mean_conf)


def ece(logits: torch.Tensor, labels: torch.Tensor, n_bins: int = 15, temperature: float = 1.0) -> float:
    """Expected calibration error (a fraction in [0, 1]) with ``n_bins`` equal-width bins (chapter 3)."""
    return ece_of_bins(reliability_bins(logits, labels, n_bins, temperature))


def ece_of_bins(b: dict) -> float:
    """The ECE of :func:`reliability_bins`' output (the count-weighted mean gap; empty bins count 0)."""
    gaps = torch.nan_to_num((b["acc"] - b["conf"]).abs(), nan=0.0)
    return float((b["count"] / b["count"].sum() * gaps).sum())


def nll(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the labels under ``softmax(logits / T)`` (chapter 3)."""
    return float(F.cross_entropy(_floats(logits) / temperature, torch.as_tensor(labels)))


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature ``T > 0`` minimising the NLL of ``softmax(logits / T)`` on these (validation) data (chapter 3).

    Optimised over ``log T`` with L-BFGS (in the logits' precision), so ``T`` stays positive.
    """
    z = _floats(logits)
    y = torch.as_tensor(labels)
    log_t = torch.zeros(1, dtype=z.dtype, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(z / log_t.exp(), y)
        loss.backward()
        return loss

    with torch.enable_grad():  # also inside torch.no_grad() / set_grad_enabled(False), as chapter 4 runs
        opt.step(closure)
    return float(log_t.detach().exp())


def calibration_report(logits_val, labels_val, logits_test, labels_test, n_bins: int = 15) -> dict:
    """Everything chapter 3's tables show for one model: test accuracy, NLL, ECE and mean confidence as
    trained (``T = 1``), the temperature ``T`` fitted on the validation split by NLL, and the same test
    metrics after dividing the logits by ``T`` (chapter 3).

    Keys: ``acc, nll, ece, conf, T, acc_ts, nll_ts, ece_ts, conf_ts``.  ``acc - conf`` is positive for an
    under-confident model; ``T < 1`` means temperature scaling had to *sharpen* the predictions.
    """
    t = fit_temperature(logits_val, labels_val)
    y = torch.as_tensor(labels_test)
    out = {"T": t}
    for suffix, temp in (("", 1.0), ("_ts", t)):
        conf, pred = confidences(logits_test, temp)
        out["acc" + suffix] = float((pred == y).double().mean())
        out["conf" + suffix] = float(conf.mean())
        out["nll" + suffix] = nll(logits_test, y, temp)
        out["ece" + suffix] = ece(logits_test, y, n_bins, temp)
    return out


def calibration_table(logits: torch.Tensor, labels: torch.Tensor, temperatures, n_bins: int = 15) -> dict:
    """Accuracy, mean confidence, ECE, NLL and the reliability bins of ``logits`` at each temperature, as
    arrays over ``temperatures`` (chapter 4 reads this table for the Transformers' 17,000 validation
    tokens x 5,000 classes, which the zoo computes once instead of committing the logits).

    Keys: ``temperature (M,)``, ``acc``, ``conf``, ``ece``, ``nll`` ``(M,)`` and ``bin_count``,
    ``bin_acc``, ``bin_conf`` ``(M, n_bins)`` (NaN in empty bins), all float64 tensors.
    """
    temps = [float(t) for t in temperatures]
    y = torch.as_tensor(labels)
    rows = {k: [] for k in ("acc", "conf", "ece", "nll", "bin_count", "bin_acc", "bin_conf")}
    for t in temps:
        b = reliability_bins(logits, y, n_bins, t)
        conf, pred = confidences(logits, t)
        rows["acc"].append(float((pred == y).double().mean()))
        rows["conf"].append(float(conf.mean()))
        rows["ece"].append(ece_of_bins(b))
        rows["nll"].append(nll(logits, y, t))
        for k in ("count", "acc", "conf"):
            rows["bin_" + k].append(b[k])
    out = {"temperature": torch.tensor(temps, dtype=torch.float64)}
    for k, v in rows.items():
        out[k] = torch.stack(v) if k.startswith("bin_") else torch.tensor(v, dtype=torch.float64)
    return out
