"""lsmooth_lib.plots: the figure style and the static (kernel-free) and live sliders."""
import base64
import math
import json
import re
import struct

import matplotlib
import numpy as np
import matplotlib.pyplot as plt
import pytest

from lsmooth_lib import plots as P

ALPHAS, KS = [0.0, 0.1], [2, 10, 100]


@pytest.fixture
def restore_rc():
    with matplotlib.rc_context():
        yield


def _png_size(data_uri: str):
    raw = base64.b64decode(data_uri.split(",", 1)[1])
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", raw[16:24])  # IHDR width, height


def test_use_style_sets_a_white_background(restore_rc):
    matplotlib.rcParams["figure.facecolor"] = "black"
    matplotlib.rcParams["axes.facecolor"] = "black"
    P.use_style()
    assert matplotlib.rcParams["figure.facecolor"] == "white"
    assert matplotlib.rcParams["savefig.facecolor"] == "white"
    fig = plt.figure()
    try:
        assert matplotlib.colors.to_rgba(fig.get_facecolor()) == (1.0, 1.0, 1.0, 1.0)
        assert matplotlib.colors.to_rgba(fig.add_subplot().get_facecolor()) == (1.0, 1.0, 1.0, 1.0)
    finally:
        plt.close(fig)
    assert matplotlib.rcParams["axes.grid"] is True


def _recording_draw(calls):
    def draw(fig, alpha, K):
        calls.append((alpha, K))
        # the frame's pixel size encodes its parameters, so the test can tell frames apart
        fig.set_size_inches(1 + ALPHAS.index(alpha), 1 + KS.index(K))
        ax = fig.subplots()
        ax.plot([0, 1], [0, alpha])
        ax.set_title(f"alpha={alpha}, K={K}")
    return draw


def test_static_sliders(restore_rc):
    calls = []
    out = P.static_sliders(_recording_draw(calls), dpi=50, initial={"alpha": 0.1, "K": 10}, alpha=ALPHAS, K=KS)
    html = out.data
    assert sorted(calls) == sorted((a, k) for a in ALPHAS for k in KS) and len(calls) == 6
    # two range inputs, one per parameter, with the right ranges and initial positions
    inputs = re.findall(r"<input [^>]*>", html)
    assert len(inputs) == 2 and all('type="range"' in i for i in inputs)
    assert 'data-param="alpha"' in inputs[0] and 'max="1"' in inputs[0] and 'value="1"' in inputs[0]
    assert 'data-param="K"' in inputs[1] and 'max="2"' in inputs[1] and 'value="1"' in inputs[1]
    assert re.findall(r'<span class="ls-value">([^<]*)</span>', html) == ["0.1", "10"]
    # six embedded PNG frames, keyed by the slider positions
    frames = json.loads(re.search(r"var frames = (\{.*?\});", html).group(1))
    assert sorted(frames) == sorted(f"{i}_{j}" for i in range(2) for j in range(3))
    assert len(set(frames.values())) == 6
    for key, uri in frames.items():
        i, j = map(int, key.split("_"))
        assert uri.startswith("data:image/png;base64,")
        assert _png_size(uri) == (50 * (1 + i), 50 * (1 + j)), f"frame {key} shows the wrong parameters"
    # the image shown first is the initial frame; labels for the value readouts
    assert re.search(r'<img class="ls-frame"[^>]*src="([^"]+)"', html).group(1) == frames["1_1"]
    assert json.loads(re.search(r"var labels = (\{.*?\});", html).group(1)) == {
        "alpha": ["0", "0.1"], "K": ["2", "10", "100"]}
    assert html.count("data:image/png;base64,") == 7  # six frames plus the initial <img>


def test_static_sliders_default_start_and_unique_ids(restore_rc):
    a = P.static_sliders(lambda fig, x: fig.subplots().plot([0, x]), dpi=20, x=[1, 2, 3]).data
    b = P.static_sliders(lambda fig, x: fig.subplots().plot([0, x]), dpi=20, x=[1, 2, 3]).data
    assert 'value="0"' in a and '<span class="ls-value">1</span>' in a
    ids = [re.search(r'id="(ls-[0-9a-f]+)"', h).group(1) for h in (a, b)]
    assert ids[0] != ids[1], "two sliders on one page need distinct ids"
    assert f'document.getElementById("{ids[0]}")' in a


def test_static_sliders_needs_a_grid():
    with pytest.raises(ValueError, match="at least one parameter grid"):
        P.static_sliders(lambda fig: None)


def test_live_sliders(restore_rc):
    import ipywidgets as widgets
    import traitlets

    calls = []

    def draw(fig, alpha, K):
        calls.append((alpha, K))
        fig.add_subplot().plot([0, 1], [0, alpha])

    n_before = len(plt.get_fignums())
    w = P.live_sliders(draw, alpha=ALPHAS, K=KS)
    try:
        assert isinstance(w, widgets.interactive)
        sliders = [c for c in w.children if isinstance(c, widgets.SelectionSlider)]
        assert [s.description for s in sliders] == ["alpha", "K"]
        assert list(sliders[0]._options_values) == ALPHAS and list(sliders[1]._options_values) == KS
        assert list(sliders[1]._options_labels) == ["2", "10", "100"]
        assert sliders[0].value == 0.0 and sliders[1].value == 2
        assert calls == [(0.0, 2)], "the figure is drawn once for the initial values"
        sliders[1].value = 100
        assert calls[-1] == (0.0, 100)
        sliders[0].value = 0.1
        assert calls[-1] == (0.1, 100)
        with pytest.raises(traitlets.TraitError):
            sliders[1].value = 50  # only the given values exist; nothing is interpolated
    finally:
        for num in plt.get_fignums()[n_before:]:
            plt.close(num)


# ---------------------------------------------------------------- chapter 1 figures
def test_draw_smoothing(restore_rc):
    import torch
    from matplotlib.figure import Figure
    from lsmooth_lib import losses as L

    fig = P.draw_smoothing(Figure(), alpha=0.1, K=10)
    ax1, ax2 = fig.axes
    heights = [[r.get_height() for r in c] for c in ax1.containers]
    assert heights[0] == pytest.approx(L.smooth_targets(torch.tensor([0]), 10, 0.1, "uniform")[0].tolist())
    assert heights[1] == pytest.approx(L.smooth_targets(torch.tensor([0]), 10, 0.1, "others")[0].tolist())
    lines = ax2.get_lines()
    dots = [ln for ln in lines if ln.get_marker() == "o"]
    assert len(dots) == 1
    assert dots[0].get_xdata()[0] == pytest.approx(L.optimal_logit_gap(10, 0.1))
    assert dots[0].get_ydata()[0] == pytest.approx(L.minimum_loss(10, 0.1))
    hard = lines[0]  # hard-target loss along the gap: log(1 + (K - 1) e^-g)
    x, y = hard.get_xdata(), hard.get_ydata()
    assert y[0] == pytest.approx(math.log(10)) and y[-1] == pytest.approx(math.log(1 + 9 * math.exp(-x[-1])))
    # hard targets: one curve, no optimum; many classes: only the first 10 bars
    fig0 = P.draw_smoothing(Figure(), alpha=0.0, K=100)
    assert not [ln for ln in fig0.axes[1].get_lines() if ln.get_marker() == "o"]
    assert all(len(c) == 10 for c in fig0.axes[0].containers)


def test_draw_penalties(restore_rc):
    from matplotlib.figure import Figure

    fig = P.draw_penalties(Figure(), K=10, max_gap=30)
    ls, cp = fig.axes[0].get_lines()[:2]
    assert ls.get_ydata()[0] == pytest.approx(0) and cp.get_ydata()[0] == pytest.approx(0)
    assert cp.get_ydata()[-1] == pytest.approx(math.log(10), abs=1e-6)  # KL(p || u) saturates at log K
    assert ls.get_ydata()[-1] > 20  # KL(u || p) grows without bound
    assert (np.diff(ls.get_ydata()) > 0).all() and (np.diff(cp.get_ydata()) >= -1e-12).all()


def test_chapter_figures_in_static_sliders(restore_rc):
    html = P.static_sliders(P.draw_smoothing, dpi=30, alpha=[0.0, 0.1], K=[10]).data
    assert html.count("data:image/png;base64,") == 3


# ---------------------------------------------------------------- chapter 2 figures
def _projection(scale=1.0):
    import torch
    from lsmooth_lib.geometry import Projection
    g = torch.Generator().manual_seed(0)
    tc = torch.tensor([[0.0, 0.0], [2.0, 0.0], [1.0, 1.7]], dtype=torch.float64) * scale
    labels = torch.arange(3).repeat_interleave(10)
    coords = tc[labels] + 0.1 * scale * torch.randn(30, 2, generator=g, dtype=torch.float64)
    return Projection(("a", "b", "c"), "train", coords, labels, tc)


def test_draw_projections_keeps_each_panels_scale(restore_rc):
    from matplotlib.figure import Figure
    fig = P.draw_projections(Figure(), [_projection(1.0), _projection(20.0)], ["small", "large"])
    small, large = fig.axes
    assert [ax.get_title() for ax in fig.axes] == ["small", "large"]
    assert len(small.collections) == 4            # three classes + the templates
    assert large.get_xlim()[1] > 10 * small.get_xlim()[1]   # not normalised
    assert matplotlib.colors.to_rgba(fig.get_facecolor()) == (1.0, 1.0, 1.0, 1.0)


def test_projection_slider_frames_differ_per_choice(restore_rc):
    from functools import partial
    table = {(a, "a, b, c", s): _projection(10 ** -a) for a in (0.0, 1.0) for s in ("train", "val")}
    html = P.static_sliders(partial(P.draw_projection_choice, table=table), alpha=[0.0, 1.0],
                            classes=["a, b, c"], split=["train", "val"]).data
    frames = json.loads(re.search(r"var frames = (\{.*?\});", html).group(1))
    assert len(frames) == 4 and len(set(frames.values())) == 4


def test_draw_measures_plots_train_and_validation(restore_rc):
    from matplotlib.figure import Figure
    m = {("train", "tightness"): [1.0, 0.2], ("val", "tightness"): [1.2, 0.4],
         ("train", "equidistance"): [0.05, 0.03], ("val", "equidistance"): [0.07, 0.06]}
    fig = P.draw_measures(Figure(), [0.0, 0.1], m)
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]
    assert list(fig.axes[0].lines[0].get_ydata()) == [1.0, 0.2]


# ---------------------------------------------------------------- chapter 3 figures
def _planted_logits(n=4000, k=10, temperature=2.0, seed=0):
    import torch
    g = torch.Generator().manual_seed(seed)
    z = 3 * torch.randn(n, k, generator=g)
    y = torch.multinomial(torch.softmax(z / temperature, 1), 1, generator=g).squeeze(1)
    return z, y


def test_draw_reliability_curves(restore_rc):
    from matplotlib.figure import Figure
    from lsmooth_lib import calibration as C

    z, y = _planted_logits()
    curves = [dict(logits=z, labels=y, label="as is", color=P.COLORS["hard"]),
              dict(logits=z, labels=y, temperature=2.0, label="scaled", color=P.COLORS["hard"], marker="x")]
    fig = P.draw_reliability_curves(Figure(), curves, n_bins=15, title="t")
    (ax,) = fig.axes
    diag, raw, scaled = ax.get_lines()
    assert list(diag.get_xdata()) == [0, 1] and diag.get_linestyle() == "--"
    b = C.reliability_bins(z, y, 15)
    keep = b["count"] > 0
    assert np.allclose(raw.get_xdata(), b["conf"][keep].numpy()) and np.allclose(raw.get_ydata(), b["acc"][keep].numpy())
    assert scaled.get_marker() == "x" and matplotlib.colors.same_color(scaled.get_color(), P.COLORS["hard"])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[1] == f"as is (ECE {C.ece(z, y):.3f})" and labels[2] == f"scaled (ECE {C.ece(z, y, temperature=2.0):.3f})"
    assert matplotlib.colors.to_rgba(fig.get_facecolor()) == (1.0, 1.0, 1.0, 1.0)
    # sparse bins can be left out of the lines (not out of the ECE)
    sparse = P.draw_reliability_curves(Figure(), curves[:1], min_count=100).axes[0].get_lines()[1]
    assert len(sparse.get_xdata()) == int((b["count"] >= 100).sum()) < int(keep.sum())


def test_draw_calibration_explorer_reads_out_the_right_ece(restore_rc):
    from functools import partial
    from matplotlib.figure import Figure
    from lsmooth_lib import calibration as C

    data = {a: dict(zip(("logits", "labels"), _planted_logits(seed=i)), T_fit=2.0) for i, a in enumerate((0.0, 0.1))}
    fig = P.draw_calibration_explorer(Figure(), alpha=0.1, T=1.5, data=data)
    assert len(fig.axes) == 2
    z, y = data[0.1]["logits"], data[0.1]["labels"]
    title = fig.texts[0].get_text()  # the suptitle
    assert f"ECE {C.ece(z, y, temperature=1.5):.3f}" in title and f"NLL {C.nll(z, y, 1.5):.3f}" in title
    assert "fitted T = 2.00" in title
    rel, hist = fig.axes
    n_filled = int((C.reliability_bins(z, y, 15, 1.5)["count"] > 0).sum())
    assert len(rel.patches) == 2 * n_filled   # accuracy bars + gap bars, empty bins left out
    assert sum(p.get_height() for p in hist.patches) == pytest.approx(1.0)   # fractions of the test set
    assert matplotlib.colors.to_rgba(fig.get_facecolor()) == (1.0, 1.0, 1.0, 1.0)
    # bound with partial, it drives the precomputed sliders: one distinct frame per (alpha, T)
    html = P.static_sliders(partial(P.draw_calibration_explorer, data=data), dpi=20, alpha=[0.0, 0.1], T=[1.0, 2.0]).data
    frames = json.loads(re.search(r"var frames = (\{.*?\});", html).group(1))
    assert len(frames) == 4 and len(set(frames.values())) == 4


def test_draw_calibration_sweep(restore_rc):
    from matplotlib.figure import Figure

    def row(alpha, T):
        return dict(alpha=alpha, T=T, acc=0.75, conf=0.7, nll=0.8, nll_ts=0.7, ece=0.1 + alpha, ece_ts=0.02)

    sweeps = {"A": [row(0.1, 0.9), row(0.0, 3.0)], "B": [row(0.0, 2.0), row(0.05, 1.1), row(0.2, 0.7)]}
    fig = P.draw_calibration_sweep(Figure(), sweeps)
    assert len(fig.axes) == 8
    ece_ax, t_ax = fig.axes[0], fig.axes[1]
    assert list(ece_ax.lines[0].get_xdata()) == [0.0, 0.1]           # sorted by alpha
    assert list(ece_ax.lines[0].get_ydata()) == pytest.approx([0.1, 0.2])
    assert list(t_ax.lines[0].get_ydata()) == [3.0, 0.9] and t_ax.get_yscale() == "log"
    assert fig.axes[4].get_ylabel().startswith("B")
    assert matplotlib.colors.to_rgba(fig.get_facecolor()) == (1.0, 1.0, 1.0, 1.0)


def test_explore_projections_offers_every_class_and_only_trained_alphas(restore_rc):
    import torch
    from lsmooth_lib import data as D
    from lsmooth_lib.models import build_model
    from lsmooth_lib import geometry as G
    split = D.Split("cifar10", "train", torch.zeros(30, 3, 24, 24, dtype=torch.uint8),
                    torch.arange(10).repeat(3), [f"c{k}" for k in range(10)])
    models = {0.0: build_model("alexnet", 10).eval(), 0.1: build_model("alexnet", 10).eval()}
    asked = []
    project = lambda a, classes, s: asked.append((a, tuple(classes), s)) or G.project_classes(models[a], split, classes)  # noqa: E731
    w = P.explore_projections(project, list(models), split.classes, classes=["c1", "c2", "c3"])
    controls = {c.description: c for c in w.children if hasattr(c, "options")}
    assert [v for _, v in controls["alpha"].options] == [0.0, 0.1]
    assert list(controls["class 1"].options) == split.classes and controls["class 3"].value == "c3"
    assert list(controls["split"].options) == ["train", "val"]
    assert asked and asked[0][1] == ("c1", "c2", "c3")  # the first drawing asks for the chosen classes


# ---------------------------------------------------------------- chapter 5
def test_draw_distillation_puts_each_series_at_its_gamma(restore_rc):
    from matplotlib.figure import Figure
    res = {"teacher": {0.0: [0.78], 0.1: [0.79]}, "student": {0.0: [0.74, 0.76], 0.1: [0.76]},
           "from_hard": {1.0: {"gamma": [0.02], "acc": [0.77]}, 4.0: {"gamma": [0.3], "acc": [0.775]}},
           "from_ls": {0.1: {"gamma": [0.11], "acc": [0.75]}}}
    fig = P.draw_distillation(Figure(), res)
    top, bottom = fig.axes[:2]
    xs = {round(float(x), 3) for line in bottom.get_lines() for x in line.get_xdata()}
    assert {0.02, 0.3, 0.11, 0.0, 0.1} <= xs
    labels = [t.get_text() for t in bottom.get_legend().get_texts()]
    assert len(labels) == 3 and any("temperature" in t for t in labels)
    assert {t.get_text() for t in bottom.texts} == {"T=1", "T=4", "alpha=0.1"}
    ys = [y for line in bottom.get_lines() for y in line.get_ydata()]
    assert max(ys) == pytest.approx(77.5) and min(ys) >= 74  # percent, means of the seeds


def test_draw_mutual_information_marks_log_n_and_log_2(restore_rc):
    from matplotlib.figure import Figure
    fig = P.draw_mutual_information(Figure(), {"a": ([0, 10], [1.0, 2.0])}, n=600)
    ax = fig.axes[0]
    levels = sorted(line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == ":")
    assert levels == pytest.approx([math.log(2), math.log(600)])
    assert ax.get_ylim()[1] > math.log(600)


def test_draw_soft_targets_tempers_the_teachers(restore_rc):
    from matplotlib.figure import Figure
    z = np.array([[5.0, 0.0, -5.0], [4.0, 1.0, -3.0]])
    data = {"classes": ["a", "b", "c"], "label": "a", "teachers": {"hard": z, "smooth": z / 10}}
    for T in (1.0, 4.0):
        fig = P.draw_soft_targets(Figure(), T, data)
        first = fig.axes[0].get_lines()[0].get_ydata()
        expected = np.exp(z[0] / T) / np.exp(z[0] / T).sum()
        assert np.allclose(first, expected) and len(fig.axes[0].get_lines()) == 2
        assert fig.axes[0].get_yscale() == "log" and f"T = {T:g}" in fig.axes[0].get_title()


def test_draw_temperature_sweep_plots_each_teacher_against_t(restore_rc):
    from matplotlib.figure import Figure
    sweep = {0.0: {1: {"gamma": [0.02], "acc": [0.765]}, 4: {"gamma": [0.36], "acc": [0.778, 0.776]}},
             0.1: {1: {"gamma": [0.13], "acc": [0.760]}}}
    fig = P.draw_temperature_sweep(Figure(), sweep, baselines={"LS student, alpha 0.1": [0.76, 0.77]})
    left, right = fig.axes[:2]
    assert left.get_xscale() == "log" and right.get_ylim() == (0, 1)
    means = sorted(round(float(y), 2) for line in left.get_lines() for y in line.get_ydata())
    assert {76.5, 77.7, 76.0, 76.5} <= set(means)  # percent; the baseline is the mean of its seeds
    assert [list(line.get_ydata()) for line in right.get_lines()] == [[0.02, 0.36], [0.13]]
    assert len(left.get_legend().get_texts()) == 3


def test_draw_against_alpha_one_panel_per_measure(restore_rc):
    from matplotlib.figure import Figure
    panels = {"feature norm": {"AlexNet": ([0, 0.1], [20.0, 5.0])},
              "stability": {"AlexNet": ([0, 0.1], [0.6, 0.8]), "ResNet": ([0, 0.1], [0.7, 0.9])}}
    fig = P.draw_against_alpha(Figure(), panels, title="t")
    assert len(fig.axes) == 2 and [a.get_ylabel() for a in fig.axes] == list(panels)
    assert list(fig.axes[1].get_lines()[1].get_ydata()) == [0.7, 0.9] and fig.axes[1].get_legend() is not None


def test_draw_feature_norms_overlays_the_chosen_alpha_on_the_hard_model(restore_rc):
    from matplotlib.figure import Figure
    norms = {0.0: np.array([20.0, 22.0, 24.0]), 0.1: np.array([5.0, 6.0, 7.0])}
    fig = P.draw_feature_norms(Figure(), 0.1, norms)
    ax = fig.axes[0]
    assert sorted(line.get_xdata()[0] for line in ax.get_lines()) == [6.0, 22.0]  # the dashed means
    assert len(ax.get_legend().get_texts()) == 2 and "0.1" in ax.get_title()
    assert len(P.draw_feature_norms(Figure(), 0.0, norms).axes[0].get_legend().get_texts()) == 1
