"""The paper's visualisation of the penultimate layer, and measures of what it shows (chapter 2).

Logits are ``z_k = x^T w_k`` with ``x = [h(x), 1]`` (penultimate activations with a 1 appended) and
``w_k = [weights_k, bias_k]`` (the class template).  For three classes, the templates are three points;
we project activations onto the plane through those points, with an orthonormal basis of it and
coordinates measured from the first template.  Distances within the plane are true distances.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


def augment(features: torch.Tensor) -> torch.Tensor:
    """``[h(x), 1]``: penultimate activations with a constant 1 appended (the bias coordinate)."""
    features = torch.as_tensor(features, dtype=torch.float64)
    return torch.cat([features, torch.ones(len(features), 1, dtype=features.dtype)], 1)


def plane_basis(templates: torch.Tensor):
    """Origin (the first template) and an orthonormal basis ``(2, d)`` of the plane through three template points.

    Gram-Schmidt on ``w2 - w1`` and ``w3 - w1`` (chapter 2).
    """
    t = torch.as_tensor(templates, dtype=torch.float64)
    if t.shape[0] != 3:
        raise ValueError(f"the projection needs exactly three class templates; got {t.shape[0]}")
    u1, u2 = t[1] - t[0], t[2] - t[0]
    e1 = u1 / u1.norm()
    v = u2 - (u2 @ e1) * e1
    if v.norm() < 1e-12 * u2.norm():
        raise ValueError("the three templates are collinear: they do not span a plane")
    e2 = v / v.norm()
    return t[0], torch.stack([e1, e2])


def project(points: torch.Tensor, templates: torch.Tensor) -> torch.Tensor:
    """2-D coordinates of ``points`` (already augmented, ``(N, d)``) in the plane of three templates (chapter 2)."""
    origin, basis = plane_basis(templates)
    return (torch.as_tensor(points, dtype=torch.float64) - origin) @ basis.T


def tightness(coords: torch.Tensor, labels: torch.Tensor, template_coords: torch.Tensor) -> float:
    """Mean distance of each example to its class centroid, divided by the mean side of the template
    triangle (chapter 2).  Small values: tight clusters relative to the spacing of the classes."""
    coords = torch.as_tensor(coords, dtype=torch.float64)
    labels = torch.as_tensor(labels)
    spread = []
    for k in labels.unique():
        c = coords[labels == k]
        spread.append((c - c.mean(0)).norm(dim=1))
    tc = torch.as_tensor(template_coords, dtype=torch.float64)
    side = torch.stack([(tc[0] - tc[1]).norm(), (tc[1] - tc[2]).norm(), (tc[0] - tc[2]).norm()]).mean()
    return float(torch.cat(spread).mean() / side)


def equidistance(coords: torch.Tensor, labels: torch.Tensor, template_coords: torch.Tensor) -> float:
    """How unequal each example's distances to the two *wrong* templates are, averaged (chapter 2):
    ``|d1 - d2| / (d1 + d2)``; 0 means exactly equidistant.  ``labels`` are 0, 1, 2 (template order)."""
    coords = torch.as_tensor(coords, dtype=torch.float64)
    labels = torch.as_tensor(labels)
    d = torch.cdist(coords, torch.as_tensor(template_coords, dtype=torch.float64))   # N x 3
    wrong = torch.stack([d[i][torch.arange(3) != labels[i]] for i in range(len(labels))])
    return float(((wrong[:, 0] - wrong[:, 1]).abs() / wrong.sum(1)).mean())


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
    templates = torch.as_tensor(templates, dtype=torch.float64)
    return Projection(tuple(classes), split, project(augment(features), templates),
                      torch.as_tensor(labels), project(templates, templates))


def project_classes(model, split, classes, n: int = 100) -> Projection:
    """Project the first ``n`` examples of each of three ``classes`` of ``split`` onto the plane through
    ``model``'s templates of those classes (the paper's Figure 1; chapter 2).

    ``classes`` are names (or indices) of the model's dataset; the same basis serves every split, so a
    model's train and validation panels are directly comparable.  For a zoo entry whose weights are not
    committed, ``zoo.projection`` gives the same result from the entry's stored features.
    """
    from .train import predict

    if len(classes) != 3 or len(set(classes)) != 3:
        raise ValueError(f"the projection needs three different classes; got {list(classes)}")
    idx = [split.class_index(c) if isinstance(c, str) else int(c) for c in classes]
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
    pred = torch.as_tensor(logits).argmax(1)
    labels = torch.as_tensor(labels)
    t = torch.as_tensor(templates, dtype=torch.float64)
    K = len(t)
    confusion = torch.bincount(labels * K + pred, minlength=K * K).view(K, K).double()
    mutual = confusion + confusion.T
    mutual.fill_diagonal_(0)
    a, b = divmod(int(mutual.argmax()), K)
    third = int(torch.cdist(((t[a] + t[b]) / 2)[None], t)[0].argmax())
    return [a, b, third]


def feature_norms(model, split) -> torch.Tensor:
    """The Euclidean norm of every example's penultimate activation (chapter 6: label smoothing shrinks them,
    the "bounded logit differences" of chapter 2 seen from the features' side)."""
    from .train import predict
    return predict(model, split, features=True).double().norm(dim=1)
