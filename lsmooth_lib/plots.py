"""One figure style for the whole book, and sliders that work with and without a kernel (all chapters).

* :func:`use_style` -- white figure background (readable in the book's dark mode), light grid.
* :func:`static_sliders` -- precomputes one PNG per grid point and returns self-contained HTML with
  range inputs; it needs no kernel, so the sliders move in the rendered book.
* :func:`live_sliders` -- the same drawing function behind ``ipywidgets`` controls, for Jupyter and Colab.

A drawing function takes a fresh ``matplotlib.figure.Figure`` plus keyword parameters and draws on it,
so the static and the live versions show exactly the same figure.
"""
from __future__ import annotations

import base64
import html
import io
import itertools
import json
import uuid

import matplotlib
import matplotlib.ticker
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

STYLE = {
    "figure.facecolor": "white", "savefig.facecolor": "white", "axes.facecolor": "white",
    "figure.dpi": 100, "savefig.dpi": 100, "axes.grid": True, "grid.alpha": 0.3,
    "axes.spines.top": False, "axes.spines.right": False, "font.size": 10, "axes.titlesize": 11,
    "legend.frameon": False, "figure.constrained_layout.use": True,
}
# One colour per role, used by every chapter: hard targets vs label smoothing, and a neutral.
COLORS = {"hard": "#1f77b4", "ls": "#d62728", "neutral": "#7f7f7f", "accent": "#2ca02c"}


def use_style() -> None:
    """Apply the book's figure style to matplotlib (white background, light grid)."""
    matplotlib.rcParams.update(STYLE)


def _png(fig: Figure, dpi: int) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def static_sliders(draw, figsize=(7, 3.2), dpi: int = 80, initial: dict | None = None, **grids):
    """Precomputed sliders: an HTML block with one range input per parameter and one frame per grid point.

    ``draw(fig, **params)`` is called for every combination of the values in ``grids``
    (e.g. ``alpha=[0, 0.1, 0.3], K=[2, 10, 100]``); the frames are embedded as PNGs, so the
    result works in the static book without a kernel.  Returns an ``IPython.display.HTML``.
    """
    from IPython.display import HTML

    if not grids:
        raise ValueError("static_sliders needs at least one parameter grid, e.g. alpha=[0, 0.1]")
    keys = list(grids)
    values = {k: list(v) for k, v in grids.items()}
    frames = {}
    for combo in itertools.product(*(range(len(values[k])) for k in keys)):
        fig = Figure(figsize=figsize)
        draw(fig, **{k: values[k][i] for k, i in zip(keys, combo)})
        frames["_".join(map(str, combo))] = _png(fig, dpi)
    start = [values[k].index(initial[k]) if initial and k in initial else 0 for k in keys]
    uid = "ls-" + uuid.uuid4().hex[:10]
    controls = "".join(
        f'<label style="margin-right:1.5em">{html.escape(k)} '
        f'<input type="range" min="0" max="{len(values[k]) - 1}" step="1" value="{s}" data-param="{html.escape(k)}" '
        f'aria-label="{html.escape(k)}" style="vertical-align:middle"> '
        f'<span class="ls-value">{html.escape(_fmt(values[k][s]))}</span></label>'
        for k, s in zip(keys, start))
    labels = {k: [_fmt(v) for v in values[k]] for k in keys}
    first = frames["_".join(map(str, start))]
    markup = f"""<div class="ls-slider" id="{uid}" style="background:white;color:black;padding:6px;border-radius:4px">
<img class="ls-frame" alt="figure; move the sliders to change it" style="max-width:100%" src="{first}">
<div class="ls-controls">{controls}</div>
<script>(function() {{
  var root = document.getElementById("{uid}");
  var frames = {json.dumps(frames)};
  var labels = {json.dumps(labels)};
  var inputs = root.querySelectorAll("input[type=range]");
  var spans = root.querySelectorAll(".ls-value");
  function update() {{
    var key = [];
    inputs.forEach(function(inp, i) {{ key.push(inp.value); spans[i].textContent = labels[inp.dataset.param][inp.value]; }});
    root.querySelector("img.ls-frame").src = frames[key.join("_")];
  }}
  inputs.forEach(function(inp) {{ inp.addEventListener("input", update); }});
}})();</script></div>"""
    return HTML(markup)


def live_sliders(draw, figsize=(7, 3.2), **grids):
    """The same figure as :func:`static_sliders`, driven by ipywidgets in a live kernel (Jupyter, Colab).

    Each grid becomes a selection slider over exactly those values (nothing is interpolated).
    """
    import ipywidgets as widgets

    def show(**params):
        fig = plt.figure(figsize=figsize)
        draw(fig, **params)
        plt.show()

    controls = {k: widgets.SelectionSlider(options=[(_fmt(v), v) for v in vals], value=list(vals)[0], description=k,
                                           continuous_update=False) for k, vals in grids.items()}
    return widgets.interactive(show, **controls)


# ---------------------------------------------------------------- chapter 1 figures
def draw_smoothing(fig: Figure, alpha: float = 0.1, K: int = 10, max_gap: float = 12.0) -> Figure:
    """Chapter 1's slider figure: the smoothed target (both conventions) and the loss along the logit gap.

    Left: target probabilities of the first classes (true class 0).  Right: the smoothed
    cross-entropy of a prediction whose true-class logit exceeds all others by ``g``, for hard
    targets and for ``alpha``; the dot marks the optimal gap, the dashed line the minimum loss.
    """
    import torch
    from . import losses as L

    use_style()
    fig.set_layout_engine("constrained")
    ax1, ax2 = fig.subplots(1, 2)
    shown = min(K, 10)
    idx = torch.arange(shown)
    for shift, conv, color in ((-0.2, "uniform", COLORS["ls"]), (0.2, "others", COLORS["accent"])):
        t = L.smooth_targets(torch.zeros(1, dtype=torch.long), K, alpha, conv)[0, :shown]
        ax1.bar((idx + shift).numpy(), t.numpy(), width=0.4, color=color,
                label=f"alpha/K" if conv == "uniform" else "alpha/(K-1)")
    ax1.set_ylim(0, 1.05)
    ax1.set_xticks(idx.numpy())
    ax1.set_xlabel("class (true class = 0)" + (f", first 10 of {K}" if K > 10 else ""))
    ax1.set_ylabel("target probability")
    p_c, p_i = L.target_probabilities(K, alpha)
    ax1.set_title(f"smoothed target, alpha = {alpha:g}, K = {K}\n(alpha/K: true {p_c:.3g}, each other {p_i:.3g})")
    ax1.legend(loc="upper right")

    g = torch.linspace(0, max_gap, 241, dtype=torch.float64)
    logits = torch.zeros(len(g), K, dtype=torch.float64)
    logits[:, 0] = g
    labels = torch.zeros(len(g), dtype=torch.long)
    per_example = lambda a: L.smoothed_cross_entropy(logits, labels, a, reduction="none")
    ax2.plot(g, per_example(0.0), color=COLORS["hard"], label="hard targets")
    if alpha > 0:
        ax2.plot(g, per_example(alpha), color=COLORS["ls"], label=f"label smoothing, alpha = {alpha:g}")
        gap, low = L.optimal_logit_gap(K, alpha), L.minimum_loss(K, alpha)
        ax2.axhline(low, color=COLORS["ls"], ls="--", lw=0.8)
        if gap <= max_gap:
            ax2.plot([gap], [low], "o", color=COLORS["ls"])
            ax2.annotate(f"optimal gap {gap:.2f}", (gap, low), textcoords="offset points", xytext=(6, -16),
                         ha="left", color=COLORS["ls"])
    ax2.set_xlabel("logit gap g = z_true - z_other")
    ax2.set_ylabel("cross-entropy (nats)")
    ax2.set_ylim(0, max(3.0, float(per_example(0.0)[0]) * 1.05))
    ax2.set_title("loss along the logit gap")
    ax2.legend(loc="upper right")
    return fig


def draw_penalties(fig: Figure, K: int = 10, max_gap: float = 15.0) -> Figure:
    """Chapter 1: the two pulls towards uniform along the logit gap -- ``KL(u||p)`` (label smoothing)
    grows without bound, ``KL(p||u)`` (confidence penalty) saturates at ``log K``."""
    import math
    import torch
    from . import losses as L

    use_style()
    fig.set_layout_engine("constrained")
    ax = fig.subplots()
    g = torch.linspace(0, max_gap, 301, dtype=torch.float64)
    logits = torch.zeros(len(g), K, dtype=torch.float64)
    logits[:, 0] = g
    p = torch.softmax(logits, -1)
    u = torch.full_like(p, 1.0 / K)
    ax.plot(g, L.kl_divergence(u, p), color=COLORS["ls"], label="KL(u || p): label smoothing's pull")
    ax.plot(g, L.kl_divergence(p, u), color=COLORS["accent"], label="KL(p || u): the confidence penalty's pull")
    ax.axhline(math.log(K), color=COLORS["neutral"], ls=":", lw=1)
    ax.annotate(f"log K = {math.log(K):.2f}", (max_gap, math.log(K)), textcoords="offset points", xytext=(0, 4),
                ha="right", color=COLORS["neutral"])
    ax.set_xlabel("logit gap g = z_true - z_other")
    ax.set_ylabel("divergence from uniform (nats)")
    ax.set_title(f"Two ways to pull a prediction towards uniform (K = {K})")
    ax.legend(loc="upper left")
    return fig


# ---------------------------------------------------------------- chapter 2 figures
# The three classes of a projection (not hard/LS: both kinds of model are drawn with these).
TRIPLE_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c")


def _projection_panel(ax, proj, title: str | None = None, legend: bool = True) -> None:
    tc = proj.template_coords.numpy()
    for i, name in enumerate(proj.classes):
        pts = proj.coords[proj.labels == i].numpy()
        ax.scatter(pts[:, 0], pts[:, 1], s=7, alpha=0.6, color=TRIPLE_COLORS[i], label=name, linewidths=0)
    ax.plot(tc[[0, 1, 2, 0], 0], tc[[0, 1, 2, 0], 1], color="black", lw=0.8, ls=":")
    ax.scatter(tc[:, 0], tc[:, 1], marker="X", s=70, c=list(TRIPLE_COLORS), edgecolors="black", linewidths=0.8,
               zorder=5)
    ax.set_aspect("equal", adjustable="datalim")
    ax.tick_params(labelsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    if legend:
        ax.legend(loc="best", fontsize=7, markerscale=2, handletextpad=0.2)


def draw_projections(fig: Figure, projections, titles=None, suptitle: str | None = None) -> Figure:
    """Chapter 2 (Figure 1): one panel per :class:`~lsmooth_lib.geometry.Projection`, side by side.

    Dots are examples, crosses the class templates (dotted triangle).  Each panel keeps its own axis
    scale, as in the paper: the scale difference between hard targets and smoothing is part of the result.
    """
    use_style()
    fig.set_layout_engine("constrained")
    axes = fig.subplots(1, len(projections), squeeze=False)[0]
    for i, (ax, proj) in enumerate(zip(axes, projections)):
        _projection_panel(ax, proj, titles[i] if titles else None, legend=(i == 0))
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    return fig


def draw_projection_choice(fig: Figure, table: dict, alpha: float, classes: str, split: str) -> Figure:
    """Chapter 2's slider figure: the projection stored in ``table[(alpha, classes, split)]``, with its
    tightness and equidistance in the title (``table`` is precomputed, so sliders need no kernel)."""
    proj = table[(alpha, classes, split)]
    draw_projections(fig, [proj])
    fig.axes[0].set_title(f"alpha = {alpha:g}, {split}: tightness {proj.tightness:.2f}, "
                          f"equidistance {proj.equidistance:.3f}", fontsize=10)
    return fig


def draw_measures(fig: Figure, alphas, measures: dict, title: str | None = None) -> Figure:
    """Chapter 2: tightness and equidistance of the projected clusters against alpha.

    ``measures[(split, "tightness" | "equidistance")]`` is a list aligned with ``alphas``.
    """
    use_style()
    fig.set_layout_engine("constrained")
    axes = fig.subplots(1, 2)
    styles = {"train": dict(marker="o", ls="-"), "val": dict(marker="s", ls="--")}
    for ax, what, label in zip(axes, ("tightness", "equidistance"),
                               ("tightness: spread / template spacing", "equidistance: |d1 - d2| / (d1 + d2)")):
        for split, st in styles.items():
            if (split, what) in measures:
                ax.plot(alphas, measures[(split, what)], color=COLORS["ls"] if split == "train" else COLORS["hard"],
                        label="validation" if split == "val" else split, **st)
        ax.set_xlabel("label smoothing alpha")
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
        ax.legend()
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def explore_projections(project, alphas, class_names, splits=("train", "val"), classes=None, figsize=(5.5, 4.5)):
    """Chapter 2, live (Jupyter/Colab): the projection of any three classes of any trained alpha.

    ``project(alpha, classes, split)`` returns a :class:`lsmooth_lib.geometry.Projection` (e.g. from
    ``zoo.projection``); three drop-downs choose among ``class_names``, a slider the trained ``alphas``,
    buttons the split.
    """
    import ipywidgets as widgets

    names = list(class_names)
    classes = list(classes or names[:3])

    def show(alpha, first, second, third, split):
        chosen = [first, second, third]
        fig = plt.figure(figsize=figsize)
        if len(set(chosen)) < 3:
            print("Choose three different classes.")
            plt.close(fig)
            return
        draw_projection_choice(fig, {(alpha, "", split): project(alpha, chosen, split)}, alpha, "", split)
        plt.show()

    drop = [widgets.Dropdown(options=names, value=c, description=d, layout=widgets.Layout(width="15em"))
            for c, d in zip(classes, ("class 1", "class 2", "class 3"))]
    alpha = widgets.SelectionSlider(options=[(_fmt(a), a) for a in alphas], description="alpha",
                                    continuous_update=False)
    split = widgets.ToggleButtons(options=list(splits), description="split")
    return widgets.interactive(show, alpha=alpha, first=drop[0], second=drop[1], third=drop[2], split=split)


# ---------------------------------------------------------------- chapter 3 figures
def _reliability_frame(ax, n_bins: int | None = None) -> None:
    ax.plot([0, 1], [0, 1], ls="--", color="black", lw=0.8, label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("confidence" + (f" ({n_bins} bins)" if n_bins else ""))
    ax.set_ylabel("accuracy")


def draw_reliability_curves(fig: Figure, curves, n_bins: int = 15, title: str | None = None,
                            min_count: int = 1) -> Figure:
    """Chapter 3 (the paper's Figure 2): accuracy against mean confidence in each of ``n_bins`` equal-width
    bins, one line per entry of ``curves``; the dashed diagonal is perfect calibration.

    ``curves`` is a list of dicts with ``logits``, ``labels`` and ``label``, optionally ``temperature``
    (default 1) and line-style keys (``color``, ``marker``, ``ls``); a dict may give precomputed ``bins``
    (:func:`lsmooth_lib.calibration.reliability_bins`) instead of logits and labels.  Bins with fewer than ``min_count``
    examples are left out of the line (a bin of one example plots at accuracy 0 or 1); the legend gives each
    curve's ECE, which counts every bin.
    """
    from . import calibration as C

    use_style()
    fig.set_layout_engine("constrained")
    ax = fig.subplots()
    _reliability_frame(ax, n_bins)
    for c in curves:
        t = c.get("temperature", 1.0)
        b = c["bins"] if "bins" in c else C.reliability_bins(c["logits"], c["labels"], n_bins, t)
        keep = b["count"] >= max(min_count, 1)
        style = {k: c[k] for k in ("color", "marker", "ls", "lw", "markersize") if k in c}
        err = C.ece_of_bins(b)
        ax.plot(b["conf"][keep].numpy(), b["acc"][keep].numpy(), label=f"{c['label']} (ECE {err:.3f})", **style)
    ax.legend(loc="upper left", fontsize=8)
    if title:
        ax.set_title(title)
    return fig


def draw_calibration_explorer(fig: Figure, alpha: float, T: float, data: dict, n_bins: int = 15) -> Figure:
    """Chapter 3's slider figure: the reliability diagram of the model trained with ``alpha``, its logits
    divided by ``T``, and the histogram of its confidences, with ECE, NLL and accuracy in the title.

    ``data[alpha]`` is a dict with precomputed test ``logits`` and ``labels`` (and optionally ``T_fit``, the
    temperature fitted on the validation split), so the figure needs no model and no kernel-side state:
    bind ``data`` with ``functools.partial`` and hand the result to :func:`static_sliders` or :func:`live_sliders`.
    """
    import numpy as np
    import torch
    from . import calibration as C

    d = data[alpha]
    z, y = d["logits"], d["labels"]
    b = C.reliability_bins(z, y, n_bins, T)
    conf, pred = C.confidences(z, T)
    acc = float((pred == torch.as_tensor(y)).double().mean())
    err, loss = C.ece(z, y, n_bins, T), C.nll(z, y, T)
    centers = ((b["edges"][:-1] + b["edges"][1:]) / 2).numpy()
    width = 1.0 / n_bins
    filled = (b["count"] > 0).numpy()

    use_style()
    fig.set_layout_engine("none")  # a fixed layout: this figure is rendered once per slider position
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw=dict(left=0.07, right=0.98, bottom=0.14, top=0.84, wspace=0.25))
    _reliability_frame(ax1)
    accs = b["acc"].nan_to_num(0.0).numpy()
    confs = b["conf"].nan_to_num(0.0).numpy()
    ax1.bar(centers[filled], accs[filled], width=width, color=COLORS["hard"], edgecolor="white", label="accuracy in bin")
    low, gap = np.minimum(accs, confs), np.abs(confs - accs)
    ax1.bar(centers[filled], gap[filled], bottom=low[filled], width=width, facecolor="none", edgecolor=COLORS["ls"],
            hatch="///", lw=0.8, label="gap to mean confidence")
    ax1.set_title("reliability: accuracy (bars), gap (hatched)", fontsize=10)

    frac = (b["count"] / b["count"].sum()).numpy()
    ax2.bar(centers, frac, width=width, color=COLORS["neutral"], edgecolor="white")
    ax2.axvline(float(conf.mean()), color=COLORS["ls"], ls="--", label=f"mean confidence {float(conf.mean()):.1%}")
    ax2.axvline(acc, color=COLORS["hard"], label=f"accuracy {acc:.1%}")
    ax2.set_xlim(0, 1)
    ax2.set_ylim(0, 1)
    ax2.set_xlabel("confidence")
    ax2.set_ylabel("fraction of test examples")
    ax2.legend(loc="upper left", fontsize=8)
    ax2.set_title("where the confidences lie")
    fitted = f", fitted T = {d['T_fit']:.2f}" if "T_fit" in d else ""
    fig.suptitle(f"alpha = {alpha:g}, T = {T:g}{fitted}:  ECE {err:.3f}, NLL {loss:.3f}", fontsize=11)
    return fig


def draw_calibration_sweep(fig: Figure, sweeps: dict, title: str | None = None) -> Figure:
    """Chapter 3: calibration against the smoothing factor, one row of four panels per entry of ``sweeps``.

    ``sweeps[row_label]`` is a list of :func:`~lsmooth_lib.calibration.calibration_report` dicts, each with an
    extra key ``alpha``.  Panels: ECE as trained (T = 1) and after temperature scaling; the fitted T (below 1:
    the model was under-confident); NLL as trained and after scaling; accuracy (which scaling never changes).
    """
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

    use_style()
    fig.set_layout_engine("constrained")
    axes = fig.subplots(len(sweeps), 4, squeeze=False)
    raw = dict(color=COLORS["ls"], marker="o", label="as trained (T = 1)")
    ts = dict(color=COLORS["neutral"], marker="x", ls="--", label="after temperature scaling")
    for i, (row, (label, reports)) in enumerate(zip(axes, sweeps.items())):
        rs = sorted(reports, key=lambda r: r["alpha"])
        a = [r["alpha"] for r in rs]
        row[0].plot(a, [r["ece"] for r in rs], **raw)
        row[0].plot(a, [r["ece_ts"] for r in rs], **ts)
        row[0].set_ylabel(f"{label}\nECE (15 bins)")
        row[0].set_ylim(bottom=0)
        if i == 0:
            fig.legend(*row[0].get_legend_handles_labels(), loc="outside upper center", ncols=2, fontsize=9)
        temps = [r["T"] for r in rs]
        row[1].plot(a, temps, color=COLORS["ls"], marker="o")
        row[1].axhline(1.0, color="black", lw=0.8)
        row[1].set_yscale("log")
        lo, hi = min(min(temps) / 1.15, 0.8), max(max(temps) * 1.15, 1.25)
        row[1].set_ylim(lo, hi)
        row[1].yaxis.set_major_locator(FixedLocator([t for t in (0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 4, 6, 8) if lo <= t <= hi]))
        row[1].yaxis.set_minor_locator(NullLocator())
        row[1].yaxis.set_major_formatter(ScalarFormatter())
        row[1].axhspan(lo, 1.0, color=COLORS["hard"], alpha=0.08)
        row[1].text(0.03, 0.03, "T < 1: under-confident", transform=row[1].transAxes, ha="left", va="bottom", fontsize=8)
        row[1].text(0.97, 0.97, "T > 1: over-confident", transform=row[1].transAxes, ha="right", va="top", fontsize=8)
        row[1].set_ylabel("fitted temperature T")
        row[2].plot(a, [r["nll"] for r in rs], **raw)
        row[2].plot(a, [r["nll_ts"] for r in rs], **ts)
        row[2].set_ylabel("test NLL (nats)")
        accs = [100 * r["acc"] for r in rs]
        row[3].plot(a, accs, color=COLORS["ls"], marker="o")
        row[3].set_ylim(min(accs) - 3, max(accs) + 3)  # a fixed margin, so a one-point change does not look large
        row[3].set_ylabel("test accuracy (%)")
        for ax in row:
            ax.set_xlabel("label smoothing alpha")
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


# ---------------------------------------------------------------- chapter 4: translation
def draw_decoding_sweep(fig: Figure, sweeps: dict, fitted: dict | None = None, title: str | None = None) -> Figure:
    """Chapter 4 (the paper's Figure 4): BLEU and next-token ECE against the decoding temperature, one panel
    per model, and the NLL of all models in a last panel.

    ``sweeps[label]`` is a list of rows with ``temperature``, ``bleu``, ``ece`` and ``nll`` (a zoo record's
    ``decoding["rows"]``); ``fitted[label]``, if given, marks the temperature fitted on validation tokens.
    As in the paper, BLEU is blue on the left axis and ECE red on the right; the NLL panel draws label
    smoothing with markers.
    """
    use_style()
    fig.set_layout_engine("constrained")
    axes = fig.subplots(1, len(sweeps) + 1, squeeze=False)[0]
    bleus = [r["bleu"] for rows in sweeps.values() for r in rows]
    eces = [r["ece"] for rows in sweeps.values() for r in rows]
    for ax, (label, rows) in zip(axes, sweeps.items()):
        rows = sorted(rows, key=lambda r: r["temperature"])
        t = [r["temperature"] for r in rows]
        ax.plot(t, [r["bleu"] for r in rows], color=COLORS["hard"], marker="o", ms=4, label="BLEU")
        ax.set_ylim(min(bleus) - 1, max(bleus) + 1)
        ax.set_ylabel("BLEU (beam 4)", color=COLORS["hard"])
        ax2 = ax.twinx()
        ax2.plot(t, [r["ece"] for r in rows], color=COLORS["ls"], marker="s", ms=4, ls="--", label="ECE")
        ax2.set_ylim(0, max(eces) * 1.1)
        ax2.set_ylabel("next-token ECE", color=COLORS["ls"])
        ax2.grid(False)
        ax2.spines["right"].set_visible(True)
        if fitted and label in fitted:
            ax.axvline(fitted[label], color=COLORS["neutral"], lw=0.8, ls=":")
            ax.text(fitted[label], ax.get_ylim()[0], f" fitted T = {fitted[label]:.2f}", fontsize=7,
                    color=COLORS["neutral"], va="bottom")
        best = max(rows, key=lambda r: r["bleu"])
        ax.scatter([best["temperature"]], [best["bleu"]], s=90, facecolors="none", edgecolors="black", zorder=5)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("decoding temperature T")
    ax = axes[-1]
    for i, (label, rows) in enumerate(sweeps.items()):
        rows = sorted(rows, key=lambda r: r["temperature"])
        ax.plot([r["temperature"] for r in rows], [r["nll"] for r in rows], color=COLORS["ls"] if i == 0 else "black",
                marker=None if i == 0 else "o", ms=4, label=label)
    ax.set_xlabel("decoding temperature T")
    ax.set_ylabel("next-token NLL (nats)")
    ax.set_title("NLL of both models", fontsize=10)
    ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def draw_decoding_explorer(fig: Figure, T: float, data: dict, n_bins: int = 15) -> Figure:
    """Chapter 4's slider figure: at decoding temperature ``T``, the next-token reliability diagram of each
    model (left), BLEU against T with ``T`` marked (middle), and one sentence translated by each model (bottom).

    ``data[label]`` holds ``bins`` (``{T: calibration.reliability_bins(...)}`` of the next-token predictions,
    teacher forcing), ``rows`` (the zoo record's decoding sweep), ``color`` and ``examples``
    (``{T: translation}``); ``data["_source"]`` and ``data["_reference"]`` are the example's English source and
    German reference.  Everything is precomputed and small, so the figure needs no model and no logits: bind
    ``data`` with ``functools.partial`` for :func:`static_sliders` / :func:`live_sliders`.
    """
    import textwrap
    import torch

    use_style()
    fig.set_layout_engine("none")
    gs = fig.add_gridspec(2, 2, left=0.07, right=0.98, bottom=0.03, top=0.9, wspace=0.28, hspace=0.35,
                          height_ratios=[3, 1.25])
    ax1, ax2, ax3 = fig.add_subplot(gs[0, 0]), fig.add_subplot(gs[0, 1]), fig.add_subplot(gs[1, :])
    _reliability_frame(ax1)
    models = [k for k in data if not k.startswith("_")]
    for label in models:
        d = data[label]
        b = d["bins"][T]
        keep = b["count"] >= 20
        err = float(torch.nan_to_num((b["acc"] - b["conf"]).abs() * b["count"] / b["count"].sum(), nan=0.0).sum())
        ax1.plot(b["conf"][keep].numpy(), b["acc"][keep].numpy(), color=d["color"], marker="o", ms=3,
                 label=f"{label}: ECE {err:.3f}")
        rows = sorted(d["rows"], key=lambda r: r["temperature"])
        ax2.plot([r["temperature"] for r in rows], [r["bleu"] for r in rows], color=d["color"], marker="o", ms=3,
                 label=label)
        here = min(rows, key=lambda r: abs(r["temperature"] - T))
        ax2.scatter([here["temperature"]], [here["bleu"]], s=80, color=d["color"], edgecolors="black", zorder=5)
    ax1.legend(loc="upper left", fontsize=7)
    ax1.set_title("next-token reliability", fontsize=10)
    ax2.axvline(T, color="black", lw=0.8, ls=":")
    ax2.set_xlabel("decoding temperature T")
    ax2.set_ylabel("BLEU (beam 4)")
    ax2.legend(fontsize=8)
    ax2.set_title("BLEU on the test set", fontsize=10)
    ax3.axis("off")
    lines = [f"source:    {data['_source']}", f"reference: {data['_reference']}"]
    lines += [f"{label}: {data[label]['examples'][T]}" for label in models]
    ax3.text(0, 1, "\n".join(textwrap.shorten(s, 150) for s in lines), va="top", ha="left", fontsize=8,
             family="monospace", transform=ax3.transAxes)
    fig.suptitle(f"decoding temperature T = {T:g}", fontsize=11)
    return fig


# ---------------------------------------------------------------- chapter 5 figures
def _min_mean_max(ax, xs, ys_lists, **style):
    """One line through the means, with a min-max error bar at each point (the paper's Figure 5 style)."""
    import numpy as np
    mean = [float(np.mean(v)) for v in ys_lists]
    lo = [m - min(v) for m, v in zip(mean, ys_lists)]
    hi = [max(v) - m for m, v in zip(mean, ys_lists)]
    ax.errorbar(xs, mean, yerr=[lo, hi], capsize=3, **style)


def draw_distillation(fig: Figure, results: dict) -> Figure:
    """Chapter 5 (the paper's Figure 5): top, the teacher's accuracy against alpha; bottom, the student trained
    directly with label smoothing against alpha, and the students distilled from the hard-target teacher
    (temperature T, annotated) and from label-smoothing teachers (T = 1) against the equivalent smoothing gamma.
    ``results`` is :func:`lsmooth_lib.distillation.figure5_results`; error bars span min to max over seeds."""
    import numpy as np
    use_style()
    fig.set_layout_engine("constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[1, 1.6])
    if results["teacher"]:
        t = results["teacher"]
        _min_mean_max(top, list(t), [[100 * a for a in v] for v in t.values()], color=COLORS["hard"], marker="o",
                      ls="-", label="teacher (ResNet), trained with label smoothing alpha")
    top.set_ylabel("teacher test acc. (%)")
    lo, hi = top.get_ylim()
    if hi - lo < 2:  # do not blow differences smaller than a seed's noise up to the panel's height
        top.set_ylim((lo + hi) / 2 - 1, (lo + hi) / 2 + 1)
    top.legend(fontsize=8, loc="lower right")
    s = results["student"]
    _min_mean_max(bottom, list(s), [[100 * a for a in v] for v in s.values()], color="#8fbbd9", marker="o", ls="-",
                  label="student (AlexNet) trained with label smoothing: gamma = alpha")
    for group, color, label in (("from_hard", COLORS["ls"], "distilled from the hard-target teacher at temperature T"),
                                ("from_ls", COLORS["hard"], "distilled from label-smoothing teachers at T = 1")):
        pts = results[group]
        if not pts:
            continue
        xs = [float(np.mean(p["gamma"])) for p in pts.values()]
        order = np.argsort(xs)
        keys = [list(pts)[i] for i in order]
        _min_mean_max(bottom, [xs[i] for i in order], [[100 * a for a in pts[k]["acc"]] for k in keys], color=color,
                      marker="s", ls="--", label=label)
        for k, i in zip(keys, order):
            note = f"T={k:g}" if group == "from_hard" else f"alpha={k:g}"
            bottom.annotate(note, (xs[i], 100 * float(np.mean(pts[k]["acc"]))), textcoords="offset points",
                            xytext=(4, 5) if group == "from_hard" else (4, -11), fontsize=7, color=color)
    bottom.set_xlabel("equivalent label smoothing gamma")
    bottom.set_ylabel("student test acc. (%)")
    bottom.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16))  # below: never over a point
    return fig


def draw_mutual_information(fig: Figure, curves: dict, n: int, title: str | None = None) -> Figure:
    """Chapter 5 (the paper's Figure 6): the mutual-information estimate against the training step, one line per
    entry of ``curves`` (``label -> (steps, values)``, optionally a third item, the colour), with the bounds
    log N (every example distinguishable) and log 2 (only the class is left) as dotted lines."""
    import math
    use_style()
    fig.set_layout_engine("constrained")
    ax = fig.subplots()
    for label, curve in curves.items():
        steps, values = curve[0], curve[1]
        color = curve[2] if len(curve) > 2 else None
        ax.plot(steps, values, marker="o", markersize=3, label=label, color=color)
    for value, text in ((math.log(n), f"log N = log {n}"), (math.log(2), "log 2")):
        ax.axhline(value, color="black", ls=":", lw=1)
        ax.annotate(text, (0, value), textcoords="offset points", xytext=(2, 3), fontsize=8)
    ax.set_xlabel("training step")
    ax.set_ylabel("mutual information (nats)")
    ax.set_ylim(0, math.log(n) * 1.08)
    ax.legend(loc="center right", fontsize=8)
    if title:
        ax.set_title(title)
    return fig


def draw_soft_targets(fig: Figure, T: float, data: dict) -> Figure:
    """Chapter 5's slider figure: the soft targets ``softmax(z / T)`` two teachers give a few training images of
    one class, one line per image, on a log scale.  ``data`` holds ``classes`` (names), ``label`` (the images'
    class) and ``teachers``: ``{title: logits (n_images, K)}``."""
    import torch
    use_style()
    fig.set_layout_engine("constrained")
    teachers = data["teachers"]
    axes = fig.subplots(1, len(teachers), sharey=True, squeeze=False)[0]
    K = len(data["classes"])
    for ax, (title, z) in zip(axes, teachers.items()):
        p = torch.softmax(torch.as_tensor(z, dtype=torch.float64) / T, 1)
        for row in p:
            ax.plot(range(K), row.numpy(), marker="o", markersize=3, lw=1, alpha=0.8)
        ax.set_yscale("log")
        ax.set_ylim(1e-10, 1.5)
        ax.set_xticks(range(K), data["classes"], rotation=60, fontsize=7)
        ax.set_title(f"{title}, T = {T:g}", fontsize=10)
    axes[0].set_ylabel(f"teacher's probability (images of class '{data['label']}')")
    return fig


def draw_temperature_sweep(fig: Figure, sweep: dict, baselines: dict | None = None) -> Figure:
    """Chapter 6 (Chandrasegaran et al.): left, the student's test accuracy against the distillation temperature T,
    one line per teacher (``sweep`` is :func:`lsmooth_lib.distillation.temperature_sweep`), with the students
    trained without a teacher as dotted reference lines (``baselines``: ``label -> [acc, ...]``); right, the
    equivalent smoothing gamma of the teacher's targets at each T.  Error bars span min to max over seeds."""
    import numpy as np
    use_style()
    fig.set_layout_engine("constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1.5, 1])
    for alpha, points in sweep.items():
        color = COLORS["hard"] if alpha == 0 else COLORS["ls"]
        label = "teacher trained with hard targets" if alpha == 0 else f"teacher trained with alpha = {alpha:g}"
        Ts = list(points)
        _min_mean_max(left, Ts, [[100 * a for a in p["acc"]] for p in points.values()], color=color, marker="o",
                      ls="-", label=label)
        right.plot(Ts, [float(np.mean(p["gamma"])) for p in points.values()], color=color, marker="o", label=label)
    for (label, accs), ls in zip((baselines or {}).items(), (":", "-.", "--")):
        left.axhline(100 * float(np.mean(accs)), color=COLORS["neutral"], ls=ls, lw=1.2, label=label)
    all_T = sorted({T for points in sweep.values() for T in points})
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("distillation temperature T")
        ax.set_xticks(all_T, [f"{T:g}" for T in all_T])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    left.set_ylabel("student (AlexNet) test acc. (%)")
    left.set_title("students of the two teachers", fontsize=10)
    right.set_title("how smooth the teachers' targets are", fontsize=10)
    left.legend(fontsize=8, loc="best")
    right.set_ylabel("equivalent smoothing gamma of the targets")
    right.set_ylim(0, 1)
    return fig


def draw_against_alpha(fig: Figure, panels: dict, title: str | None = None) -> Figure:
    """Chapter 6: small multiples of measurements against the smoothing factor alpha, one panel per entry of
    ``panels`` (``y-axis label -> {line label: (alphas, values)}``); the first line of a panel is drawn in the
    book's label-smoothing colour, the next ones in the other role colours."""
    use_style()
    fig.set_layout_engine("constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    colors = [COLORS["ls"], COLORS["hard"], COLORS["accent"], COLORS["neutral"]]
    for ax, (ylabel, lines) in zip(axes, panels.items()):
        for (label, (alphas, values)), color, marker in zip(lines.items(), colors, "osD^"):
            ax.plot(alphas, values, marker=marker, color=color, label=label)
        ax.set_xlabel("label smoothing alpha")
        ax.set_ylabel(ylabel)
        if len(lines) > 1:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def draw_feature_norms(fig: Figure, alpha: float, norms: dict) -> Figure:
    """Chapter 6's slider figure: the histogram of penultimate-feature norms of the model trained with ``alpha``
    over the hard-target model's (``norms``: ``{alpha: 1-D array of norms}``, one entry must be alpha 0)."""
    import numpy as np
    use_style()
    fig.set_layout_engine("constrained")
    ax = fig.subplots()
    top = float(max(np.max(v) for v in norms.values()))
    bins = np.linspace(0, top * 1.02, 60)
    ax.hist(np.asarray(norms[0.0]), bins=bins, color=COLORS["hard"], alpha=0.5, label="alpha = 0 (hard targets)")
    if alpha != 0:
        ax.hist(np.asarray(norms[alpha]), bins=bins, color=COLORS["ls"], alpha=0.6, label=f"alpha = {alpha:g}")
    for a, color in ((0.0, COLORS["hard"]), (alpha, COLORS["ls"])):
        ax.axvline(float(np.mean(norms[a])), color=color, ls="--", lw=1.2)
    ax.set_xlabel("norm of the penultimate activation ||h(x)||")
    ax.set_ylabel("test images")
    ax.set_title(f"feature norms, alpha = {alpha:g} (dashed: means)")
    ax.legend()
    return fig
