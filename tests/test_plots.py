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
    out = P.static_sliders(_recording_draw(calls), initial={"alpha": 0.1, "K": 10}, alpha=ALPHAS, K=KS)
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
        assert _png_size(uri) == (100 * (1 + i), 100 * (1 + j)), f"frame {key} shows the wrong parameters"
    # the image shown first is the initial frame; labels for the value readouts
    assert re.search(r'<img class="ls-frame"[^>]*src="([^"]+)"', html).group(1) == frames["1_1"]
    assert json.loads(re.search(r"var labels = (\{.*?\});", html).group(1)) == {
        "alpha": ["0", "0.1"], "K": ["2", "10", "100"]}
    assert html.count("data:image/png;base64,") == 7  # six frames plus the initial <img>


def test_static_sliders_default_start_and_unique_ids(restore_rc):
    a = P.static_sliders(lambda fig, x: fig.subplots().plot([0, x]), figsize=(1, 1), x=[1, 2, 3]).data
    b = P.static_sliders(lambda fig, x: fig.subplots().plot([0, x]), figsize=(1, 1), x=[1, 2, 3]).data
    assert 'value="0"' in a and '<span class="ls-value">1</span>' in a
    ids = [re.search(r'id="(ls-[0-9a-f]+)"', h).group(1) for h in (a, b)]
    assert ids[0] != ids[1], "two sliders on one page need distinct ids"
    assert f'document.getElementById("{ids[0]}")' in a


def test_static_sliders_needs_a_grid():
    with pytest.raises(ValueError, match="at least one parameter grid"):
        P.static_sliders(lambda fig: None)


def test_static_slider_frames_are_sharp_and_start_where_asked(restore_rc):
    with pytest.raises(ValueError, match="dpi >= 100"):
        P.static_sliders(lambda fig, x: None, dpi=80, x=[1])
    with pytest.raises(ValueError, match="not one of the slider's values"):
        P.static_sliders(lambda fig, x: None, initial={"x": 5}, x=[1, 2])
    html = P.static_sliders(lambda fig, x: fig.subplots().plot([0, x]), figsize=(2, 1.5), x=[1, 2]).data
    for uri in json.loads(re.search(r"var frames = (\{.*?\});", html).group(1)).values():
        assert _png_size(uri) == (200, 150)          # 100 dpi
        raw = base64.b64decode(uri.split(",", 1)[1])
        assert raw[25] == 3, "frames are palette PNGs (colour type 3), to keep the pages light"


def test_live_sliders(restore_rc):
    import ipywidgets as widgets
    import traitlets

    calls = []

    def draw(fig, alpha, K):
        calls.append((alpha, K))
        fig.add_subplot().plot([0, 1], [0, alpha])

    n_before = len(plt.get_fignums())
    started = P.live_sliders(draw, initial={"alpha": 0.1, "K": 100}, alpha=ALPHAS, K=KS)
    assert [c.value for c in started.children[:2]] == [0.1, 100], "live sliders start at the static slider's values"
    assert calls == [(0.1, 100)]
    calls.clear()
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
    html = P.static_sliders(P.draw_smoothing, figsize=(4, 2), alpha=[0.0, 0.1], K=[10]).data
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
    html = P.static_sliders(partial(P.draw_projection_choice, table=table), figsize=(3, 2.5), alpha=[0.0, 1.0],
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
    labels = [t.get_text() for t in fig.legends[0].get_texts()]   # one legend, below the diagram
    assert ax.get_legend() is None
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
    html = P.static_sliders(partial(P.draw_calibration_explorer, data=data), figsize=(3, 1.5), alpha=[0.0, 0.1],
                            T=[1.0, 2.0]).data
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
    assert not ece_ax.collections and len(fig.legends) == 1


def test_calibration_sweep_shows_the_other_seeds(restore_rc):
    """Other seeds are small points beside each line, in every panel, named once in the legend."""
    from matplotlib.figure import Figure

    def row(alpha, T, acc):
        return dict(alpha=alpha, T=T, acc=acc, conf=0.7, nll=0.8, nll_ts=0.7, ece=0.1 + alpha, ece_ts=0.02)

    fig = P.draw_calibration_sweep(Figure(), {"A": [row(0.0, 3.0, 0.75), row(0.1, 0.9, 0.76)]},
                                   seeds={"A": [row(0.0, 2.5, 0.74), row(0.0, 2.8, 0.60)]})
    ece_ax, t_ax, _, acc_ax = fig.axes[:4]
    assert [list(map(list, c.get_offsets())) for c in t_ax.collections] == [[[0.0, 2.5], [0.0, 2.8]]]
    assert [list(c.get_offsets()[:, 1]) for c in acc_ax.collections] == [[74.0, 60.0]]
    assert acc_ax.get_ylim()[0] <= 57, "the axis holds the other seeds too"
    assert len(ece_ax.collections) == 2                       # as trained and after temperature scaling
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels.count("other seeds (small)") == 1 and len(fig.legends) == 1


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
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(labels) == 3 and any("temperature" in t for t in labels)
    assert {t.get_text() for t in bottom.texts} == {"T=1", "T=4", "teacher alpha=0.1"}
    ys = [y for line in bottom.get_lines() for y in line.get_ydata()]
    assert max(ys) == pytest.approx(77.5) and min(ys) >= 74  # percent, means of the seeds


def test_draw_mutual_information_zooms_on_the_curves(restore_rc):
    """Figure 6: the window spans the curves and log 2, not 0 to log N (which squashed curves of 0.7-1.4 nats into
    the bottom fifth); log N is named in the legend; alpha 0.6 is as visible as the others."""
    from matplotlib.figure import Figure
    curves = {"hard targets (alpha = 0)": ([0, 10, 20], [1.03, 1.32, 1.05]),
              "label smoothing (alpha = 0.1)": ([0, 10, 20], [1.03, 1.30, 0.76]),
              "label smoothing (alpha = 0.3)": ([0, 10, 20], [1.03, 1.19, 0.76]),
              "label smoothing (alpha = 0.6)": ([0, 10, 20], [1.03, 1.16, 0.79])}
    fig = P.draw_mutual_information(Figure(), curves, n=600)
    ax = fig.axes[0]
    lo, hi = ax.get_ylim()
    assert lo <= math.log(2) < 0.76 and 1.32 < hi < 1.5, (lo, hi)
    assert hi - lo < 1.0, "the curves fill the panel"
    dotted = [line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == ":" and len(line.get_ydata()) == 2]
    assert dotted == pytest.approx([math.log(2)])
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("log N = log 600 = 6.40" in t and "far above" in t for t in texts)
    colors = [line.get_color() for line in ax.get_lines()[:4]]
    assert matplotlib.colors.same_color(colors[0], P.COLORS["hard"])
    assert len({matplotlib.colors.to_hex(c) for c in colors}) == 4
    lum = [_luminance(c) for c in colors[1:]]
    assert lum == sorted(lum, reverse=True), "darker green for more smoothing"
    assert all(_contrast(c) >= 3 for c in colors), "every curve keeps a 3:1 contrast with the white background"
    # a window that reaches log N draws it as a line instead
    near = P.draw_mutual_information(Figure(), {"a": ([0, 10], [1.0, 2.0])}, n=4)
    assert near.axes[0].get_ylim()[1] > math.log(4)


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
    assert len(fig.legends[0].get_texts()) == 3 and left.get_legend() is None
    assert matplotlib.colors.same_color(right.get_lines()[0].get_color(), P.COLORS["hard"])
    assert matplotlib.colors.same_color(right.get_lines()[1].get_color(), P.COLORS["ls"])
    baseline = [ln for ln in left.get_lines() if ln.get_linestyle() == ":"][0]
    assert matplotlib.colors.same_color(baseline.get_color(), P.COLORS["ls"])   # "LS student": label smoothing


def test_draw_against_alpha_one_panel_per_measure(restore_rc):
    from matplotlib.figure import Figure
    panels = {"feature norm": {"AlexNet": ([0, 0.1], [20.0, 5.0])},
              "stability": {"AlexNet": ([0, 0.1], [0.6, 0.8]), "ResNet": ([0, 0.1], [0.7, 0.9])}}
    fig = P.draw_against_alpha(Figure(), panels, title="t")
    assert len(fig.axes) == 2 and [a.get_ylabel() for a in fig.axes] == list(panels)
    assert list(fig.axes[1].get_lines()[1].get_ydata()) == [0.7, 0.9] and fig.legends
    alex = [ax.get_lines()[0] for ax in fig.axes]   # one line label: one style in every panel, all green
    assert alex[0].get_marker() == alex[1].get_marker() and alex[0].get_linestyle() == alex[1].get_linestyle()
    assert fig.axes[1].get_lines()[1].get_marker() != alex[1].get_marker()
    assert all(matplotlib.colors.same_color(ln.get_color(), P.COLORS["ls"]) for ax in fig.axes for ln in ax.get_lines())


def test_draw_against_alpha_draws_the_mean_over_seeds_and_each_seed(restore_rc):
    """Chapter 6's transfer panel has three seeds at alpha 0 and 0.1, one at 0.3: the line goes through the means, in
    alpha order, and the seeds are dots beside it (no line between two seeds of one alpha)."""
    from matplotlib.figure import Figure
    panels = {"probe": {"teacher": ([0.0, 0.1, 0.3, 0.0, 0.1], [20.0, 18.0, 17.0, 22.0, 19.0])}}
    ax = P.draw_against_alpha(Figure(), panels).axes[0]
    line, dots = ax.get_lines()
    assert list(line.get_xdata()) == [0.0, 0.1, 0.3] and list(line.get_ydata()) == [21.0, 18.5, 17.0]
    assert dots.get_linestyle() == "None" and sorted(zip(dots.get_xdata(), dots.get_ydata())) == [
        (0.0, 20.0), (0.0, 22.0), (0.1, 18.0), (0.1, 19.0), (0.3, 17.0)]


def test_draw_feature_norms_overlays_the_chosen_alpha_on_the_hard_model(restore_rc):
    from matplotlib.figure import Figure
    norms = {0.0: np.array([20.0, 22.0, 24.0]), 0.1: np.array([5.0, 6.0, 7.0])}
    fig = P.draw_feature_norms(Figure(), 0.1, norms)
    ax = fig.axes[0]
    assert sorted(line.get_xdata()[0] for line in ax.get_lines()) == [6.0, 22.0]  # the dashed means
    assert len(fig.legends[0].get_texts()) == 2 and "0.1" in ax.get_title()
    assert len(P.draw_feature_norms(Figure(), 0.0, norms).legends[0].get_texts()) == 1


# ---------------------------------------------------------------- the colour scheme, fonts, axes
def _luminance(color):
    def lin(x):
        return x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4
    r, g, b = matplotlib.colors.to_rgb(color)
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


def _contrast(color):
    """WCAG contrast ratio of a colour against white."""
    return 1.05 / (_luminance(color) + 0.05)


def _hue(color):
    import colorsys
    return colorsys.rgb_to_hsv(*matplotlib.colors.to_rgb(color))


def test_one_colour_per_role():
    """Blue = hard targets, green = label smoothing (as in the paper's Figures 2-3), temperature scaling = the
    hard-target colour (with crosses); alpha sweeps are shades of green; no role is red."""
    c = P.COLORS
    assert _hue(c["hard"])[0] == pytest.approx(0.58, abs=0.05)      # blue
    assert _hue(c["ls"])[0] == pytest.approx(0.33, abs=0.05)        # green
    assert c["ts"] == c["hard"] and P.MARKERS["ts"] == "x"
    assert len({c["hard"], c["ls"], c["other"], c["neutral"]}) == 4
    shades = P.alpha_colors([0.0, 0.05, 0.1, 0.3, 0.6, 0.9])
    assert shades[0.0] == c["hard"]
    greens = [shades[a] for a in (0.05, 0.1, 0.3, 0.6, 0.9)]
    assert all(_hue(g)[0] == pytest.approx(0.36, abs=0.06) for g in greens)
    assert [_luminance(g) for g in greens] == sorted((_luminance(g) for g in greens), reverse=True)
    assert all(_contrast(x) >= 3 for x in [*greens, c["hard"], c["ls"], c["other"], c["neutral"], *P.TRIPLE_COLORS])
    assert P.alpha_colors([0.0, 0.1]) == {0.0: c["hard"], 0.1: c["ls"]}
    assert set(P.TRIPLE_COLORS).isdisjoint({c["hard"], c["ls"]}), "class colours are not role colours"
    assert P.label_alpha("label smoothing (alpha = 0.3)") == 0.3 and P.label_alpha("hard targets") == 0.0
    assert P.label_alpha("teacher alpha = 0") == 0.0 and P.label_alpha("a model") is None
    assert P.role_color("hard targets, T = 1.04") == c["hard"] and P.role_color(0.1) == c["ls"]
    assert P.role_color("no teacher, label smoothing 0.1") == c["ls"]


def _figures():
    """Every draw_* function of the module on small synthetic data: ``{name: figure}``."""
    import torch
    from matplotlib.figure import Figure
    z, y = _planted_logits(n=600)
    table = {(a, "a, b, c", s): _projection(10 ** -a) for a in (0.0, 1.0) for s in ("train", "val")}
    rows = lambda shift: [dict(temperature=t, bleu=30 + shift - (t - 1) ** 2, ece=abs(t - 1) / 4 + 0.02,  # noqa: E731
                               nll=2 + (t - 1) ** 2 + shift / 10) for t in (0.5, 0.85, 1.0, 1.15, 1.5)]
    sweeps = {"hard targets": rows(0.0), "label smoothing": rows(-0.2)}
    from lsmooth_lib import calibration as C
    bins = {t: C.reliability_bins(z, y, 15, t) for t in (0.5, 1.0, 1.5)}
    explorer = {"_source": "A man in an orange hat.", "_reference": "Ein Mann mit einem orangefarbenen Hut.",
                **{label: dict(bins=bins, rows=r, examples={t: "Ein Mann." for t in bins})
                   for label, r in sweeps.items()}}
    report = lambda a, T: dict(alpha=a, T=T, acc=0.75, conf=0.7, nll=0.8, nll_ts=0.7, ece=0.1 + a, ece_ts=0.02)  # noqa
    return {
        "smoothing": P.draw_smoothing(Figure(figsize=(8, 3.8)), alpha=0.3, K=10),
        "penalties": P.draw_penalties(Figure(figsize=(7, 3.8)), K=10),
        "projections": P.draw_projections(Figure(figsize=(8, 3.6)), [_projection(), _projection(5.0)], ["a", "b"]),
        "projection_choice": P.draw_projection_choice(Figure(figsize=(5.5, 4.8)), table, 1.0, "a, b, c", "val",
                                                      axes="fixed"),
        "measures": P.draw_measures(Figure(figsize=(10, 3.6)), [0.0, 0.1],
                                    {("train", "tightness"): [1.0, 0.2], ("val", "tightness"): [1.2, 0.4]}),
        "reliability": P.draw_reliability_curves(Figure(figsize=(4.8, 5.6)), [
            dict(logits=z, labels=y, label="hard targets"),
            dict(logits=z, labels=y, temperature=2.0, label="hard targets, T = 2.00"),
            dict(logits=z / 2, labels=y, label="label smoothing, alpha = 0.1")]),
        "calibration_explorer": P.draw_calibration_explorer(Figure(figsize=(8, 4)), 0.1, 1.5,
                                                            {0.1: dict(logits=z, labels=y, T_fit=2.0)}),
        "calibration_sweep": P.draw_calibration_sweep(Figure(figsize=(11, 3.1)),
                                                      {"A": [report(0.0, 3.0), report(0.1, 0.9)]}),
        "decoding_sweep": P.draw_decoding_sweep(Figure(figsize=(11, 3.9)), sweeps, fitted={"hard targets": 1.04}),
        "decoding_explorer": P.draw_decoding_explorer(Figure(figsize=(9, 5.4)), 1.0, explorer),
        "distillation": P.draw_distillation(Figure(figsize=(7.5, 8)), FIG5),
        "mutual_information": P.draw_mutual_information(Figure(figsize=(7, 4.3)), {
            "hard targets (alpha = 0)": ([0, 1], [1.0, 1.3]), "label smoothing (alpha = 0.1)": ([0, 1], [1.0, 0.8])},
            n=600),
        "soft_targets": P.draw_soft_targets(Figure(figsize=(9, 3.8)), 2.0, {
            "classes": ["a", "b", "c"], "label": "a",
            "teachers": {"hard targets (alpha = 0)": torch.tensor([[5.0, 0.0, -5.0]]),
                         "label smoothing (alpha = 0.1)": torch.tensor([[2.0, 0.0, -1.0]])}}),
        "temperature_sweep": P.draw_temperature_sweep(Figure(figsize=(10, 4.2)), {
            0.0: {1: {"gamma": [0.02], "acc": [0.765]}, 4: {"gamma": [0.36], "acc": [0.778]}},
            0.1: {1: {"gamma": [0.13], "acc": [0.760]}}}, {"no teacher, hard targets": [0.75, 0.76]}),
        "against_alpha": P.draw_against_alpha(Figure(figsize=(10, 3.8)), {"S": {"A": ([0, 0.1], [0.6, 0.8]),
                                                                               "B": ([0, 0.1], [0.7, 0.9])}}),
        "feature_norms": P.draw_feature_norms(Figure(figsize=(7, 3.6)), 0.1,
                                              {0.0: np.array([20.0, 22.0]), 0.1: np.array([5.0, 6.0])}),
    }


# chapter 5's Figure 5 as measured (CPU presets): the alpha = 0.9 student (60 %) lies far below the rest
FIG5 = {"teacher": {0.0: [0.7812], 0.1: [0.7861], 0.3: [0.7845], 0.6: [0.7819]},
        "student": {0.0: [0.7543, 0.7524, 0.7424], 0.05: [0.7493], 0.1: [0.7597, 0.7636, 0.7654], 0.15: [0.7614],
                    0.3: [0.77], 0.6: [0.7687], 0.75: [0.7497], 0.9: [0.6024]},
        "from_hard": {1: {"gamma": [0.0229, 0.0229], "acc": [0.7648, 0.7608]}, 2: {"gamma": [0.1097], "acc": [0.769]},
                      3: {"gamma": [0.2365], "acc": [0.7787]}, 4: {"gamma": [0.365], "acc": [0.7779]},
                      8: {"gamma": [0.6926], "acc": [0.7673]}, 12: {"gamma": [0.819], "acc": [0.7349]},
                      16: {"gamma": [0.8758], "acc": [0.691]}},
        "from_ls": {0.1: {"gamma": [0.1277, 0.1277], "acc": [0.7604, 0.772]}, 0.3: {"gamma": [0.3261], "acc": [0.7778]},
                    0.6: {"gamma": [0.6195], "acc": [0.7725]}}}


@pytest.fixture(scope="module")
def figures():
    with matplotlib.rc_context():
        yield _figures()


def _artist_colors(fig):
    """Every colour a figure draws data with (lines, markers, patches, collections), as hex."""
    out = set()
    for ax in fig.axes:
        for ln in ax.get_lines():
            out |= {ln.get_color(), ln.get_markerfacecolor(), ln.get_markeredgecolor()}
        for p in ax.patches:
            out |= {p.get_facecolor(), p.get_edgecolor()}
        for c in ax.collections:
            out |= {tuple(x) for x in c.get_facecolors()} | {tuple(x) for x in c.get_edgecolors()}
    hexes = set()
    for color in out:
        try:
            rgba = matplotlib.colors.to_rgba(color)
        except ValueError:
            continue
        if rgba[3] > 0:
            hexes.add(matplotlib.colors.to_hex(rgba))
    return hexes


def test_no_figure_draws_in_red(figures):
    """Red used to mean label smoothing, ECE, the training split and CIFAR-10 in different figures: no figure uses
    it now (nor any colour outside the scheme: roles, greens of an alpha sweep, class colours, greys)."""
    import matplotlib.colors as mc
    allowed = {P.COLORS[k] for k in P.COLORS if k != "ink"} | set(P.TRIPLE_COLORS) | {"#000000", "#ffffff"}
    greens = [mc.to_hex(matplotlib.colormaps[P.ALPHA_CMAP](x)) for x in np.linspace(*P.ALPHA_SHADES, 200)]
    for name, fig in figures.items():
        for color in _artist_colors(fig):
            h, s, v = _hue(color)
            assert not ((h < 0.04 or h > 0.94) and s > 0.4 and v > 0.3), f"{name}: red {color}"
            grey = s < 0.08
            near_green = min(np.abs(np.array(mc.to_rgb(color)) - np.array(mc.to_rgb(g))).max() for g in greens) < 0.02
            assert grey or near_green or color in allowed, f"{name}: {color} is not in the colour scheme"


def test_every_text_is_at_least_9_pt(figures):
    for name, fig in figures.items():
        small = [(t.get_text(), t.get_fontsize()) for t in fig.findobj(matplotlib.text.Text)
                 if t.get_visible() and t.get_text().strip() and t.get_fontsize() < P.MIN_FONT_PT]
        assert not small, f"{name}: text below {P.MIN_FONT_PT} pt: {small[:5]}"


def test_legends_sit_outside_the_axes(figures):
    """Legends never cover a curve: they are figure legends below the panels (the reliability diagrams of the
    chapter 4 explorer and chapter 3's histogram keep theirs in an empty corner)."""
    inside_ok = {"decoding_explorer", "calibration_explorer"}
    for name, fig in figures.items():
        if name in inside_ok:
            continue
        assert not [ax for ax in fig.axes if ax.get_legend() is not None], f"{name}: a legend inside an axes"


def test_figure4_colour_key(figures):
    """Figure 4: each model in its role colour in every panel (hard targets were red in the NLL panel), the metric
    told by line style; no text on the markers (the fitted T is in the panel title)."""
    fig = figures["decoding_sweep"]
    hard_bleu, hard_ece, ls_bleu, ls_ece, nll = fig.axes[0], fig.axes[3], fig.axes[1], fig.axes[4], fig.axes[2]
    for ax, color in ((hard_bleu, P.COLORS["hard"]), (hard_ece, P.COLORS["hard"]), (ls_bleu, P.COLORS["ls"]),
                      (ls_ece, P.COLORS["ls"])):
        data = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 2]
        assert data and all(matplotlib.colors.same_color(ln.get_color(), color) for ln in data)
    assert hard_bleu.get_lines()[0].get_linestyle() == "-" and hard_ece.get_lines()[0].get_linestyle() == "--"
    by_label = {ln.get_label(): ln for ln in nll.get_lines()}
    assert matplotlib.colors.same_color(by_label["hard targets"].get_color(), P.COLORS["hard"])
    assert matplotlib.colors.same_color(by_label["label smoothing"].get_color(), P.COLORS["ls"])
    assert not any(ax.texts for ax in fig.axes), "no labels drawn over the data"
    assert "fitted T = 1.04" in hard_bleu.get_title()


def test_figure4_seed_spread():
    """Figure 4 with several seeds per model: one thin line per seed and a thick line through the seeds' mean, in
    BLEU and in NLL; the best-BLEU circle and the fitted T (mean over seeds) on the mean."""
    from matplotlib.figure import Figure
    row = lambda t, b, n: dict(temperature=t, bleu=b, ece=0.05, nll=n)  # noqa
    seeds = {"hard targets": [[row(0.8, 30, 2.0), row(1.0, 31, 1.9)], [row(0.8, 32, 2.2), row(1.0, 29, 2.1)]],
             "label smoothing": [[row(0.8, 30, 2.5), row(1.0, 30, 2.4)]]}
    fig = P.draw_decoding_sweep(Figure(figsize=(11, 3.9)), seeds, fitted={"hard targets": [1.0, 1.2]})
    hard = fig.axes[0]
    thin = [ln for ln in hard.get_lines() if ln.get_linewidth() < 1]
    thick = [ln for ln in hard.get_lines() if ln.get_linewidth() >= 1 and ln.get_marker() == "o"]
    assert [list(ln.get_ydata()) for ln in thin] == [[30, 31], [32, 29]]
    assert [list(ln.get_ydata()) for ln in thick] == [[31.0, 30.0]]
    assert list(hard.collections[-1].get_offsets()[0]) == [0.8, 31.0], "best BLEU on the mean"
    assert "fitted T = 1.10" in hard.get_title()
    nll = fig.axes[2]
    means = {ln.get_label(): list(ln.get_ydata()) for ln in nll.get_lines() if ln.get_linewidth() >= 1}
    assert means["hard targets"] == [2.1, 2.0] and means["label smoothing"] == [2.5, 2.4]
    assert len([ln for ln in nll.get_lines() if ln.get_linewidth() < 1]) == 2, "one seed of LS: no thin line"


def test_figure5_axes(figures):
    """Figure 5: the alpha = 0.9 student (60 %) is an arrow on the axis, not a point that squeezes the 0.4-1.3-point
    gaps of the others; the teacher panel has the students' scale (points per inch); labels do not collide."""
    fig = figures["distillation"]
    top, bottom = fig.axes[:2]
    lo, hi = bottom.get_ylim()
    assert 65 < lo < 69.1 and 77.9 < hi < 79.5, (lo, hi)
    arrows = [ln for ln in bottom.get_lines() if ln.get_marker() == "v"]
    assert len(arrows) == 1 and arrows[0].get_xdata()[0] == pytest.approx(0.9)
    assert any("60.2 %" in t.get_text() for t in bottom.texts)
    per_inch = [(ax.get_ylim()[1] - ax.get_ylim()[0]) / ax.get_position().height for ax in (top, bottom)]
    assert per_inch[0] == pytest.approx(per_inch[1], rel=0.05), "the teacher panel would inflate small differences"
    renderer = P._renderer(fig)
    boxes = [_text_box(t, renderer) for t in bottom.texts]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), "two labels collide"
    assert all(bottom.get_window_extent(renderer).contains(b.x0, b.y0) for b in boxes)


def _text_box(ann, renderer):
    """An annotation's own text box (without its leader line), where it is drawn."""
    ann.update_positions(renderer)
    return matplotlib.text.Text.get_window_extent(ann, renderer)


def test_place_labels_avoids_lines_and_each_other(restore_rc):
    from matplotlib.figure import Figure
    P.use_style()
    fig = Figure(figsize=(4, 3))
    ax = fig.subplots()
    xs = np.linspace(0, 1, 8)
    ax.plot(xs, xs, marker="o")
    ax.set_xlim(-0.1, 1.1)
    ax.set_ylim(-0.1, 1.1)
    anns = P.place_labels(ax, [(x, x, f"point {i}", {}) for i, x in enumerate(xs[::2])])
    renderer = P._renderer(fig)
    boxes = [_text_box(a, renderer) for a in anns]
    assert all(not a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    line = P._drawn_points(ax)
    for b in boxes:
        assert not ((line[:, 0] > b.x0) & (line[:, 0] < b.x1) & (line[:, 1] > b.y0) & (line[:, 1] < b.y1)).any()


def test_projection_fixed_axes_show_the_shrink(restore_rc):
    """Chapter 2's slider: axes="fixed" keeps one window for every alpha (and split), so the 10x smaller clusters
    of alpha = 1 look 10x smaller; axes="own" rescales each panel (the paper's convention)."""
    from matplotlib.figure import Figure
    table = {(a, "a, b, c", s): _projection(10 ** -a) for a in (0.0, 1.0) for s in ("train", "val")}
    fixed = [P.draw_projection_choice(Figure(figsize=(5.5, 4.8)), table, a, "a, b, c", s, axes="fixed").axes[0]
             for a in (0.0, 1.0) for s in ("train", "val")]
    assert len({(ax.get_xlim(), ax.get_ylim()) for ax in fixed}) == 1
    assert len({tuple(ax.get_position().bounds) for ax in fixed}) == 1
    (x0, x1), (y0, y1) = fixed[0].get_xlim(), fixed[0].get_ylim()
    for p in table.values():
        pts = np.concatenate([p.coords.numpy(), p.template_coords.numpy()])
        assert (x0 <= pts[:, 0]).all() and (pts[:, 0] <= x1).all()
        assert (y0 <= pts[:, 1]).all() and (pts[:, 1] <= y1).all()
    own = [P.draw_projection_choice(Figure(figsize=(5.5, 4.8)), table, a, "a, b, c", "train", axes="own").axes[0]
           for a in (0.0, 1.0)]
    for ax in own:
        ax.figure.draw_without_rendering()   # "own" limits follow the data when the figure is drawn
    assert np.ptp(own[0].get_xlim()) > 5 * np.ptp(own[1].get_xlim())
    assert "same axes" in fixed[0].get_title() and "own axes" in own[0].get_title()
    with pytest.raises(ValueError, match="axes must be"):
        P.draw_projection_choice(Figure(), table, 0.0, "a, b, c", "train", axes="shared")


def test_explore_projections_starts_at_the_static_sliders_values(restore_rc):
    asked = []
    project = lambda a, classes, s: asked.append((a, tuple(classes), s)) or _projection(10 ** -a)  # noqa: E731
    w = P.explore_projections(project, [0.0, 0.1], ["a", "b", "c", "d"], classes=["b", "c", "d"], alpha=0.1,
                              split="val", axes="fixed")
    controls = {c.description: c for c in w.children if hasattr(c, "value") and c.description}
    assert controls["alpha"].value == 0.1 and controls["split"].value == "val" and controls["axes"].value == "fixed"
    assert ("b", "c", "d") in {c for _, c, _ in asked}
    assert {(a, s) for a, _, s in asked} == {(0.0, "train"), (0.0, "val"), (0.1, "train"), (0.1, "val")}


def test_decoding_explorer_shows_the_sentence_at_9_pt(figures):
    fig = figures["decoding_explorer"]
    texts = [t for t in fig.findobj(matplotlib.text.Text) if "Ein Mann" in t.get_text()]
    assert texts and all(t.get_fontsize() >= 9 for t in texts)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(t.startswith("hard targets: next-token ECE") for t in legend)
