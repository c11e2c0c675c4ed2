"""Diagnose your own network: the book's measurements for any classifier with a final linear layer (chapter 7).

``diagnose(model, val_data, test_data)`` runs a trained ``nn.Module`` over labelled data once and measures what
the book's chapters measure on its own models, with the library functions those chapters use:

* the **template-plane projection** of three classes, its tightness and asymmetry
  (:func:`lsmooth_lib.geometry.project_features`; chapter 2);
* **calibration** as trained and after temperature scaling: accuracy, ECE, NLL, the reliability diagram and the
  fitted temperature (:func:`lsmooth_lib.calibration.calibration_report`; chapter 3);
* the **equivalent smoothing** ``gamma`` at chosen temperatures -- what a student distilled from this model
  would be trained towards (:func:`lsmooth_lib.distillation.equivalent_smoothing`, defined in
  :mod:`lsmooth_lib.kd`; chapter 5);
* the **penultimate feature norms** (chapter 6);
* the **risk-coverage curve** and its area, with the maximum softmax probability and with logit normalisation
  (:mod:`lsmooth_lib.selective`; chapter 7).

The model is used only through ``model(x)``: the final ``nn.Linear`` is found automatically (the last one in
``model.modules()`` whose output size is the number of classes) or named by the caller (``layer="head.fc"``),
and a forward hook on it records its input -- the penultimate activations -- and its output, the logits.  The
templates are its rows ``[w_k, b_k]`` (``[w_k, 0]`` for a layer without bias).  Data may be a
:class:`lsmooth_lib.data.Split`, a torchvision-style dataset (indexable, items ``(image, label)``, images as PIL
images or tensors), a ``DataLoader`` (or any iterable of ``(x, y)`` batches) or a pair of tensors
``(images, labels)``; labels must be integers in ``[0, K)``.

:func:`report_html` writes a one-page, self-contained HTML report (figures inline, no external links), and
``python -m lsmooth_lib diagnose --model FILE.py:FACTORY --weights FILE --dataset NAME`` does both from the
command line (:func:`main`).
"""
from __future__ import annotations

import base64
import html
import io
import json
import numbers
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from . import calibration as C, checks, data as D, geometry as G, selective as S
from .kd import equivalent_smoothing

MEASUREMENTS = ("projection", "reliability", "smoothing", "norms", "risk_coverage")
GAMMA_GRID = tuple(round(2 ** (k / 4), 4) for k in range(-4, 17))   # 0.5 .. 16, for the gamma curve
LAYER_HINT = ("name the layer that computes the logits with layer='...' (on the command line: --layer NAME), "
              "a dotted name as in model.named_modules()")


# ---------------------------------------------------------------- the final linear layer
def linear_layers(model: nn.Module) -> list[tuple[str, nn.Linear]]:
    """Every ``nn.Linear`` of ``model`` as ``(dotted name, module)``, in ``model.modules()`` order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]


def find_classifier(model: nn.Module, num_classes: int | None = None, layer: str | None = None):
    """``(name, layer)`` of the linear layer whose outputs are the logits (chapter 7).

    With ``layer`` (a dotted name, e.g. ``"fc"`` or ``"head.2"``) that module, which must be an ``nn.Linear``;
    otherwise the last ``nn.Linear`` in ``model.modules()`` order with ``num_classes`` outputs (any number if
    ``num_classes`` is ``None``).  A model without one raises a ``ValueError`` that lists what was searched."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (a classifier); got {checks.describe(model)}")
    found = linear_layers(model)
    listing = ", ".join(f"{n or '(the model)'} ({m.in_features} -> {m.out_features})" for n, m in found) or "none"
    if layer is not None:
        if not isinstance(layer, str):
            raise TypeError(f"layer must be a dotted module name such as 'fc'; got {checks.describe(layer)}")
        try:
            module = model.get_submodule(layer) if layer else model
        except AttributeError:
            raise ValueError(f"the model has no module named {layer!r}; its linear layers are: {listing}") from None
        if not isinstance(module, nn.Linear):
            raise ValueError(f"the module {layer!r} is a {type(module).__name__}, not an nn.Linear: diagnose needs "
                             f"the linear layer that computes the logits; the model's linear layers are: {listing}")
        if num_classes is not None and module.out_features != num_classes:
            raise ValueError(f"the layer {layer!r} has {module.out_features} outputs, but the data have {num_classes} "
                             f"classes; name the layer that computes the {num_classes} logits "
                             f"(linear layers: {listing})")
        return layer, module
    if not found:
        raise ValueError(f"the model ({type(model).__name__}) has no nn.Linear layer among its "
                         f"{sum(1 for _ in model.modules())} modules, so there are no class templates to read: "
                         f"diagnose needs a classifier whose logits come from a final linear layer "
                         f"(a 1x1 convolution head, for example, is not one); if the model has one under another "
                         f"type, {LAYER_HINT}")
    if num_classes is not None:
        matching = [(n, m) for n, m in found if m.out_features == num_classes]
        if not matching:
            raise ValueError(f"no nn.Linear layer of the model has {num_classes} outputs (the number of classes of the "
                             f"data); its linear layers are: {listing}. Check that model and data belong together, "
                             f"or {LAYER_HINT}")
        return matching[-1]
    return found[-1]


def templates_of(layer: nn.Linear) -> torch.Tensor:
    """The class templates ``[w_k, b_k]`` of a linear layer, ``(K, d + 1)`` float64 (chapter 2); a layer without
    bias has ``b_k = 0`` (its logits are ``w_k . h``, the plane then passes at the same height for every class)."""
    if not isinstance(layer, nn.Linear):
        raise TypeError(f"templates_of needs an nn.Linear; got {checks.describe(layer)}")
    w = layer.weight.detach().to("cpu", torch.float64)
    b = layer.bias.detach().to("cpu", torch.float64) if layer.bias is not None else torch.zeros(len(w), dtype=w.dtype)
    return torch.cat([w, b[:, None]], 1)


# ---------------------------------------------------------------- data of any kind
def _is_split(data) -> bool:
    return isinstance(data, D.Split)


def _num_classes(data):
    """The number of classes the data declare (a Split's classes, a torchvision dataset's ``classes``), or None."""
    if _is_split(data):
        return data.num_classes
    for obj in (data, getattr(data, "dataset", None)):
        classes = getattr(obj, "classes", None)
        if isinstance(classes, (list, tuple)) and classes:
            return len(classes)
    return None


def _class_names(data):
    if _is_split(data):
        return list(data.classes)
    for obj in (data, getattr(data, "dataset", None)):
        classes = getattr(obj, "classes", None)
        if isinstance(classes, (list, tuple)) and classes:
            return [str(c) for c in classes]
    return None


def _label_tensor(y, first: int) -> torch.Tensor:
    """Labels of one batch as a 1-D long tensor; anything but whole numbers is refused with the example's position."""
    if isinstance(y, torch.Tensor):
        t = y
    elif isinstance(y, numbers.Integral) and not isinstance(y, bool):
        t = torch.tensor([int(y)])
    else:
        items = list(y) if isinstance(y, (list, tuple)) or hasattr(y, "__array__") else [y]
        for i, v in enumerate(items):
            if isinstance(v, torch.Tensor) and v.numel() == 1:
                v = v.item()
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"labels must be integer class indices in [0, K); example {first + i} has the label "
                                f"{v!r} ({type(v).__name__}). Map class names to indices first (e.g. with the "
                                f"dataset's class_to_idx)")
        t = torch.tensor([int(v.item() if isinstance(v, torch.Tensor) else v) for v in items], dtype=torch.long)
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        bad = t.flatten()[0].item() if t.numel() else None
        raise TypeError(f"labels must be integer class indices in [0, K); got {checks.describe(t)} (e.g. {bad!r} for "
                        f"example {first}). One-hot or soft labels: pass their argmax")
    if t.ndim == 0:
        t = t[None]
    if t.ndim != 1:
        raise ValueError(f"labels must be one integer per example; a batch starting at example {first} has labels of "
                         f"shape {tuple(t.shape)}")
    return t.long().cpu()


def _image_tensor(img, index: int, transform) -> torch.Tensor:
    if transform is not None:
        img = transform(img)
    if isinstance(img, torch.Tensor):
        return img
    if hasattr(img, "getbands"):   # a PIL image: to a float tensor in [0, 1], as torchvision's ToTensor
        from torchvision.transforms.functional import to_tensor
        return to_tensor(img)
    if hasattr(img, "__array__"):
        return torch.as_tensor(img)
    raise TypeError(f"item {index} of the dataset has an image of type {type(img).__name__}; diagnose needs tensors "
                    f"or PIL images (give transform=... to convert them)")


def iterate(data, batch_size: int = 500, *, input_size: int | None = None, normalize_as: str | None = None,
            transform=None, limit: int | None = None):
    """``(x, y)`` batches (float inputs, long labels on the CPU) from any of the data kinds :func:`diagnose` accepts.

    A :class:`~lsmooth_lib.data.Split` is centre-cropped to ``input_size`` (if given) and normalised with the
    statistics of ``normalize_as`` (default: its own dataset), as :func:`lsmooth_lib.data.batches` does; a
    torchvision-style dataset is read item by item (``transform`` applied to each image; PIL images become
    ``[0, 1]`` tensors); a DataLoader or iterable of batches is used as it is.  ``limit`` stops after that
    many examples."""
    batch_size = checks.count("batch_size", batch_size)
    limit = None if limit is None else checks.count("limit", limit, hint=" (examples to use), or None for all")
    n_done = 0

    def clip(x, y):
        if limit is not None and n_done + len(y) > limit:
            keep = limit - n_done
            return x[:keep], y[:keep]
        return x, y

    if _is_split(data):
        if getattr(data, "is_text", False):
            raise TypeError("diagnose is for image classifiers; a translation split (chapter 4) has no examples "
                            "with one label each")
        n = len(data) if limit is None else min(limit, len(data))
        for i in range(0, n, batch_size):
            x = data.images[i:min(i + batch_size, n)]
            if input_size is not None and x.shape[-1] != input_size:
                x = D.center_crop(x, input_size)
            yield D.normalize(x, normalize_as or data.dataset), data.labels[i:min(i + batch_size, n)].cpu()
        return
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        x_all, y_all = data
        if len(x_all) != len(y_all):
            raise ValueError(f"(images, labels) need one label per image: {len(x_all)} images but {len(y_all)} labels")
        data = torch.utils.data.TensorDataset(x_all, _label_tensor(y_all, 0))
    if isinstance(data, (str, bytes, dict)) or data is None:
        raise TypeError(f"data must be a lsmooth_lib Split, a torchvision-style dataset of (image, label) items, a "
                        f"DataLoader of (x, y) batches or a pair (images, labels); got {checks.describe(data)}")
    loader = isinstance(data, torch.utils.data.DataLoader)
    if not loader and hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        n = len(data) if limit is None else min(limit, len(data))
        for i in range(0, n, batch_size):
            xs, ys = [], []
            for j in range(i, min(i + batch_size, n)):
                item = data[j]
                if not isinstance(item, (tuple, list)) or len(item) < 2:
                    raise TypeError(f"each item of the dataset must be an (image, label) pair; item {j} is "
                                    f"{checks.describe(item)}")
                xs.append(_image_tensor(item[0], j, transform))
                ys.append(item[1])
            try:
                x = torch.stack([t.float() if not t.is_floating_point() else t for t in xs])
            except RuntimeError:
                shapes = sorted({tuple(t.shape) for t in xs})
                raise ValueError(f"the images of items {i} to {j} have different shapes ({shapes}); resize or crop "
                                 f"them to one size (transform=...)") from None
            y = _label_tensor(ys, i)
            n_done += len(y)
            yield x, y
        return
    if not hasattr(data, "__iter__"):
        raise TypeError(f"data must be a lsmooth_lib Split, a torchvision-style dataset of (image, label) items, a "
                        f"DataLoader of (x, y) batches or a pair (images, labels); got {checks.describe(data)}")
    for batch in data:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise TypeError(f"each batch must be an (x, y) pair; got {checks.describe(batch)} after {n_done} examples")
        x, y = batch[0], _label_tensor(batch[1], n_done)
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"the inputs of a batch must be a tensor; got {checks.describe(x)} after {n_done} examples")
        x, y = clip(x, y)
        n_done += len(y)
        if len(y):
            yield x, y
        if limit is not None and n_done >= limit:
            return


@dataclass
class Outputs:
    """What one pass over labelled data records: penultimate ``features`` ``(N, d)`` and ``logits`` ``(N, K)``
    (float32, CPU), integer ``labels`` ``(N,)``, and the name of the hooked ``layer``."""
    features: torch.Tensor
    logits: torch.Tensor
    labels: torch.Tensor
    layer: str

    def __len__(self):
        return len(self.labels)


def _device(model, device):
    if device is not None:
        return torch.device(device)
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def collect(model: nn.Module, data, layer: str | None = None, *, num_classes: int | None = None,
            input_size: int | None = None, normalize_as: str | None = None, transform=None, batch_size: int = 500,
            device=None, limit: int | None = None, check_labels: bool = True) -> Outputs:
    """Run ``model`` (in eval mode, without gradients) over ``data`` and record, with a forward hook on its final
    linear layer (:func:`find_classifier`), the layer's input -- the penultimate features -- and its output, the
    logits (chapter 7).  Labels are checked against the layer's ``K`` outputs.

    The model's own output must be the layer's output (or differ from it by a constant per example, as
    ``log_softmax`` does); a model that transforms the logits after the layer raises a ``ValueError``.
    ``check_labels=False`` accepts labels of another task (the transfer probe of :mod:`lsmooth_lib.transfer`)."""
    if input_size is None:
        input_size = getattr(model, "input_size", None)
    if not check_labels:
        num_classes = None
    elif num_classes is None:
        num_classes = _num_classes(data)
    name, lin = find_classifier(model, num_classes, layer)
    K = lin.out_features
    dev = _device(model, device)
    captured = []
    handle = lin.register_forward_hook(lambda mod, inp, out: captured.append((inp[0], out)))
    was_training = model.training
    model.eval()
    feats, logits, labels = [], [], []
    n = 0
    try:
        with torch.no_grad():
            for x, y in iterate(data, batch_size, input_size=input_size, normalize_as=normalize_as,
                                transform=transform, limit=limit):
                captured.clear()
                out = model(x.to(dev))
                if len(captured) != 1:
                    raise ValueError(f"the layer {name!r} ran {len(captured)} times in one forward pass (expected "
                                     f"once, as the last step): {LAYER_HINT}")
                h, z = captured[0]
                if h.ndim != 2 or z.ndim != 2 or len(h) != len(y):
                    raise ValueError(f"the layer {name!r} saw inputs of shape {tuple(h.shape)} for a batch of {len(y)} "
                                     f"examples; diagnose needs one feature vector per example (a (batch, features) "
                                     f"input to the final linear layer)")
                if isinstance(out, torch.Tensor) and out.shape == z.shape:
                    gap = (out.float() - z.float())
                    gap = gap - gap.mean(1, keepdim=True)
                    if not bool((gap.abs() <= 1e-3 * (1 + z.float().abs())).all()):
                        raise ValueError(f"the model's output is not the output of its layer {name!r}: the model "
                                         f"changes the logits after that layer (diagnose reads the logits at the final "
                                         f"linear layer; a log_softmax is fine, a scaling or another layer is not). "
                                         f"Return the raw logits, or {LAYER_HINT}")
                bad = (y < 0) | (y >= K) if check_labels else y < 0
                if bool(bad.any()):
                    i = int(torch.nonzero(bad)[0])
                    if not check_labels:
                        raise ValueError(f"label {int(y[i])} of example {n + i} is negative; labels are class indices")
                    raise ValueError(f"label {int(y[i])} of example {n + i} is outside [0, {K}): the layer {name!r} "
                                     f"has K = {K} outputs, one per class. Check that the data's labels are class indices "
                                     f"0..{K - 1} of the classes the model was trained on")
                feats.append(h.detach().float().cpu())
                logits.append(z.detach().float().cpu())
                labels.append(y)
                n += len(y)
    finally:
        handle.remove()
        model.train(was_training)
    if not n:
        raise ValueError("the data hold no examples; diagnose needs labelled examples")
    return Outputs(torch.cat(feats), torch.cat(logits), torch.cat(labels), name)


# ---------------------------------------------------------------- the diagnosis
def _asymmetry(proj) -> float:
    """The projection's asymmetry (``Projection.equidistance`` until it is renamed ``asymmetry``): 0 when each
    example is equally far from the two wrong templates."""
    return float(proj.asymmetry if hasattr(proj, "asymmetry") else proj.equidistance)


def _float_dict(d: dict) -> dict:
    return {k: float(v) for k, v in d.items()}


@dataclass
class Diagnosis:
    """Everything :func:`diagnose` measured (chapter 7).  Numbers are plain floats, arrays CPU tensors;
    :meth:`summary` gives the numbers as a JSON-serialisable dict, :func:`report_html` the one-page report."""
    layer: str
    num_classes: int
    feature_dim: int
    bias: bool
    class_names: list
    n_val: int
    n_test: int
    held_out: bool                 # False: the temperature was fitted on the data it is evaluated on
    accuracy: float
    calibration: dict              # calibration.calibration_report: acc, nll, ece, conf, T and *_ts
    n_bins: int
    temperatures: tuple
    gamma: dict                    # {temperature: equivalent smoothing gamma}
    gamma_data: str                # "train" (as the paper) or "evaluation" (the test data)
    classes: tuple                 # the three projected classes
    tightness: float
    asymmetry: float
    p: float                       # the p of the logit normalisation
    aurc: dict                     # msp, pnorm, optimal
    feature_norm: dict             # mean, std, median; mean_correct, mean_wrong
    seconds: float
    bins: dict = field(repr=False, default_factory=dict)            # {"trained": ..., "scaled": ...}
    gamma_curve: dict = field(repr=False, default_factory=dict)     # temperature, gamma
    projection: object = field(repr=False, default=None)            # geometry.Projection
    feature_norms: torch.Tensor = field(repr=False, default=None)   # (N,) evaluation data
    correct: torch.Tensor = field(repr=False, default=None)         # (N,) bool
    risk_coverage: dict = field(repr=False, default_factory=dict)   # {"msp": curve, "pnorm": curve}
    logits: torch.Tensor = field(repr=False, default=None)          # (N, K) evaluation logits
    labels: torch.Tensor = field(repr=False, default=None)

    def summary(self) -> dict:
        """The numbers, JSON-serialisable (temperatures as strings in ``equivalent_smoothing``)."""
        return {
            "model": {"layer": self.layer, "num_classes": self.num_classes, "feature_dim": self.feature_dim,
                      "bias": self.bias},
            "data": {"n_val": self.n_val, "n_test": self.n_test, "held_out": self.held_out,
                     "gamma_data": self.gamma_data},
            "accuracy": self.accuracy,
            "calibration": {**_float_dict(self.calibration), "n_bins": self.n_bins},
            "projection": {"classes": list(self.classes), "tightness": self.tightness, "asymmetry": self.asymmetry},
            "equivalent_smoothing": {f"{t:g}": g for t, g in self.gamma.items()},
            "feature_norm": dict(self.feature_norm),
            "selective": {"aurc_msp": self.aurc["msp"], "aurc_pnorm": self.aurc["pnorm"], "p": self.p,
                          "aurc_optimal": self.aurc["optimal"], "error": 1 - self.accuracy},
            "seconds": self.seconds,
        }

    def to_json(self, path=None) -> str:
        """:meth:`summary` as JSON text (written to ``path`` too, if given)."""
        text = json.dumps(self.summary(), indent=2)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text


def _class_ids(classes, names: list, K: int) -> list[int]:
    if isinstance(classes, str) or not hasattr(classes, "__len__") or len(classes) != 3:
        raise ValueError(f"classes must name three different classes (names or indices); got {classes!r}")
    ids = []
    for c in classes:
        if isinstance(c, str):
            if c not in names:
                import difflib
                near = difflib.get_close_matches(c, names, n=3)
                hint = f" Did you mean {', '.join(near)}?" if near else ""
                raise ValueError(f"unknown class {c!r}.{hint} Classes: {', '.join(names[:20])}"
                                 f"{', ...' if len(names) > 20 else ''}")
            ids.append(names.index(c))
        else:
            ids.append(checks.index("class index", c, K))
    if len(set(ids)) != 3:
        raise ValueError(f"classes must be three different classes; got {list(classes)} (= classes {ids})")
    return ids


def diagnose(model: nn.Module, val_data, test_data=None, classes=None, temperatures=(1, 2, 4), *,
             train_data=None, layer: str | None = None, class_names=None, input_size: int | None = None,
             normalize_as: str | None = None, transform=None, n_per_class: int = 100, n_bins: int = 15,
             p: float = 2, batch_size: int = 500, device=None, limit: int | None = None) -> Diagnosis:
    """Measure a trained classifier the way the book measures its own models (chapter 7).

    ``val_data`` is held-out data for fitting the temperature (and, without ``classes``, for choosing the three
    projected classes: the most confused pair and the class farthest from them, as in chapter 2); ``test_data``
    (default: ``val_data``, then ``held_out`` is False) is where everything is measured.  ``temperatures`` are
    those of the equivalent smoothing ``gamma``, computed on ``train_data`` if given (as the paper does for a
    teacher), else on the test data (where it is larger: the model is less sure of unseen examples).
    ``classes``: three class names or indices to project; ``layer``: the dotted name of the final linear layer
    (default: found, :func:`find_classifier`); ``input_size``/``normalize_as``/``transform``: how to turn the
    data into inputs (:func:`iterate`); ``limit``: use only the first ``limit`` examples of each data set.
    """
    t0 = time.perf_counter()
    if isinstance(temperatures, (str, bytes)) or not hasattr(temperatures, "__iter__"):
        raise TypeError(f"temperatures must be a list of positive numbers, e.g. (1, 2, 4); got "
                        f"{checks.describe(temperatures)}")
    temps = tuple(checks.positive_finite("temperature", t) for t in temperatures)
    if not temps:
        raise ValueError("temperatures is empty; give at least one, e.g. (1, 2, 4)")
    n_per_class = checks.count("n_per_class", n_per_class)
    n_bins = checks.count("n_bins", n_bins)
    p = S._p(p)
    K_data = len(class_names) if class_names is not None else _num_classes(val_data)
    name, lin = find_classifier(model, K_data, layer)
    K = lin.out_features
    names = [str(c) for c in class_names] if class_names is not None else (_class_names(val_data) or
                                                                          [str(k) for k in range(K)])
    if len(names) != K:
        raise ValueError(f"{len(names)} class names for a layer with {K} outputs; give one name per class")
    kw = dict(num_classes=K, input_size=input_size, normalize_as=normalize_as, transform=transform,
              batch_size=batch_size, device=device, limit=limit)
    val = collect(model, val_data, name, **kw)
    test = collect(model, test_data, name, **kw) if test_data is not None else val
    train = collect(model, train_data, name, **kw) if train_data is not None else None

    # calibration (chapter 3)
    cal = C.calibration_report(val.logits, val.labels, test.logits, test.labels, n_bins)
    bins = {"trained": C.reliability_bins(test.logits, test.labels, n_bins),
            "scaled": C.reliability_bins(test.logits, test.labels, n_bins, cal["T"])}
    # equivalent smoothing (chapter 5)
    src = train or test
    gamma = {t: equivalent_smoothing(src.logits, src.labels, t) for t in temps}
    grid = sorted(set(GAMMA_GRID) | set(temps))
    gamma_curve = {"temperature": torch.tensor(grid, dtype=torch.float64),
                   "gamma": torch.tensor([equivalent_smoothing(src.logits, src.labels, t) for t in grid],
                                         dtype=torch.float64)}
    # projection (chapter 2)
    templates = templates_of(lin)
    if classes is None:
        try:
            ids = G.confused_triple(val.logits, val.labels, templates)
        except ValueError:   # nothing confused: the first three classes
            ids = [0, 1, 2]
    else:
        ids = _class_ids(classes, names, K)
    picks = [torch.nonzero(test.labels == k).flatten()[:n_per_class] for k in ids]
    proj = G.project_features(test.features[torch.cat(picks)].double(),
                              torch.cat([torch.full((len(ix),), i) for i, ix in enumerate(picks)]),
                              templates[ids], [names[k] for k in ids], "test" if test_data is not None else "val")
    # feature norms (chapter 6) and selective classification (chapter 7)
    norms = test.features.double().norm(dim=1)
    correct = test.logits.argmax(1) == test.labels
    rc = {"msp": S.risk_coverage(test.logits, test.labels, "msp"),
          "pnorm": S.risk_coverage(test.logits, test.labels, "pnorm", p)}
    fn = {"mean": float(norms.mean()), "std": float(norms.std()) if len(norms) > 1 else 0.0,
          "median": float(norms.median()),
          "mean_correct": float(norms[correct].mean()) if bool(correct.any()) else float("nan"),
          "mean_wrong": float(norms[~correct].mean()) if bool((~correct).any()) else float("nan")}
    return Diagnosis(
        layer=name, num_classes=K, feature_dim=lin.in_features, bias=lin.bias is not None, class_names=names,
        n_val=len(val), n_test=len(test), held_out=test_data is not None, accuracy=float(correct.double().mean()),
        calibration=cal, n_bins=n_bins, temperatures=temps, gamma=gamma,
        gamma_data="train" if train is not None else "evaluation", classes=proj.classes,
        tightness=float(proj.tightness), asymmetry=_asymmetry(proj), p=p,
        aurc={"msp": rc["msp"]["aurc"], "pnorm": rc["pnorm"]["aurc"],
              "optimal": S.aurc_optimal(test.logits, test.labels)},
        feature_norm=fn, seconds=time.perf_counter() - t0, bins=bins, gamma_curve=gamma_curve, projection=proj,
        feature_norms=norms, correct=correct, risk_coverage=rc, logits=test.logits, labels=test.labels)


# ---------------------------------------------------------------- figures (the book's style)
def _labelled(diagnoses) -> dict:
    if isinstance(diagnoses, Diagnosis):
        return {"": diagnoses}
    if isinstance(diagnoses, dict) and diagnoses and all(isinstance(d, Diagnosis) for d in diagnoses.values()):
        return diagnoses
    raise TypeError(f"expected a Diagnosis or a dict {{label: Diagnosis}}; got {checks.describe(diagnoses)}")


def _line_colors(labels) -> list:
    """The book's colours for several diagnosed models (lsmooth_lib.plots): by their alpha where the labels name one
    (blue for hard targets, shades of green for label smoothing), else the categorical colours no role uses."""
    from .plots import COLORS, TRIPLE_COLORS, alpha_colors, label_alpha
    labels = list(labels)
    alphas = [label_alpha(lab) for lab in labels]
    if all(a is not None for a in alphas) and labels:
        shade = alpha_colors(alphas)
        return [shade[float(a)] for a in alphas]
    base = [COLORS["hard"], *TRIPLE_COLORS, COLORS["neutral"]]
    return [base[i % len(base)] for i in range(len(labels))]


def draw_projection(fig, d: Diagnosis, title: str | None = None):
    """The template-plane projection of the three classes (chapter 2's Figure 1 for your model)."""
    from .plots import draw_projections
    draw_projections(fig, [d.projection], titles=[title or f"tightness {d.tightness:.2f}, "
                                                            f"asymmetry {d.asymmetry:.3f}"])
    return fig


def draw_reliability(fig, d: Diagnosis, title: str | None = None):
    """The reliability diagram as trained and after temperature scaling (chapter 3)."""
    from .plots import COLORS, draw_reliability_curves
    T = d.calibration["T"]
    draw_reliability_curves(fig, [
        {"bins": d.bins["trained"], "label": "as trained", "color": COLORS["hard"], "marker": "o"},
        {"bins": d.bins["scaled"], "label": f"temperature-scaled (T = {T:.2f})", "color": COLORS["ts"],
         "marker": "x"}], n_bins=d.n_bins, title=title or "reliability diagram (bins of 10+ examples)", min_count=10)
    return fig


def draw_smoothing(fig, diagnoses, title: str | None = None):
    """The equivalent smoothing ``gamma`` against the distillation temperature; dots: the chosen temperatures
    (chapter 5).  ``diagnoses``: one Diagnosis or ``{label: Diagnosis}``."""
    from .plots import use_style
    use_style()
    fig.set_layout_engine("constrained")
    ax = fig.subplots()
    items = _labelled(diagnoses)
    for (label, d), color in zip(items.items(), _line_colors(items)):
        ax.plot(d.gamma_curve["temperature"].numpy(), d.gamma_curve["gamma"].numpy(), color=color,
                label=label or None)
        ax.plot(list(d.gamma), list(d.gamma.values()), "o", color=color)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("distillation temperature T")
    ax.set_ylabel("equivalent smoothing gamma")
    ax.set_ylim(0, 1.02)
    if len(items) > 1:
        ax.legend(fontsize=8)
    ax.set_title(title or "what a student would be trained towards")
    return fig


def draw_norms(fig, d: Diagnosis, title: str | None = None):
    """Histogram of the penultimate feature norms, correct and misclassified examples apart (chapter 6)."""
    import numpy as np
    from .plots import COLORS, use_style
    use_style()
    fig.set_layout_engine("constrained")
    ax = fig.subplots()
    norms = d.feature_norms.numpy()
    lo, hi = float(norms.min()), float(norms.max())
    bins = np.linspace(lo - 0.02 * (hi - lo), hi + 0.02 * (hi - lo) + 1e-12, 50)
    ok = d.correct.numpy()
    ax.hist(norms[ok], bins=bins, color=COLORS["hard"], alpha=0.6, label="correct")
    ax.hist(norms[~ok], bins=bins, color=COLORS["ls"], alpha=0.6, label="misclassified")
    ax.axvline(d.feature_norm["mean"], color="black", ls="--", lw=1)
    ax.set_xlabel("norm of the penultimate activation ||h(x)||")
    ax.set_ylabel("examples")
    ax.legend(fontsize=8)
    ax.set_title(title or f"feature norms (mean {d.feature_norm['mean']:.3g}, dashed)")
    return fig


def draw_risk_coverage(fig, diagnoses, title: str | None = None, normalised: bool = True):
    """Risk-coverage curves with the maximum softmax probability (solid) and, if ``normalised``, with logit
    normalisation (dashed); dotted: the best ranking the errors allow (chapter 7)."""
    from .plots import COLORS, use_style
    use_style()
    fig.set_layout_engine("constrained")
    ax = fig.subplots()
    items = _labelled(diagnoses)
    single = len(items) == 1
    for (label, d), color in zip(items.items(), _line_colors(items)):
        prefix = f"{label}: " if label else ""
        for method, ls in (("msp", "-"), ("pnorm", "--")) if normalised else (("msp", "-"),):
            curve = d.risk_coverage[method]
            what = "max softmax" if method == "msp" else f"logit-normalised (p = {d.p:g})"
            c = COLORS["hard"] if single else color   # the method is told by the line style, not the colour
            ax.plot(curve["coverage"].numpy(), curve["risk"].numpy(), ls=ls, color=c,
                    label=f"{prefix}{what}, AURC {d.aurc[method]:.4f}")
        if single:
            n = d.n_test
            m = int(round((1 - d.accuracy) * n))
            k = torch.arange(1, n + 1, dtype=torch.float64)
            best = ((k - (n - m)).clamp_min(0) / k).numpy()
            ax.plot((k / n).numpy(), best, ls=":", color=COLORS["neutral"],
                    label=f"perfect ranking, AURC {d.aurc['optimal']:.4f}")
    ax.set_xlim(0, 1)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("coverage (share of examples answered)")
    ax.set_ylabel("risk (error rate among them)")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(title or "selective classification")
    return fig


DRAW = {"projection": draw_projection, "reliability": draw_reliability, "smoothing": draw_smoothing,
        "norms": draw_norms, "risk_coverage": draw_risk_coverage}


def draw_measurement(fig, d: Diagnosis, measurement: str):
    """One of the report's figures by name (:data:`MEASUREMENTS`), e.g. for :func:`lsmooth_lib.plots.static_sliders`."""
    if measurement not in DRAW:
        raise ValueError(f"measurement must be one of {', '.join(MEASUREMENTS)}; got {measurement!r}")
    return DRAW[measurement](fig, d)


def draw_explorer(fig, alpha, measurement: str, diagnoses: dict):
    """Chapter 7's slider figure: one measurement of the model trained with ``alpha`` (``diagnoses``:
    ``{alpha: Diagnosis}``; bind it with ``functools.partial`` for :func:`lsmooth_lib.plots.static_sliders`)."""
    if alpha not in diagnoses:
        raise ValueError(f"no diagnosis for alpha = {alpha!r}; diagnosed: {sorted(diagnoses)}")
    draw_measurement(fig, diagnoses[alpha], measurement)
    fig.suptitle(f"alpha = {alpha:g}", fontsize=10)
    return fig


# ---------------------------------------------------------------- the one-page report
READING = {
    "projection": ("Template-plane projection",
                   "Each dot is an example of one of three classes, placed in the plane through their three class "
                   "templates (crosses). Hard targets leave broad clusters that stretch towards the other classes; "
                   "label smoothing pulls each class into a tight cluster equally far from the two wrong templates. "
                   "Tightness is the spread of a class over the spacing of the templates (small: tight), asymmetry "
                   "how unequal an example's distances to the two wrong templates are (0: equidistant).",
                   "Chapter 2"),
    "reliability": ("Calibration",
                    "Accuracy against confidence in equal-width bins; the diagonal is perfect calibration. Below the "
                    "diagonal the model is over-confident (typical of hard targets), above it under-confident "
                    "(too much smoothing). The temperature T is fitted on the validation data; T > 1 means the "
                    "model was over-confident, T < 1 under-confident.",
                    "Chapter 3"),
    "smoothing": ("Equivalent smoothing of a distilled student",
                  "If this model taught a student by distillation at temperature T, the student's targets would put "
                  "this share gamma of their mass on the wrong classes: gamma is the label-smoothing factor the "
                  "teacher imposes. A teacher trained with label smoothing leaves little information about class "
                  "similarity in these targets, so its students gain less than gamma suggests.",
                  "Chapter 5"),
    "norms": ("Penultimate feature norms",
              "The length of each example's penultimate activation. Label smoothing bounds the logit gaps and with "
              "them the features' scale, so smoothed models have smaller, more uniform norms; a clear gap between "
              "correct and misclassified examples means the norm itself carries confidence information.",
              "Chapter 6"),
    "risk_coverage": ("Selective classification",
                      "Answer only the most confident share of the examples (the coverage) and count the errors "
                      "among them (the risk). Lower is better; the area under the curve (AURC) sums it up, and the "
                      "dotted curve is the best any confidence could do with these predictions. Label smoothing "
                      "degrades the ranking by the maximum softmax probability; normalising the logits first "
                      "(dashed) recovers much of it (Xia et al., ICLR 2025).",
                      "Chapter 7"),
}


def _png(fig, dpi: int = 90) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _rows(d: Diagnosis) -> list[tuple[str, str, str]]:
    c = d.calibration
    held = "" if d.held_out else " (fitted on the same data)"
    rows = [("model", f"layer <code>{html.escape(d.layer)}</code>: {d.feature_dim} features, {d.num_classes} classes, "
                      f"{'with' if d.bias else 'no'} bias", ""),
            ("data", f"{d.n_val} validation, {d.n_test} evaluation examples", ""),
            ("accuracy", f"{d.accuracy:.2%}", ""),
            ("ECE / NLL as trained", f"{c['ece']:.3f} / {c['nll']:.3f}", "Chapter 3"),
            ("temperature T", f"{c['T']:.2f}{held}", "Chapter 3"),
            ("ECE / NLL after scaling", f"{c['ece_ts']:.3f} / {c['nll_ts']:.3f}", "Chapter 3"),
            ("projected classes", html.escape(", ".join(d.classes)), "Chapter 2"),
            ("tightness / asymmetry", f"{d.tightness:.3f} / {d.asymmetry:.3f}", "Chapter 2"),
            (f"equivalent smoothing gamma ({'training' if d.gamma_data == 'train' else 'evaluation'} data)",
             ", ".join(f"{g:.3f} at T = {t:g}" for t, g in d.gamma.items()), "Chapter 5"),
            ("feature norm", f"mean {d.feature_norm['mean']:.3g} (correct {d.feature_norm['mean_correct']:.3g}, "
                             f"misclassified {d.feature_norm['mean_wrong']:.3g})", "Chapter 6"),
            ("AURC", f"{d.aurc['msp']:.4f} max softmax, {d.aurc['pnorm']:.4f} logit-normalised (p = {d.p:g}); "
                     f"best possible {d.aurc['optimal']:.4f}", "Chapter 7")]
    return rows


def report_html(diagnosis: Diagnosis, path, title: str = "Diagnosis of a classifier") -> Path:
    """Write the one-page report of a :class:`Diagnosis` to ``path`` (chapter 7): a table of the numbers and one
    figure per measurement, each with a sentence on how to read it and the chapter that explains it.

    The page is self-contained -- figures are inline PNGs (base64), the style is inline, nothing is loaded from
    elsewhere -- so it opens offline and can be mailed as one file.  Returns the path."""
    from matplotlib.figure import Figure

    if not isinstance(diagnosis, Diagnosis):
        raise TypeError(f"report_html needs the Diagnosis that diagnose() returns; got {checks.describe(diagnosis)}")
    path = Path(path)
    sections = []
    for m in MEASUREMENTS:
        fig = Figure(figsize=(5.6, 3.9) if m != "projection" else (5.2, 4.4))
        draw_measurement(fig, diagnosis, m)
        head, reading, chapter = READING[m]
        sections.append(f'<section><h2>{html.escape(head)}</h2>\n<img alt="{html.escape(head)}" '
                        f'src="data:image/png;base64,{_png(fig)}">\n<p>{html.escape(reading)} '
                        f'<em>The book: {chapter}.</em></p></section>')
    table = "\n".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td><td>{html.escape(ch)}</td></tr>"
                      for k, v, ch in _rows(diagnosis))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; max-width: 64em; margin: 1.5em auto; padding: 0 1em; color: #222; background: white; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ text-align: left; padding: 0.25em 0.8em; border-bottom: 1px solid #ddd; vertical-align: top; }}
th {{ font-weight: 600; }}
section {{ display: inline-block; width: 30em; vertical-align: top; margin: 0 1em 1em 0; }}
img {{ max-width: 100%; }}
p.note {{ color: #555; font-size: 0.9em; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="note">Written by lsmooth_lib.diagnose (the executable textbook on "When Does Label Smoothing Help?",
M&uuml;ller, Kornblith and Hinton, NeurIPS 2019). Calibration, projection, norms and selective classification are
measured on the {'evaluation' if diagnosis.held_out else 'validation'} data; the temperature is fitted on the
validation data.</p>
<table>
<tr><th>measurement</th><th>value</th><th>explained in</th></tr>
{table}
</table>
{''.join(sections)}
</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


# ---------------------------------------------------------------- command line
USAGE = ("python -m lsmooth_lib diagnose --model FILE.py:FACTORY --weights FILE --dataset NAME [--split test] "
         "[--classes a,b,c] [--out report.html] [--layer NAME]")


class CLIError(Exception):
    """A command-line error: printed as one line, exit status 1."""


def _load_factory(spec: str):
    import importlib
    import importlib.util
    if ":" not in spec:
        raise CLIError(f"--model must be PATH.py:FACTORY or MODULE:FACTORY (the function that builds the model); "
                       f"got {spec!r}")
    where, attr = spec.rsplit(":", 1)
    if where.endswith(".py") or "/" in where or "\\" in where:
        path = Path(where)
        if not path.is_file():
            raise CLIError(f"the model file {where} does not exist")
        mod_spec = importlib.util.spec_from_file_location(f"_lsmooth_user_model_{abs(hash(str(path)))}", path)
        module = importlib.util.module_from_spec(mod_spec)
        sys.path.insert(0, str(path.resolve().parent))
        try:
            mod_spec.loader.exec_module(module)
        except Exception as err:  # noqa: BLE001 - the user's file failed; say so in one line
            raise CLIError(f"importing {where} failed: {type(err).__name__}: {err}") from None
        finally:
            sys.path.pop(0)
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as err:
            raise CLIError(f"cannot import the module {where!r} ({err})") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        have = sorted(n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n)))
        raise CLIError(f"{where} has no function {attr!r}; it defines: {', '.join(have[:15]) or 'nothing callable'}")
    return factory


def load_weights(model: nn.Module, path) -> nn.Module:
    """Load a state_dict file into ``model`` (a checkpoint dict with ``state_dict`` or ``model`` is unwrapped;
    half-precision weights become the model's dtype), with one-sentence errors."""
    path = Path(path)
    if not path.is_file():
        raise CLIError(f"the weights file {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means a wrong or damaged file
        raise CLIError(f"cannot read {path} as a PyTorch state_dict ({type(err).__name__}: "
                       f"{str(err).splitlines()[0] if str(err) else ''})") from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise CLIError(f"{path} holds {checks.describe(state)}, not a state_dict (a dict of tensors)")
    ref = next(model.parameters(), None)
    dtype = ref.dtype if ref is not None else torch.float32
    state = {k: v.to(dtype) if isinstance(v, torch.Tensor) and v.is_floating_point() else v for k, v in state.items()}
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise CLIError(f"the weights do not fit the model: {len(result.missing_keys)} missing keys (e.g. "
                       f"{result.missing_keys[:2]}), {len(result.unexpected_keys)} unexpected (e.g. "
                       f"{result.unexpected_keys[:2]}); check --model and --model-kwargs")
    return model


def _parser():
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message):   # one line, no usage block
            raise CLIError(f"{message} (see --help)")

    p = Parser(prog="python -m lsmooth_lib diagnose",
               description="Diagnose a trained classifier: template-plane projection, calibration, equivalent "
                           "smoothing, feature norms and selective classification, in a one-page HTML report "
                           "(chapter 7 of the book).")
    p.add_argument("--model", required=True, metavar="PATH.py:FACTORY",
                   help="the function that builds the (untrained) model: a file and a function in it, or "
                        "MODULE:FUNCTION, e.g. lsmooth_lib.models:build_model")
    p.add_argument("--model-kwargs", default="{}", metavar="JSON",
                   help='keyword arguments for the factory, as JSON (e.g. \'{"name": "resnet20", "num_classes": 10}\')')
    p.add_argument("--weights", required=True, help="a state_dict saved with torch.save(model.state_dict(), FILE)")
    p.add_argument("--dataset", required=True, help="mnist, cifar10 or cifar100 (the book's loaders; LSMOOTH_DATA)")
    p.add_argument("--split", default="test", choices=("train", "val", "test"),
                   help="the split to measure on (default test); the temperature is fitted on the validation split")
    p.add_argument("--classes", default=None, help="three classes to project, by name or index: a,b,c "
                                                    "(default: the most confused pair and a distant class)")
    p.add_argument("--layer", default=None, help="dotted name of the final linear layer (default: found)")
    p.add_argument("--input-size", type=int, default=None,
                   help="centre-crop images to this side (default: the model's input_size attribute, else none)")
    p.add_argument("--temperatures", default="1,2,4", help="temperatures of the equivalent smoothing (default 1,2,4)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N examples of each split")
    p.add_argument("--out", default="diagnosis.html", help="the HTML report to write (default diagnosis.html)")
    p.add_argument("--json", default=None, help="also write the numbers as JSON to this file")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    return p


def run_cli(argv) -> dict:
    """The ``diagnose`` command without the error handling of :func:`main`; returns what it printed as a dict."""
    args = _parser().parse_args(argv)
    try:
        kwargs = json.loads(args.model_kwargs)
    except json.JSONDecodeError as err:
        raise CLIError(f"--model-kwargs is not valid JSON ({err})") from None
    if not isinstance(kwargs, dict):
        raise CLIError(f"--model-kwargs must be a JSON object such as {{\"num_classes\": 10}}; got {args.model_kwargs}")
    try:
        info = D.dataset_info(args.dataset)
    except ValueError as err:
        raise CLIError(str(err)) from None
    if info.get("text"):
        raise CLIError(f"{args.dataset} is a translation data set; diagnose is for image classifiers "
                       f"(mnist, cifar10, cifar100)")
    factory = _load_factory(args.model)
    try:
        model = factory(**kwargs)
    except Exception as err:  # noqa: BLE001 - the user's factory failed
        raise CLIError(f"calling {args.model}(**{kwargs}) failed: {type(err).__name__}: {err}") from None
    if not isinstance(model, nn.Module):
        raise CLIError(f"{args.model} returned {checks.describe(model)}, not a torch.nn.Module")
    load_weights(model, args.weights)
    model.to(args.device)
    try:
        val = D.load_split(args.dataset, "val")
        test = D.load_split(args.dataset, args.split) if args.split != "val" else None
    except (OSError, ValueError) as err:   # missing or damaged data: the loader's message says what to do
        raise CLIError(" ".join(str(err).split())) from err
    classes = None
    if args.classes:
        classes = [int(c) if c.strip().isdigit() else c.strip() for c in args.classes.split(",")]
    temps = []
    for t in args.temperatures.split(","):
        try:
            temps.append(float(t))
        except ValueError:
            raise CLIError(f"--temperatures must be numbers separated by commas, e.g. 1,2,4; got "
                           f"{args.temperatures!r}") from None
    try:
        d = diagnose(model, val, test, classes, temps, layer=args.layer, input_size=args.input_size,
                     device=args.device, limit=args.limit)
    except (ValueError, TypeError) as err:   # the library's one-sentence messages (no linear layer, bad labels, ...)
        raise CLIError(" ".join(str(err).split())) from err
    t0 = time.perf_counter()
    out = report_html(d, args.out, title=f"Diagnosis: {Path(args.weights).name} on {info['title']} {args.split}")
    render_s = time.perf_counter() - t0
    if args.json:
        d.to_json(args.json)
    c = d.calibration
    print(f"accuracy {d.accuracy:.2%}  ECE {c['ece']:.3f} -> {c['ece_ts']:.3f} at T = {c['T']:.2f}  "
          f"tightness {d.tightness:.2f}  asymmetry {d.asymmetry:.3f}  AURC {d.aurc['msp']:.4f} "
          f"(logit-normalised {d.aurc['pnorm']:.4f})")
    print(f"report: {out} ({out.stat().st_size / 1024:.0f} KiB, written in {render_s:.1f} s; measured in "
          f"{d.seconds:.1f} s)")
    return {"report": str(out), "bytes": out.stat().st_size, "render_s": render_s, "summary": d.summary()}


def main(argv=None) -> int:
    """``python -m lsmooth_lib diagnose ...``: ``--help`` exits 0; a usage or input error (a missing file, a model
    without a final linear layer, labels the model does not know, ...) is one line on stderr with exit status 1.
    ``--debug`` raises it instead, with its traceback; any other exception propagates (the package's command line
    turns it into one line too)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    try:
        run_cli(argv)
    except SystemExit as err:   # --help
        return int(err.code or 0)
    except CLIError as err:
        if debug:
            raise
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    return 0
