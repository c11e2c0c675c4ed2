"""How much a network's logits say about *which* training example it sees (chapter 5, the paper's Figure 6).

``X`` is the index of one of ``N`` training images, ``Y`` the difference of two logits of the network
on a randomly augmented copy of that image; the only randomness is the augmentation.  With a Gaussian
``p(y | x) = N(mu_x, sigma^2)`` (one pooled variance) the mutual information is estimated as

    I = 1/N sum_x [ -(y_x - mu_x)^2 / (2 sigma^2) - log( 1/N sum_x' exp(-(y_x - mu_x')^2 / (2 sigma^2)) ) ]

with ``mu_x`` the mean over ``L`` augmented copies of image ``x`` and ``y_x`` one further copy.  It lies
in ``[0, log N]`` up to estimation noise: ``log N`` when every image has its own well-separated logit
difference, ``log 2`` when two classes form two tight clusters and only the class is left.
"""
from __future__ import annotations

import math

import torch

from . import checks
from . import data as D


def mutual_information(samples: torch.Tensor, evaluation: torch.Tensor) -> float:
    """The Gaussian mutual-information estimate (nats) from ``samples`` (N, L) -- ``L`` augmented draws of
    each example's logit difference, which give the means ``mu_x`` -- and ``evaluation`` (N,), one more draw
    per example for the outer average and the pooled variance (chapter 5)."""
    samples = checks.as_tensor("samples", samples, torch.float64)
    y = checks.as_tensor("evaluation", evaluation, torch.float64)
    if samples.ndim != 2 or y.shape != samples.shape[:1] or len(y) < 2 or samples.shape[1] < 1:
        raise ValueError(f"need samples of shape (N, L) and evaluation of shape (N,), N >= 2, L >= 1; got "
                         f"{tuple(samples.shape)} and {tuple(y.shape)}")
    checks.values(finite={"samples": samples, "evaluation": y})
    mu = samples.mean(1)
    var = ((y - mu) ** 2).mean().clamp_min(1e-12)        # one pooled variance
    log_k = -(y[:, None] - mu[None, :]) ** 2 / (2 * var)  # N x N: log p(y_x | x') up to a shared constant
    own = log_k.diagonal()
    marginal = torch.logsumexp(log_k, 1) - math.log(len(y))
    return float((own - marginal).mean())


@torch.no_grad()
def logit_difference_samples(model, split, classes=("airplane", "dog"), n: int = 300, draws: int = 5,
                             augment: dict | None = None, seed: int = 0):
    """``(samples (N, draws), evaluation (N,))``: the difference of the logits of ``classes[0]`` and
    ``classes[1]`` on ``draws + 1`` random augmentations (crop + flip by default) of the first ``n``
    training images of each class -- the inputs of :func:`mutual_information` (chapter 5)."""
    if isinstance(classes, str) or not hasattr(classes, "__len__") or len(classes) != 2:
        raise ValueError(f"classes must name two different classes, e.g. ('airplane', 'dog'); got {classes!r}")
    a, b = (split.class_id(c) for c in classes)
    if a == b:
        raise ValueError(f"classes must be two different classes; got {list(classes)} (both class {a})")
    n = checks.count("n", n, hint=" (images per class)")
    draws = checks.count("draws", draws, hint=" (augmented copies per image that give its mean)")
    sub = split.per_class([a, b], n)
    if len(sub) < 2:
        raise ValueError(f"the split has {len(sub)} images of the classes {list(classes)}; the estimate needs >= 2")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    aug = augment or {"pad": 4, "flip": True}
    gen = torch.Generator().manual_seed(seed)
    outs = []
    for _ in range(draws + 1):
        diffs = []
        for x, _ in D.batches(sub, 500, input_size=model.input_size, augment=aug, generator=gen, device=device):
            z = model(x).float()
            diffs.append((z[:, a] - z[:, b]).cpu())
        outs.append(torch.cat(diffs))
    model.train(was_training)
    stacked = torch.stack(outs, 1)
    return stacked[:, :draws], stacked[:, draws]


def model_mutual_information(model, split, classes=("airplane", "dog"), n: int = 300, draws: int = 5,
                             seed: int = 0, augment: dict | None = None) -> float:
    """The paper's Figure-6 quantity for ``model`` on ``split``: :func:`mutual_information` of the logit
    difference of two classes over ``2 n`` training images, ``draws`` augmentations each (chapter 5)."""
    return mutual_information(*logit_difference_samples(model, split, classes, n, draws, augment, seed))
