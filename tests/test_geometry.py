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
