"""The paper's visualisation of the penultimate layer, and measures of what it shows (chapter 2).

Logits are ``z_k = x^T w_k`` with ``x = [h(x), 1]`` (penultimate activations with a 1 appended) and
``w_k = [weights_k, bias_k]`` (the class template).  For three classes, the templates are three points;
we project activations onto the plane through those points, with an orthonormal basis of it and
coordinates measured from the first template.  Distances within the plane are true distances.

Every public function checks its arguments (:mod:`lsmooth_lib.checks`): shapes, finite values, labels 0, 1, 2
(in template order), class choices that name three different classes of the split, each with examples.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from . import checks
from .infer import predict


def _finite_matrix(name: str, x, **kw) -> torch.Tensor:
    t = checks.matrix(name, x, **kw).to(torch.float64)
    checks.values(finite={name: t})
    return t


def _triple_labels(name: str, labels, n: int) -> torch.Tensor:
    y = checks.labels_tensor(name, labels, n, against="points")
    checks.values(labels={f"{name} (0, 1, 2 in the order of the templates)": (y, 3)})
    return y


def augment(features: torch.Tensor) -> torch.Tensor:
    """``[h(x), 1]``: penultimate activations with a constant 1 appended (the bias coordinate)."""
    features = _finite_matrix("features", features, what="(N, d)")
    return torch.cat([features, torch.ones(len(features), 1, dtype=features.dtype)], 1)


def plane_basis(templates: torch.Tensor):
    """Origin (the first template) and an orthonormal basis ``(2, d)`` of the plane through three template points.

    Gram-Schmidt on ``w2 - w1`` and ``w3 - w1`` (chapter 2).
    """
    t = checks.as_tensor("templates", templates)
    if t.ndim != 2 or t.shape[0] != 3:
        raise ValueError(f"the projection needs exactly three class templates, a (3, d) tensor; got {checks.describe(t)}")
    t = _finite_matrix("templates", t, what="(3, d)")
    u1, u2 = t[1] - t[0], t[2] - t[0]
    if not float(u1.norm()) > 0 or not float(u2.norm()) > 0 or not float((t[2] - t[1]).norm()) > 0:
        raise ValueError("two of the three templates are identical: they do not span a plane (choose three classes "
                         "with different templates)")
    e1 = u1 / u1.norm()
    v = u2 - (u2 @ e1) * e1
    if v.norm() < 1e-12 * u2.norm():
        raise ValueError("the three templates are collinear: they do not span a plane")
    e2 = v / v.norm()
    return t[0], torch.stack([e1, e2])


def project(points: torch.Tensor, templates: torch.Tensor) -> torch.Tensor:
    """2-D coordinates of ``points`` (already augmented, ``(N, d)``) in the plane of three templates (chapter 2)."""
    origin, basis = plane_basis(templates)
    pts = _finite_matrix("points", points, cols=basis.shape[1], what=f"(N, {basis.shape[1]}), like the templates")
    return (pts - origin) @ basis.T


def tightness(coords: torch.Tensor, labels: torch.Tensor, template_coords: torch.Tensor) -> float:
    """Mean distance of each example to its class centroid, divided by the mean side of the template
    triangle (chapter 2).  Small values: tight clusters relative to the spacing of the classes."""
    coords, labels, tc = _coords(coords, labels, template_coords)
    spread = []
    for k in labels.unique():
        c = coords[labels == k]
        spread.append((c - c.mean(0)).norm(dim=1))
    side = torch.stack([(tc[0] - tc[1]).norm(), (tc[1] - tc[2]).norm(), (tc[0] - tc[2]).norm()]).mean()
    return float(torch.cat(spread).mean() / side)


def equidistance(coords: torch.Tensor, labels: torch.Tensor, template_coords: torch.Tensor) -> float:
    """How unequal each example's distances to the two *wrong* templates are, averaged (chapter 2):
    ``|d1 - d2| / (d1 + d2)``; 0 means exactly equidistant.  ``labels`` are 0, 1, 2 (template order)."""
    coords, labels, tc = _coords(coords, labels, template_coords)
    d = torch.cdist(coords, tc)   # N x 3
    wrong = torch.stack([d[i][torch.arange(3) != labels[i]] for i in range(len(labels))])
    return float(((wrong[:, 0] - wrong[:, 1]).abs() / wrong.sum(1)).mean())


def _coords(coords, labels, template_coords):
    """Checked ``(coords (N, 2), labels (N,) in 0..2, template_coords (3, 2))``."""
    coords = _finite_matrix("coords", coords, cols=2, what="(N, 2)")
    tc = _finite_matrix("template_coords", template_coords, cols=2, what="(3, 2)")
    if tc.shape[0] != 3:
        raise ValueError(f"template_coords must be the (3, 2) coordinates of the three templates; got {checks.describe(tc)}")
    if not float(torch.pdist(tc).min()) > 0:
        raise ValueError("two of the three template coordinates coincide; the template triangle has no size")
    return coords, _triple_labels("labels", labels, len(coords)), tc


# ---------------------------------------------------------------- projections of a trained model
@dataclass
class Projection:
    """Penultimate activations of examples of three classes, projected onto their template plane (chapter 2).

    ``coords`` ``(N, 2)`` and ``template_coords`` ``(3, 2)`` share one basis (origin: the first class's
    template); ``labels`` are 0, 1, 2 in the order of ``classes``.
    """
    classes: tuple
    split: str
    coords: torch.Tensor
    labels: torch.Tensor
    template_coords: torch.Tensor

    @property
    def tightness(self) -> float:
        """See :func:`tightness`."""
        return tightness(self.coords, self.labels, self.template_coords)

    @property
    def equidistance(self) -> float:
        """See :func:`equidistance`."""
        return equidistance(self.coords, self.labels, self.template_coords)


def project_features(features, labels, templates, classes, split: str) -> Projection:
    """The :class:`Projection` of penultimate ``features`` ``(N, d)`` whose ``labels`` are 0, 1, 2, onto the
    plane through the three ``templates`` ``(3, d + 1)`` of ``classes`` (chapter 2).  Shared by
    :func:`project_classes` (a live model), ``translation.project_tokens`` and the zoo's stored features."""
    feats = augment(features)
    templates = checks.as_tensor("templates", templates, torch.float64)
    if templates.ndim != 2 or templates.shape != (3, feats.shape[1]):
        raise ValueError(f"templates must be (3, d + 1) = (3, {feats.shape[1]}) for features of shape "
                         f"{tuple(feats.shape[:1]) + (feats.shape[1] - 1,)}; got {checks.describe(templates)}")
    if isinstance(classes, str) or len(classes) != 3:
        raise ValueError(f"classes must name the three classes of the templates; got {classes!r}")
    labels = _triple_labels("labels", labels, len(feats))
    missing = [c for k, c in enumerate(classes) if not bool((labels == k).any())]
    if missing:
        raise ValueError(f"no examples of {', '.join(map(repr, missing))} among the {len(labels)} points: each of "
                         f"the three classes needs at least one (check the split and the class choice)")
    return Projection(tuple(classes), split, project(feats, templates), labels, project(templates, templates))


def project_classes(model, split, classes, n: int = 100) -> Projection:
    """Project the first ``n`` examples of each of three ``classes`` of ``split`` onto the plane through
    ``model``'s templates of those classes (the paper's Figure 1; chapter 2).

    ``classes`` are names (or indices) of the model's dataset; the same basis serves every split, so a
    model's train and validation panels are directly comparable.  For a zoo entry whose weights are not
    committed, ``zoo.projection`` gives the same result from the entry's stored features.
    """
    if isinstance(classes, str) or not hasattr(classes, "__len__") or len(classes) != 3:
        raise ValueError(f"the projection needs three different classes (names or indices); got {classes!r}")
    idx = [split.class_id(c) for c in classes]
    if len(set(idx)) != 3:
        raise ValueError(f"the projection needs three different classes; got {list(classes)} "
                         f"(= classes {idx} of {split.dataset})")
    n = checks.count("n", n, hint=" (examples per class)")
    K = model.templates.shape[0]
    if K != split.num_classes:
        raise ValueError(f"the model has {K} classes but the split {split.dataset}/{split.split} has "
                         f"{split.num_classes}; use a model trained on {split.dataset}")
    sub = split.per_class(idx, n)
    feats = predict(model, sub, features=True)
    with torch.no_grad():
        templates = model.templates.detach().cpu().double()[idx]
    labels = torch.cat([torch.full((int((sub.labels == k).sum()),), i) for i, k in enumerate(idx)])
    return project_features(feats, labels, templates, [split.classes[k] for k in idx], split.split)


def confused_triple(logits, labels, templates) -> list[int]:
    """The two classes a model confuses most often with each other (on ``logits``/``labels``, e.g. the
    validation split) and the class whose template is farthest from their midpoint (chapter 2, Figure 1's
    row 3: a similar pair and a distant class).  Returns three class indices."""
    z, labels = checks.logits_and_labels(logits, labels, min_classes=3)
    pred = z.argmax(1)
    K = z.shape[1]
    t = _finite_matrix("templates", templates, what=f"(K, d) with K = {K} rows, one per class of the logits")
    if len(t) != K:
        raise ValueError(f"templates must have one row per class of the logits ({K}); got {checks.describe(t)}")
    confusion = torch.bincount(labels * K + pred, minlength=K * K).view(K, K).double()
    mutual = confusion + confusion.T
    mutual.fill_diagonal_(0)
    if not float(mutual.max()) > 0:
        raise ValueError(f"the predictions confuse no two classes on these {len(labels)} examples (every one is "
                         f"correct), so there is no 'most confused pair'; pick the three classes by hand")
    a, b = divmod(int(mutual.argmax()), K)
    third = int(torch.cdist(((t[a] + t[b]) / 2)[None], t)[0].argmax())
    return [a, b, third]


def feature_norms(model, split) -> torch.Tensor:
    """The Euclidean norm of every example's penultimate activation (chapter 6: label smoothing shrinks them,
    the "bounded logit differences" of chapter 2 seen from the features' side)."""
    if not len(split):
        raise ValueError(f"the split {getattr(split, 'dataset', '')}/{getattr(split, 'split', '')} is empty; "
                         f"feature norms need at least one example")
    return predict(model, split, features=True).double().norm(dim=1)
