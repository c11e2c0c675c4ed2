"""Transfer of the penultimate features: a linear probe on another data set (chapter 6; beyond the paper).

Kornblith et al. (NeurIPS 2021, "Why do better loss functions lead to less transferable features?") found that
label smoothing, like other losses that improve ImageNet accuracy, makes the penultimate features transfer
*worse*: a linear classifier trained on frozen features for a new task does less well.  Chapter 2 shows the
reason in the template plane -- smoothing erases how an example resembles the other classes, information a new
task could have used.

:func:`linear_probe` is the measurement: multinomial logistic regression on standardised features (each unit
scaled to mean 0 and standard deviation 1 on the probe's training data), with an L2 penalty chosen on a held-out
fifth of the training features and then refitted on all of them, optimised by full-batch L-BFGS in float64 --
deterministic, no scikit-learn needed.  :func:`zoo_transfer` runs it on the book's CIFAR-10 models applied to
CIFAR-100: the ResNet-20 teachers of chapter 5 (``zoo.select(family="resnet20-cifar10")``: alpha 0 and 0.1,
three seeds each, and 0.3 and 0.6), whose weights are committed -- the CIFAR-10 AlexNets commit only snapshots, so their features on new
images cannot be computed from the zoo.  Features are computed once and cached (``<cache>/transfer/``, keyed by
the weights' sha256), as :func:`lsmooth_lib.zoo.logits` caches logits, and the probe's results are kept in
``zoo/derived/transfer_probe.json`` (:data:`RESULTS`): computing them takes minutes on a CPU (20,000 images
through each ResNet-20, then five probe fits each), reading them a millisecond, so a chapter reads the file and
recomputes only rows whose weights or settings changed.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch
import torch.nn.functional as F

from . import checks

WEIGHT_DECAYS = (1e-5, 1e-4, 1e-3, 1e-2)
RESULTS = "derived/transfer_probe.json"   # under the zoo folder: the precomputed rows of zoo_transfer


def _features(name: str, x, labels=None):
    f = checks.matrix(name, x, what="(N, d)").to(torch.float64)
    checks.values(finite={name: f})
    return f


def standardise(train: torch.Tensor, *others: torch.Tensor):
    """``train`` and ``others`` scaled with ``train``'s per-unit mean and standard deviation (units that never
    vary are left at 0).  Returns ``(train, *others)`` in float64."""
    train = _features("features", train)
    mean, std = train.mean(0), train.std(0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    out = [(train - mean) / std]
    for o in others:
        o = _features("features", o)
        if o.shape[1] != train.shape[1]:
            raise ValueError(f"features must have the same width as the probe's training features ({train.shape[1]}); "
                             f"got {checks.describe(o)}")
        out.append((o - mean) / std)
    return tuple(out)


def fit_probe(features, labels, num_classes: int | None = None, weight_decay: float = 1e-3, max_iter: int = 300):
    """Multinomial logistic regression ``softmax(x W^T + b)`` on ``features`` (already standardised), minimising
    the mean cross-entropy plus ``weight_decay / 2 * ||W||^2`` with full-batch L-BFGS in float64.
    Returns ``(W (K, d), b (K,))``."""
    x = _features("features", features)
    y = checks.labels_tensor("labels", labels, len(x), against="rows of features")
    K = int(y.max()) + 1 if num_classes is None else checks.count("num_classes", num_classes, minimum=2)
    checks.values(labels={"labels": (y, K)})
    wd = checks.in_range("weight_decay", weight_decay, 0.0, float("inf"), hi_open=True)
    max_iter = checks.count("max_iter", max_iter)
    W = torch.zeros(K, x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(K, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], lr=1, max_iter=max_iter, history_size=20, tolerance_grad=1e-9,
                            tolerance_change=1e-12, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(x @ W.T + b, y) + 0.5 * wd * (W * W).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return W.detach(), b.detach()


def probe_accuracy(W, b, features, labels) -> float:
    """Accuracy of the probe ``(W, b)`` on ``features`` (standardised like its training data) and ``labels``."""
    x = _features("features", features)
    y = checks.labels_tensor("labels", labels, len(x), against="rows of features")
    return float(((x @ W.T + b).argmax(1) == y).double().mean())


def linear_probe(train_features, train_labels, test_features, test_labels, weight_decays=WEIGHT_DECAYS,
                 val_fraction: float = 0.2, seed: int = 0, max_iter: int = 300) -> dict:
    """Test accuracy of a linear probe trained on ``train_features`` (chapter 6, Kornblith et al. 2021).

    The features are standardised with the training features' statistics; the L2 penalty is chosen among
    ``weight_decays`` by accuracy on a held-out ``val_fraction`` of the training features (drawn with ``seed``;
    ties go to the stronger penalty), and the probe is refitted on all training features with it.  Returns
    ``acc`` (test), ``weight_decay``, ``val_acc`` ``{weight_decay: accuracy}``, ``train_acc``, ``n_train``,
    ``n_test`` and ``dim``."""
    xtr = _features("train_features", train_features)
    ytr = checks.labels_tensor("train_labels", train_labels, len(xtr), against="rows of train_features")
    xte = _features("test_features", test_features)
    yte = checks.labels_tensor("test_labels", test_labels, len(xte), against="rows of test_features")
    if xte.shape[1] != xtr.shape[1]:
        raise ValueError(f"train and test features must have the same width; got {checks.describe(xtr)} and "
                         f"{checks.describe(xte)}")
    if isinstance(weight_decays, (str, bytes)) or not hasattr(weight_decays, "__iter__") or not list(weight_decays):
        raise ValueError(f"weight_decays must be a non-empty list of penalties, e.g. (1e-3, 1e-2); got "
                         f"{weight_decays!r}")
    wds = sorted((checks.in_range("weight_decay", w, 0.0, float("inf"), hi_open=True) for w in weight_decays),
                 reverse=True)
    frac = checks.in_range("val_fraction", val_fraction, 0.0, 1.0, lo_open=True, hi_open=True)
    K = int(max(int(ytr.max()), int(yte.max()))) + 1
    checks.values(labels={"train_labels": (ytr, K), "test_labels": (yte, K)})
    n_val = max(1, int(round(frac * len(ytr))))
    if len(ytr) - n_val < 2:
        raise ValueError(f"{len(ytr)} training examples are too few to hold out a validation part; give more")
    perm = torch.randperm(len(ytr), generator=torch.Generator().manual_seed(checks.count("seed", seed, minimum=0)))
    fit_idx, val_idx = perm[n_val:], perm[:n_val]
    val_acc = {}
    if len(wds) > 1:
        a, v = standardise(xtr[fit_idx], xtr[val_idx])
        for wd in wds:
            W, b = fit_probe(a, ytr[fit_idx], K, wd, max_iter)
            val_acc[wd] = probe_accuracy(W, b, v, ytr[val_idx])
    best = max(wds, key=lambda w: val_acc.get(w, 0.0)) if val_acc else wds[0]   # max keeps the first: strongest
    a, t = standardise(xtr, xte)
    W, b = fit_probe(a, ytr, K, best, max_iter)
    return dict(acc=probe_accuracy(W, b, t, yte), weight_decay=best, val_acc=val_acc,
                train_acc=probe_accuracy(W, b, a, ytr), n_train=len(ytr), n_test=len(yte), dim=xtr.shape[1])


def zoo_features(name: str, dataset: str = "cifar100", split: str = "train", limit: int | None = None,
                 refresh: bool = False):
    """``(features, labels)``: the penultimate features of the zoo entry ``name`` on ``split`` of ``dataset``
    (the images normalised with the statistics of the entry's own training set, as the network expects),
    float32, computed on the CPU from the committed weights and cached under ``<cache>/transfer/``."""
    from . import data as D, zoo
    from .diagnose import collect

    cfg = zoo.get_config(name)
    rec = zoo.record(name)
    if rec is None or "weights" not in rec:
        zoo.load(name)   # raises the ZooError that says how to get the weights
    sha = rec["weights"]["sha256"][:16]
    path = D.cache_dir() / "transfer" / f"{name}_{dataset}_{split}_{limit or 'all'}_{sha}.pt"
    if path.exists() and not refresh:
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
            return stored["features"], stored["labels"]
        except Exception:  # noqa: BLE001 - a damaged cache file is recomputed
            pass
    model, _ = zoo.load(name, device="cpu")
    out = collect(model, D.load_split(dataset, split, limit=limit), "classifier", normalize_as=cfg["dataset"],
                  batch_size=500, check_labels=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    torch.save({"features": out.features, "labels": out.labels}, tmp)
    os.replace(tmp, path)
    return out.features, out.labels


def _results_path(results):
    from . import zoo
    if results is False:
        return None
    return Path(results) if results is not None else zoo.zoo_dir() / RESULTS


def zoo_transfer(names=None, target: str = "cifar100", n_train: int | None = 10000, n_test: int | None = None,
                 weight_decays=WEIGHT_DECAYS, seed: int = 0, results=None) -> list[dict]:
    """The linear probe of each zoo entry's penultimate features on ``target`` (chapter 6): trained on the first
    ``n_train`` images of the target's training split, tested on its test split (the first ``n_test``; all by
    default).  ``names`` default to the CIFAR-10 ResNet-20 teachers that are trained, by alpha, then seed.  One row
    per entry: ``name``, ``alpha``, ``seed``, ``source_acc`` (the entry's own test accuracy), ``acc`` (the probe's),
    ``weight_decay`` (chosen), ``val_acc`` (per weight decay), ``train_acc``, ``train_examples``,
    ``test_examples``, ``dim`` and the settings (``target``, ``n_train``, ``n_test``, ``weight_decays``,
    ``probe_seed`` -- the draw of the held-out fifth -- and ``weights_sha256``).

    ``results``: the JSON file of precomputed rows (default ``zoo/derived/transfer_probe.json``; ``False``: none).
    A stored row is used when its weights' sha256 and every setting match; otherwise the row is computed (minutes on a
    CPU) and the file is rewritten."""
    from . import zoo
    if names is None:
        names = sorted(zoo.select(family="resnet20-cifar10", trained_only=True),
                       key=lambda n: (zoo.fields(n)["alpha"], zoo.fields(n)["seed"]))
    wds = [float(w) for w in weight_decays]
    path = _results_path(results)
    stored = {}
    if path is not None and path.exists():
        try:
            stored = {r["name"]: r for r in json.loads(path.read_text())["rows"]}
        except (ValueError, KeyError, TypeError):
            stored = {}
    rows, changed = [], False
    for name in names:
        rec = zoo.record(name)
        if rec is None or "weights" not in rec:
            zoo.load(name)   # raises the ZooError that says how to get the weights
        settings = dict(target=target, n_train=n_train, n_test=n_test, weight_decays=wds, probe_seed=seed,
                        weights_sha256=rec["weights"]["sha256"])
        old = stored.get(name)
        if old is not None and all(old.get(k) == v for k, v in settings.items()):
            rows.append(old)
            continue
        xtr, ytr = zoo_features(name, target, "train", n_train)
        xte, yte = zoo_features(name, target, "test", n_test)
        probe = linear_probe(xtr, ytr, xte, yte, wds, seed=seed)
        f = zoo.fields(name)
        rows.append(dict(name=name, alpha=f["alpha"], seed=f["seed"], source_acc=rec["metrics"]["test"]["acc"],
                         **{k: probe[k] for k in ("acc", "weight_decay", "train_acc", "dim")},
                         train_examples=probe["n_train"], test_examples=probe["n_test"],
                         val_acc={f"{w:g}": a for w, a in probe["val_acc"].items()}, **settings))
        changed = True
    if changed and path is not None:
        keep = {r["name"]: r for r in stored.values()}
        keep.update({r["name"]: r for r in rows})
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"about": "linear-probe transfer of zoo features (lsmooth_lib.transfer.zoo_transfer)",
                                   "rows": list(keep.values())}, indent=1) + "\n")
        os.replace(tmp, path)
    return rows


def table_text(rows: list[dict]) -> str:
    """:func:`zoo_transfer`'s rows as the text table chapter 6 prints: the source model's own test accuracy and the
    linear probe's accuracy on the target task, one line per entry."""
    lines = [f"{'entry':34s} {'alpha':>5s} {'own test acc.':>13s} {'probe acc. on ' + rows[0]['target'] if rows else '':>24s}"]
    for r in rows:
        lines.append(f"{r['name']:34s} {r['alpha']:5g} {100 * r['source_acc']:12.2f}% {100 * r['acc']:23.2f}%")
    return "\n".join(lines)
