import itertools

import pytest
import torch

from lsmooth_lib import geometry as G


def pdist(c):
    return (c[:, None] - c[None]).norm(dim=-1)


def test_templates_land_on_a_triangle_with_the_right_sides():
    t = torch.randn(3, 17, dtype=torch.float64)
    tc = G.project(t, t)
    assert torch.allclose(tc[0], torch.zeros(2, dtype=torch.float64))
    for i, j in itertools.combinations(range(3), 2):
        assert (tc[i] - tc[j]).norm() == pytest.approx(float((t[i] - t[j]).norm()), rel=1e-9)


def test_points_in_the_plane_keep_their_distances():
    t = torch.randn(3, 9, dtype=torch.float64)
    ab = torch.randn(50, 2, dtype=torch.float64) * 3
    pts = t[0] + ab[:, :1] * (t[1] - t[0]) + ab[:, 1:] * (t[2] - t[0])   # points of the plane
    c = G.project(pts, t)
    assert torch.allclose(pdist(c), pdist(pts), atol=1e-9)


def test_order_of_classes_changes_only_a_rigid_motion():
    t = torch.randn(3, 12, dtype=torch.float64)
    x = torch.randn(40, 12, dtype=torch.float64)
    ref = pdist(G.project(x, t))
    for perm in itertools.permutations(range(3)):
        c = G.project(x, t[list(perm)])
        assert torch.allclose(pdist(c), ref, atol=1e-9)


def test_augment_appends_one():
    a = G.augment(torch.zeros(4, 3))
    assert a.shape == (4, 4) and torch.all(a[:, -1] == 1)


def test_collinear_or_wrong_count_templates_raise():
    t = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    with pytest.raises(ValueError, match="collinear"):
        G.plane_basis(t)
    with pytest.raises(ValueError, match="three"):
        G.plane_basis(torch.randn(4, 5))


def test_tightness_and_equidistance():
    tc = torch.tensor([[0.0, 0.0], [2.0, 0.0], [1.0, 3 ** 0.5]], dtype=torch.float64)   # side 2
    labels = torch.arange(3).repeat_interleave(20)
    centred = tc[labels]                                           # every example on its template
    assert G.tightness(centred, labels, tc) == pytest.approx(0.0)
    assert G.equidistance(centred, labels, tc) == pytest.approx(0.0, abs=1e-12)
    noisy = centred + 0.2 * torch.randn(60, 2, dtype=torch.float64)
    assert 0.0 < G.tightness(noisy, labels, tc) < G.tightness(centred + 0.6 * torch.randn(60, 2, dtype=torch.float64), labels, tc)
    shifted = centred + torch.tensor([0.5, 0.0], dtype=torch.float64)   # towards one wrong template
    assert G.equidistance(shifted, labels, tc) > 0.05


# ---------------------------------------------------------------- project_classes on a model
from lsmooth_lib import data as D  # noqa: E402
from lsmooth_lib.models import build_model  # noqa: E402


def _toy_split(n_per_class=7, K=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n_per_class * K, 3, 24, 24), generator=g, dtype=torch.uint8)
    labels = torch.arange(K).repeat(n_per_class)
    return D.Split("cifar10", "val", images, labels, [f"c{k}" for k in range(K)])


def test_project_classes_shows_the_models_logit_differences():
    """Pythagoras: squared in-plane distances differ by exactly what the three logits differ by."""
    torch.manual_seed(0)
    model = build_model("alexnet", 5).eval()
    split = _toy_split()
    proj = G.project_classes(model, split, ["c3", "c0", "c4"], n=4)
    assert proj.classes == ("c3", "c0", "c4") and proj.split == "val"
    assert proj.coords.shape == (12, 2) and proj.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    sub = split.per_class([3, 0, 4], 4)
    with torch.no_grad():
        logits = model(D.normalize(sub.images, "cifar10")).double()[:, [3, 0, 4]]
        norms = (model.templates.double()[[3, 0, 4]] ** 2).sum(1)
    rebuilt = -0.5 * torch.cdist(proj.coords, proj.template_coords) ** 2 + 0.5 * norms
    assert torch.allclose(rebuilt - rebuilt[:, :1], logits - logits[:, :1], atol=1e-4)
    assert proj.tightness > 0 and 0 <= proj.equidistance <= 1


def test_project_classes_rejects_bad_class_choices():
    model = build_model("alexnet", 5).eval()
    split = _toy_split()
    with pytest.raises(ValueError, match="three different classes"):
        G.project_classes(model, split, ["c1", "c1", "c2"])
    with pytest.raises(ValueError, match="three different classes"):
        G.project_classes(model, split, ["c1", "c2"])
    with pytest.raises(ValueError, match="unknown class 'c9'"):
        G.project_classes(model, split, ["c1", "c2", "c9"])


def test_feature_norms_are_the_norms_of_the_penultimate_activations():
    import torch
    from lsmooth_lib import data as D, geometry as G
    from lsmooth_lib.models import build_model
    torch.manual_seed(0)
    model = build_model("mlp800", 10).eval()
    split = D.Split("mnist", "test", torch.randint(0, 255, (7, 1, 28, 28), dtype=torch.uint8), torch.arange(7),
                    [str(i) for i in range(10)])
    norms = G.feature_norms(model, split)
    x = D.normalize(split.images, "mnist")
    with torch.no_grad():
        expected = model.features(x).double().norm(dim=1)
    assert norms.shape == (7,) and torch.allclose(norms, expected, atol=1e-5)
