"""One figure style for the whole book, and sliders that work with and without a kernel (all chapters).

* :func:`use_style` -- white figure background (readable in the book's dark mode), light grid, fonts of at
  least :data:`MIN_FONT_PT` points.
* :func:`static_sliders` -- precomputes one PNG per grid point (at least :data:`MIN_DPI` dpi) and returns
  self-contained HTML with range inputs; it needs no kernel, so the sliders move in the rendered book.
* :func:`live_sliders` -- the same drawing function behind ``ipywidgets`` controls, for Jupyter and Colab,
  starting at the same values as the static version (``initial``).

A drawing function takes a fresh ``matplotlib.figure.Figure`` plus keyword parameters and draws on it,
so the static and the live versions show exactly the same figure.

**The colour scheme** (one meaning per colour, in every figure of the book; :data:`COLORS`):

* blue (``hard``) -- hard targets (alpha = 0): a model, a teacher, the students of a hard-target teacher;
* green (``ls``) -- label smoothing (alpha > 0), green as in the paper's Figures 2 and 3; curves *against* alpha
  (a sweep that starts at alpha = 0) are green too;
* shades of green (:func:`alpha_colors`) -- several smoothing factors in one figure: light for little, dark for
  much smoothing (alpha = 0 stays blue); every shade keeps a 3:1 contrast with the white background;
* blue with crosses (``ts``, :data:`MARKERS`) -- temperature scaling: the hard-target colour, marker ``x``;
* orange (``other``) -- a method that is neither: the confidence penalty (chapter 1);
* grey (``neutral``) -- references: bounds, fitted temperatures, noise bands, histograms of all examples;
* black -- the diagonal of perfect calibration, the decoding temperature a slider shows, hatching.

The classes of a projection (chapters 2, 4, 5) are categorical and use :data:`TRIPLE_COLORS` (orange, purple,
dark grey), which no role uses.  **Line style and marker, never colour**, tell apart what one model shows in several
ways: the metric (:data:`METRIC_STYLES`: BLEU solid with dots, ECE dashed with open squares, NLL dotted with
triangles), the split (:data:`SPLIT_STYLES`: training solid with dots, validation dashed with open squares), and
several data sets or architectures in one panel (:data:`SERIES_STYLES`).  Legends sit outside the axes (below
them), never on a curve; points that would squeeze the others are drawn as arrows on the axis
(:func:`off_scale_floor`), and point labels are placed where they cover nothing (:func:`place_labels`).
"""
from __future__ import annotations

import base64
import html
import io
import itertools
import json
import math
import re
import uuid

import matplotlib
import matplotlib.ticker
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

MIN_FONT_PT = 9      # no text in a figure is smaller (slider frames included)
MIN_DPI = 100        # slider frames and figures are rendered at least this sharp
STYLE = {
    "figure.facecolor": "white", "savefig.facecolor": "white", "axes.facecolor": "white",
    "figure.dpi": MIN_DPI, "savefig.dpi": MIN_DPI, "axes.grid": True, "grid.alpha": 0.3,
    "axes.spines.top": False, "axes.spines.right": False, "font.size": 10, "axes.titlesize": 10.5,
    "axes.labelsize": 10, "xtick.labelsize": MIN_FONT_PT, "ytick.labelsize": MIN_FONT_PT,
    "legend.fontsize": MIN_FONT_PT, "figure.titlesize": 11,
    "legend.frameon": False, "figure.constrained_layout.use": True,
}
# One colour per role (see the module docstring).  "accent" is the old name of "other" (lsmooth_lib.diagnose).
COLORS = {"hard": "#1f77b4", "ls": "#2ca02c", "ts": "#1f77b4", "other": "#e6550d", "neutral": "#7f7f7f",
          "accent": "#e6550d", "ink": "black"}
MARKERS = {"hard": "o", "ls": "o", "ts": "x"}
# What one model shows in several ways: told apart by line style and marker, not by colour.
METRIC_STYLES = {"bleu": dict(ls="-", marker="o", ms=4),
                 "ece": dict(ls="--", marker="s", ms=4, mfc="white"),
                 "nll": dict(ls=":", marker="^", ms=4)}
SPLIT_STYLES = {"train": dict(ls="-", marker="o", ms=5),
                "val": dict(ls="--", marker="s", ms=5, mfc="white")}
SERIES_STYLES = (dict(ls="-", marker="o"), dict(ls="--", marker="s", mfc="white"), dict(ls=":", marker="^"),
                 dict(ls="-.", marker="D", mfc="white"))
# The three classes of a projection: categorical colours that no role uses.
TRIPLE_COLORS = ("#e66101", "#5e3c99", "#404040")
ALPHA_CMAP = "Greens"
ALPHA_SHADES = (0.65, 0.97)   # the part of the colormap used: every shade keeps a 3:1 contrast with white


def use_style() -> None:
    """Apply the book's figure style to matplotlib (white background, light grid, fonts >= 9 pt)."""
    matplotlib.rcParams.update(STYLE)


def alpha_colors(alphas) -> dict:
    """Colours for several smoothing factors in one figure: ``{alpha: colour}``.

    alpha = 0 is the hard-target blue; the positive alphas get evenly spaced shades of :data:`ALPHA_CMAP`
    (green), lightest for the smallest; a single positive alpha gets the label-smoothing green itself.
    """
    alphas = [float(a) for a in alphas]
    positive = sorted({a for a in alphas if a > 0})
    cmap = matplotlib.colormaps[ALPHA_CMAP]
    lo, hi = ALPHA_SHADES
    shade = {a: matplotlib.colors.to_hex(cmap(lo + (hi - lo) * i / max(len(positive) - 1, 1)))
             for i, a in enumerate(positive)}
    if len(positive) == 1:
        shade = {positive[0]: COLORS["ls"]}
    return {a: COLORS["hard"] if a == 0 else shade[a] for a in alphas}


_ALPHA_IN_LABEL = re.compile(r"(?:alpha|α)\s*=?\s*([0-9]*\.?[0-9]+)")


def label_alpha(label) -> float | None:
    """The smoothing factor a label names (``"label smoothing (alpha = 0.3)"`` -> 0.3, ``"hard targets"`` -> 0,
    a number -> itself), or None."""
    if isinstance(label, (int, float)):
        return float(label)
    m = _ALPHA_IN_LABEL.search(str(label))
    if m:
        return float(m.group(1))
    text = str(label).lower()
    if "hard" in text:
        return 0.0
    return None


def role_color(label) -> str:
    """The role colour of a model named by ``label`` (or given as its alpha): blue for hard targets, green for
    label smoothing, grey when the label names neither."""
    a = label_alpha(label)
    if a is None:
        return COLORS["ls"] if "smooth" in str(label).lower() else COLORS["neutral"]
    return COLORS["hard"] if a == 0 else COLORS["ls"]


def _legend_below(fig: Figure, handles=None, labels=None, ncols: int | None = None, **kw):
    """One legend for the whole figure, below the axes (constrained layout makes room for it)."""
    if handles is None:
        seen = {}
        for ax in fig.axes:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                if not lab.startswith("_") and lab not in seen:
                    seen[lab] = h
        handles, labels = list(seen.values()), list(seen)
    if not handles:
        return None
    n = len(handles)
    ncols = ncols or (n if n <= 4 else math.ceil(n / 2))
    return fig.legend(handles, labels, loc="outside lower center", ncols=ncols, **kw)


def _png(fig: Figure, dpi: int, palette: bool = False) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    data = buf.getvalue()
    if palette:  # 256 colours are plenty for a line figure and make a frame 2-3 times smaller
        from PIL import Image
        img = Image.open(io.BytesIO(data)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        out = io.BytesIO()
        img.save(out, format="PNG", optimize=True)
        data = out.getvalue()
    return "data:image/png;base64," + base64.b64encode(data).decode()


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _start_index(values: list, initial: dict | None, key: str) -> int:
    if not initial or key not in initial:
        return 0
    if initial[key] not in values:
        raise ValueError(f"initial {key} = {initial[key]!r} is not one of the slider's values {values}")
    return values.index(initial[key])


def static_sliders(draw, figsize=(7, 3.2), dpi: int = MIN_DPI, initial: dict | None = None, **grids):
    """Precomputed sliders: an HTML block with one range input per parameter and one frame per grid point.

    ``draw(fig, **params)`` is called for every combination of the values in ``grids``
    (e.g. ``alpha=[0, 0.1, 0.3], K=[2, 10, 100]``); the frames are embedded as PNGs of at least
    :data:`MIN_DPI` dpi (with a 256-colour palette, to keep the page light), so the result works in the static
    book without a kernel.  ``initial`` gives the starting values (default: the first of each grid); pass the
    same dict to :func:`live_sliders`.  Returns an ``IPython.display.HTML``.
    """
    from IPython.display import HTML

    if not grids:
        raise ValueError("static_sliders needs at least one parameter grid, e.g. alpha=[0, 0.1]")
    if dpi < MIN_DPI:
        raise ValueError(f"slider frames are drawn at dpi >= {MIN_DPI} (got {dpi}); make figsize smaller instead")
    keys = list(grids)
    values = {k: list(v) for k, v in grids.items()}
    start = [_start_index(values[k], initial, k) for k in keys]
    frames = {}
    for combo in itertools.product(*(range(len(values[k])) for k in keys)):
        fig = Figure(figsize=figsize)
        draw(fig, **{k: values[k][i] for k, i in zip(keys, combo)})
        frames["_".join(map(str, combo))] = _png(fig, dpi, palette=True)
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


def live_sliders(draw, figsize=(7, 3.2), initial: dict | None = None, **grids):
    """The same figure as :func:`static_sliders`, driven by ipywidgets in a live kernel (Jupyter, Colab).

    Each grid becomes a selection slider over exactly those values (nothing is interpolated); ``initial``
    gives the starting values, as for :func:`static_sliders` (default: the first of each grid).
    """
    import ipywidgets as widgets

    def show(**params):
        fig = plt.figure(figsize=figsize)
        draw(fig, **params)
        plt.show()

    controls = {}
    for k, vals in grids.items():
        vals = list(vals)
        controls[k] = widgets.SelectionSlider(options=[(_fmt(v), v) for v in vals],
                                              value=vals[_start_index(vals, initial, k)], description=k,
                                              continuous_update=False)
    return widgets.interactive(show, **controls)


def _renderer(fig: Figure):
    """A renderer for measuring text (attaches an Agg canvas to a bare Figure)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    if not hasattr(fig.canvas, "get_renderer"):
        FigureCanvasAgg(fig)
    return fig.canvas.get_renderer()


def _drawn_points(ax, step: float = 3.0):
    """Display coordinates of points every ``step`` pixels along the axes' lines and line collections (error bars),
    for :func:`place_labels` to keep labels off the curves."""
    import numpy as np
    paths = [ln.get_xydata() for ln in ax.get_lines() if ln.get_visible() and len(ln.get_xydata()) > 1]
    for coll in ax.collections:
        if isinstance(coll, matplotlib.collections.LineCollection):
            paths += [np.asarray(seg) for seg in coll.get_segments() if len(seg) > 1]
    out = []
    for xy in paths:
        try:
            d = ax.transData.transform(np.asarray(xy, dtype=float))
        except ValueError:
            continue
        d = d[np.isfinite(d).all(1)]
        for a, b in zip(d[:-1], d[1:]):
            n = max(int(np.hypot(*(b - a)) / step), 1)
            out.append(a + (b - a) * np.linspace(0, 1, n + 1)[:, None])
    return np.concatenate(out) if out else np.zeros((0, 2))


def place_labels(ax, items, avoid=(), offsets=None) -> list:
    """Annotate points without overlaps: ``items`` is a list of ``(x, y, text, style)``; each label takes the
    first offset (in points) whose box overlaps neither a label placed before it, nor a marker (every item's own
    point and the ``(x, y)`` data points in ``avoid``), nor a line or error bar of the axes, and stays inside the
    axes -- or, where no offset is free, the one that covers least.  Labels placed far from their point get a thin
    leader line.  Returns the annotations.

    Call it once the axes' limits are final; the figure's layout is computed (and frozen) first, so that the
    boxes measured here are the ones that are drawn.
    """
    fig = ax.figure
    renderer = _renderer(fig)
    fig.draw_without_rendering()
    fig.set_layout_engine("none")   # freeze the layout just computed: boxes measured below stay where they are
    offsets = offsets or [(5, 5), (5, -15), (-5, 5), (-5, -15), (0, 10), (0, -20), (9, -5), (-9, -5),
                          (5, 16), (5, -26), (-5, 16), (-5, -26), (14, 26), (-14, 26), (14, -36), (-14, -36),
                          (0, 30), (0, -40), (-40, 24), (40, 24), (-80, 24), (80, 24), (-80, 48), (80, 48),
                          (-40, -40), (40, -40), (0, 45), (-40, 45), (40, 45), (0, -55), (-70, -45), (70, -45),
                          (-110, 30), (110, 30), (-110, -30), (110, -30)]
    marker_r = 4.5 * fig.dpi / 72          # a marker's radius in pixels
    points = [ax.transData.transform((x, y)) for x, y, *_ in items] + [ax.transData.transform(p) for p in avoid]
    markers = [matplotlib.transforms.Bbox.from_extents(px - marker_r, py - marker_r, px + marker_r, py + marker_r)
               for px, py in points]
    curve = _drawn_points(ax)
    frame = ax.get_window_extent(renderer)

    def cost(box):   # 0: a free spot; otherwise what it would cover (labels and the frame weigh most)
        inside = ((curve[:, 0] > box.x0) & (curve[:, 0] < box.x1) & (curve[:, 1] > box.y0) & (curve[:, 1] < box.y1))
        outside = not (frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1)
        return (1000 * outside + 100 * sum(box.overlaps(b) for b in placed)
                + 10 * sum(box.overlaps(m) for m in markers) + int(inside.sum()))

    placed, out = [], []
    for x, y, text, style in items:
        best = None
        for dx, dy in offsets:
            ha = "left" if dx > 0 else "right" if dx < 0 else "center"
            far = math.hypot(dx, dy) > 20   # far from its point: a thin leader line says whose label it is
            lead = dict(arrowprops=dict(arrowstyle="-", lw=0.6, color=style.get("color", "black"), shrinkA=1,
                                        shrinkB=4)) if far else {}
            ann = ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy), ha=ha, va="bottom",
                              **style, **lead)
            # the text's own box: an Annotation's extent would include its leader line, which touches the marker
            ann.update_positions(renderer)
            box = matplotlib.text.Text.get_window_extent(ann, renderer).expanded(1.04, 1.1)
            c = cost(box)
            if best is None or c < best[0]:
                if best is not None:
                    best[1].remove()
                best = (c, ann, box)
            else:
                ann.remove()
            if c == 0:
                break
        placed.append(best[2])
        out.append(best[1])
    return out


# ---------------------------------------------------------------- chapter 1 figures
def draw_smoothing(fig: Figure, alpha: float = 0.1, K: int = 10, max_gap: float = 12.0) -> Figure:
    """Chapter 1's slider figure: the smoothed target (both conventions) and the loss along the logit gap.

    Left: target probabilities of the first classes (true class 0), the paper's alpha/K convention as filled
    green bars, alpha/(K-1) as hatched ones.  Right: the smoothed cross-entropy of a prediction whose
    true-class logit exceeds all others by ``g``, for hard targets (blue) and for ``alpha`` (green); the dot
    marks the optimal gap, the dashed line the minimum loss.
    """
    import torch
    from . import losses as L

    use_style()
    fig.set_layout_engine("constrained")
    ax1, ax2 = fig.subplots(1, 2)
    shown = min(K, 10)
    idx = torch.arange(shown)
    for shift, conv in ((-0.2, "uniform"), (0.2, "others")):
        t = L.smooth_targets(torch.zeros(1, dtype=torch.long), K, alpha, conv)[0, :shown]
        style = (dict(color=COLORS["ls"]) if conv == "uniform"
                 else dict(facecolor="white", edgecolor=COLORS["ls"], hatch="////", lw=0.8))
        ax1.bar((idx + shift).numpy(), t.numpy(), width=0.4,
                label="alpha/K (the paper)" if conv == "uniform" else "alpha/(K-1)", **style)
    ax1.set_ylim(0, 1.05)
    ax1.set_xticks(idx.numpy())
    ax1.set_xlabel("class (true class = 0)" + (f", first 10 of {K}" if K > 10 else ""))
    ax1.set_ylabel("target probability")
    p_c, p_i = L.target_probabilities(K, alpha)
    ax1.set_title(f"smoothed target, alpha = {alpha:g}, K = {K}\n(alpha/K: true {p_c:.3g}, each other {p_i:.3g})")

    g = torch.linspace(0, max_gap, 241, dtype=torch.float64)
    logits = torch.zeros(len(g), K, dtype=torch.float64)
    logits[:, 0] = g
    labels = torch.zeros(len(g), dtype=torch.long)
    per_example = lambda a: L.smoothed_cross_entropy(logits, labels, a, reduction="none")  # noqa: E731
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
    _legend_below(fig, ncols=4)
    return fig


def draw_penalties(fig: Figure, K: int = 10, max_gap: float = 15.0) -> Figure:
    """Chapter 1: the two pulls towards uniform along the logit gap -- ``KL(u||p)`` (label smoothing, green)
    grows without bound, ``KL(p||u)`` (the confidence penalty, orange) saturates at ``log K``."""
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
    ax.plot(g, L.kl_divergence(p, u), color=COLORS["other"], ls="--",
            label="KL(p || u): the confidence penalty's pull")
    ax.axhline(math.log(K), color=COLORS["neutral"], ls=":", lw=1)
    ax.annotate(f"log K = {math.log(K):.2f}", (max_gap, math.log(K)), textcoords="offset points", xytext=(0, 4),
                ha="right", color=COLORS["neutral"])
    ax.set_xlabel("logit gap g = z_true - z_other")
    ax.set_ylabel("divergence from uniform (nats)")
    ax.set_title(f"Two ways to pull a prediction towards uniform (K = {K})")
    _legend_below(fig)
    return fig


# ---------------------------------------------------------------- chapter 2 figures
def _projection_panel(ax, proj, title: str | None = None) -> None:
    tc = proj.template_coords.numpy()
    for i, name in enumerate(proj.classes):
        pts = proj.coords[proj.labels == i].numpy()
        ax.scatter(pts[:, 0], pts[:, 1], s=7, alpha=0.6, color=TRIPLE_COLORS[i], label=name, linewidths=0)
    ax.plot(tc[[0, 1, 2, 0], 0], tc[[0, 1, 2, 0], 1], color="black", lw=0.8, ls=":")
    ax.scatter(tc[:, 0], tc[:, 1], marker="X", s=70, c=list(TRIPLE_COLORS), edgecolors="black", linewidths=0.8,
               zorder=5)
    ax.set_aspect("equal", adjustable="datalim")
    if title:
        ax.set_title(title)


def _class_legend(fig: Figure, proj, **kw):
    handles = [matplotlib.lines.Line2D([], [], ls="", marker="o", ms=6, color=TRIPLE_COLORS[i], label=name)
               for i, name in enumerate(proj.classes)]
    handles.append(matplotlib.lines.Line2D([], [], ls="", marker="X", ms=8, mfc="white", mec="black",
                                           label="class templates"))
    return fig.legend(handles=handles, ncols=len(handles), handletextpad=0.2, **kw)


def draw_projections(fig: Figure, projections, titles=None, suptitle: str | None = None) -> Figure:
    """Chapter 2 (Figure 1): one panel per :class:`~lsmooth_lib.geometry.Projection`, side by side.

    Dots are examples, crosses the class templates (dotted triangle); the classes' colours are
    :data:`TRIPLE_COLORS`.  Each panel keeps its own axis scale, as in the paper: the scale difference
    between hard targets and smoothing is part of the result.
    """
    use_style()
    fig.set_layout_engine("constrained")
    axes = fig.subplots(1, len(projections), squeeze=False)[0]
    for i, (ax, proj) in enumerate(zip(axes, projections)):
        _projection_panel(ax, proj, titles[i] if titles else None)
    _class_legend(fig, projections[0], loc="outside lower center")
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def projection_limits(projections, margin: float = 0.06):
    """One square window that holds every example and template of ``projections``: ``(xlim, ylim)``."""
    import torch
    pts = torch.cat([torch.cat([p.coords, p.template_coords]) for p in projections]).double()
    lo, hi = pts.min(0).values, pts.max(0).values
    centre, half = (lo + hi) / 2, float((hi - lo).max()) / 2 * (1 + 2 * margin)
    return ((float(centre[0]) - half, float(centre[0]) + half), (float(centre[1]) - half, float(centre[1]) + half))


def draw_projection_choice(fig: Figure, table: dict, alpha: float, classes: str, split: str,
                           axes: str = "own") -> Figure:
    """Chapter 2's slider figure: the projection stored in ``table[(alpha, classes, split)]``, with its
    tightness and equidistance in the title (``table`` is precomputed, so sliders need no kernel).

    ``axes="own"`` scales the panel to its own points (the paper's convention); ``axes="fixed"`` gives every
    entry of ``table`` with these ``classes`` -- every alpha, both splits -- the same square window, so that
    moving alpha shows the clusters and the template triangle shrink.
    """
    if axes not in ("own", "fixed"):
        raise ValueError(f"axes must be 'own' or 'fixed', not {axes!r}")
    proj = table[(alpha, classes, split)]
    use_style()
    fig.set_layout_engine("none")   # one layout for every frame, so that "fixed" axes stay in place
    ax = fig.add_axes((0.13, 0.2, 0.8, 0.7))
    _projection_panel(ax, proj)
    if axes == "fixed":
        xlim, ylim = projection_limits([p for (a, c, s), p in table.items() if c == classes])
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
    scale = "same axes for every alpha" if axes == "fixed" else "own axes"
    ax.set_title(f"alpha = {alpha:g}, {split}: tightness {proj.tightness:.2f}, "
                 f"equidistance {proj.equidistance:.3f}\n({scale})")
    _class_legend(fig, proj, loc="lower center", bbox_to_anchor=(0.5, 0.0))
    return fig


def draw_measures(fig: Figure, alphas, measures: dict, title: str | None = None) -> Figure:
    """Chapter 2: tightness and equidistance of the projected clusters against alpha (green: a sweep of label
    smoothing), the training split solid with dots, the validation split dashed with open squares.

    ``measures[(split, "tightness" | "equidistance")]`` is a list aligned with ``alphas``.
    """
    use_style()
    fig.set_layout_engine("constrained")
    axes = fig.subplots(1, 2)
    for ax, what, label in zip(axes, ("tightness", "equidistance"),
                               ("tightness: spread / template spacing", "equidistance: |d1 - d2| / (d1 + d2)")):
        for split, st in SPLIT_STYLES.items():
            if (split, what) in measures:
                ax.plot(alphas, measures[(split, what)], color=COLORS["ls"],
                        label="validation" if split == "val" else "training", **st)
        ax.set_xlabel("label smoothing alpha")
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
    _legend_below(fig)
    if title:
        fig.suptitle(title)
    return fig


def explore_projections(project, alphas, class_names, splits=("train", "val"), classes=None, figsize=(5.5, 4.8),
                        alpha=None, split=None, axes: str = "own"):
    """Chapter 2, live (Jupyter/Colab): the projection of any three classes of any trained alpha.

    ``project(alpha, classes, split)`` returns a :class:`lsmooth_lib.geometry.Projection` (e.g. from
    ``zoo.projection``); three drop-downs choose among ``class_names``, a slider the trained ``alphas``,
    buttons the split and the axes (:func:`draw_projection_choice`).  ``classes``, ``alpha``, ``split`` and
    ``axes`` are the starting values (start at the static slider's).
    """
    import ipywidgets as widgets

    names = list(class_names)
    classes = list(classes or names[:3])
    cache = {}

    def get(a, chosen, s):
        key = (a, tuple(chosen), s)
        if key not in cache:
            cache[key] = project(a, chosen, s)
        return cache[key]

    def show(alpha, first, second, third, split, axes):
        chosen = [first, second, third]
        if len(set(chosen)) < 3:
            print("Choose three different classes.")
            return
        wanted = [(a, s) for a in alphas for s in splits] if axes == "fixed" else [(alpha, split)]
        table = {(a, "", s): get(a, chosen, s) for a, s in wanted}
        fig = plt.figure(figsize=figsize)
        draw_projection_choice(fig, table, alpha, "", split, axes)
        plt.show()

    drop = [widgets.Dropdown(options=names, value=c, description=d, layout=widgets.Layout(width="15em"))
            for c, d in zip(classes, ("class 1", "class 2", "class 3"))]
    alpha_w = widgets.SelectionSlider(options=[(_fmt(a), a) for a in alphas], description="alpha",
                                      value=alphas[0] if alpha is None else alpha, continuous_update=False)
    split_w = widgets.ToggleButtons(options=list(splits), value=split or splits[0], description="split")
    axes_w = widgets.ToggleButtons(options=["own", "fixed"], value=axes, description="axes")
    return widgets.interactive(show, alpha=alpha_w, first=drop[0], second=drop[1], third=drop[2], split=split_w,
                               axes=axes_w)


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
    (:func:`lsmooth_lib.calibration.reliability_bins`) instead of logits and labels.  Without a ``color`` a curve
    gets its role colour from its label (:func:`role_color`), and a temperature other than 1 the
    temperature-scaling cross.  Bins with fewer than ``min_count`` examples are left out of the line (a bin of
    one example plots at accuracy 0 or 1); the legend, below the diagram, gives each curve's ECE, which counts
    every bin.
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
        style = {"color": role_color(c["label"]), "marker": MARKERS["ts"] if t != 1.0 else "o", "markersize": 4}
        style.update({k: c[k] for k in ("color", "marker", "ls", "lw", "markersize") if k in c})
        err = C.ece_of_bins(b)
        ax.plot(b["conf"][keep].numpy(), b["acc"][keep].numpy(), label=f"{c['label']} (ECE {err:.3f})", **style)
    _legend_below(fig, ncols=1)
    if title:
        ax.set_title(title)
    return fig


def draw_calibration_explorer(fig: Figure, alpha: float, T: float, data: dict, n_bins: int = 15) -> Figure:
    """Chapter 3's slider figure: the reliability diagram of the model trained with ``alpha`` (bars in its role
    colour: blue for hard targets, green for label smoothing), its logits divided by ``T``, and the histogram of
    its confidences (grey), with ECE, NLL and accuracy in the title.

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
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw=dict(left=0.07, right=0.98, bottom=0.25, top=0.84, wspace=0.25))
    _reliability_frame(ax1)
    accs = b["acc"].nan_to_num(0.0).numpy()
    confs = b["conf"].nan_to_num(0.0).numpy()
    ax1.bar(centers[filled], accs[filled], width=width, color=role_color(alpha), edgecolor="white",
            label="accuracy in bin")
    low, gap = np.minimum(accs, confs), np.abs(confs - accs)
    ax1.bar(centers[filled], gap[filled], bottom=low[filled], width=width, facecolor="none", edgecolor="black",
            hatch="///", lw=0.6, label="gap to mean confidence")
    ax1.set_title("reliability: accuracy (bars), gap (hatched)")

    frac = (b["count"] / b["count"].sum()).numpy()
    ax2.bar(centers, frac, width=width, color=COLORS["neutral"], edgecolor="white")
    ax2.axvline(float(conf.mean()), color="black", ls="--", label=f"mean confidence {float(conf.mean()):.1%}")
    ax2.axvline(acc, color="black", ls="-", label=f"accuracy {acc:.1%}")
    ax2.set_xlim(0, 1)
    ax2.set_ylim(0, 1)
    ax2.set_xlabel("confidence")
    ax2.set_ylabel("fraction of test examples")
    ax2.set_title("where the confidences lie")
    handles, labels = [], []
    for ax in (ax1, ax2):
        h, lab = ax.get_legend_handles_labels()
        handles += h
        labels += lab
    fig.legend(handles, labels, loc="lower center", ncols=3, bbox_to_anchor=(0.5, 0.0))
    fitted = f", fitted T = {d['T_fit']:.2f}" if "T_fit" in d else ""
    fig.suptitle(f"alpha = {alpha:g}, T = {T:g}{fitted}:  ECE {err:.3f}, NLL {loss:.3f}")
    return fig


def draw_calibration_sweep(fig: Figure, sweeps: dict, title: str | None = None,
                           seeds: dict | None = None) -> Figure:
    """Chapter 3: calibration against the smoothing factor, one row of four panels per entry of ``sweeps``.

    ``sweeps[row_label]`` is a list of :func:`~lsmooth_lib.calibration.calibration_report` dicts, each with an
    extra key ``alpha``.  Panels: ECE as trained (T = 1, solid with dots) and after temperature scaling (dashed
    with crosses); the fitted T (below 1: the model was under-confident); NLL as trained and after scaling;
    accuracy (which scaling never changes).  Every line is green: a sweep of label smoothing.  ``seeds[row_label]``
    (optional) holds more reports of the same kind -- other seeds -- drawn as small faded markers of the same
    shape beside the lines: the seed spread.
    """
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

    use_style()
    fig.set_layout_engine("constrained")
    axes = fig.subplots(len(sweeps), 4, squeeze=False)
    raw = dict(color=COLORS["ls"], marker="o", label="as trained (T = 1)")
    ts = dict(color=COLORS["ls"], marker=MARKERS["ts"], ls="--", label="after temperature scaling")
    for i, (row, (label, reports)) in enumerate(zip(axes, sweeps.items())):
        rs = sorted(reports, key=lambda r: r["alpha"])
        a = [r["alpha"] for r in rs]
        row[0].plot(a, [r["ece"] for r in rs], **raw)
        row[0].plot(a, [r["ece_ts"] for r in rs], **ts)
        row[0].set_ylabel(f"{label}\nECE (15 bins)")
        more = (seeds or {}).get(label, [])   # other seeds: drawn below, counted in the axes' limits here
        row[0].set_ylim(0, 1.05 * max(r[k] for r in rs + more for k in ("ece", "ece_ts")))
        temps = [r["T"] for r in rs]
        row[1].plot(a, temps, color=COLORS["ls"], marker="o")
        temps = temps + [r["T"] for r in more]
        row[1].axhline(1.0, color="black", lw=0.8)
        row[1].set_yscale("log")
        lo, hi = min(min(temps) / 1.15, 0.8), max(max(temps) * 1.15, 1.25)
        row[1].set_ylim(lo, hi)
        ticks = [t for t in (0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 4, 6, 8) if lo <= t <= hi]
        row[1].yaxis.set_major_locator(FixedLocator(ticks))
        row[1].yaxis.set_minor_locator(NullLocator())
        row[1].yaxis.set_major_formatter(ScalarFormatter())
        row[1].axhspan(lo, 1.0, color=COLORS["neutral"], alpha=0.1)
        row[1].text(0.03, 0.03, "T < 1: under-confident", transform=row[1].transAxes, ha="left", va="bottom")
        row[1].text(0.97, 0.97, "T > 1: over-confident", transform=row[1].transAxes, ha="right", va="top")
        row[1].set_ylabel("fitted temperature T")
        row[2].plot(a, [r["nll"] for r in rs], **raw)
        row[2].plot(a, [r["nll_ts"] for r in rs], **ts)
        row[2].set_ylabel("test NLL (nats)")
        accs = [100 * r["acc"] for r in rs]
        row[3].plot(a, accs, color=COLORS["ls"], marker="o")
        if more:
            dots = dict(color=COLORS["ls"], s=14, alpha=0.55, zorder=3, marker="o")
            sa = [r["alpha"] for r in more]
            row[0].scatter(sa, [r["ece"] for r in more], **dots, label="other seeds (small)")
            row[0].scatter(sa, [r["ece_ts"] for r in more], **dict(dots, marker=MARKERS["ts"]))
            row[1].scatter(sa, [r["T"] for r in more], **dots)
            row[2].scatter(sa, [r["nll"] for r in more], **dots)
            row[2].scatter(sa, [r["nll_ts"] for r in more], **dict(dots, marker=MARKERS["ts"]))
            row[3].scatter(sa, [100 * r["acc"] for r in more], **dots)
            accs = accs + [100 * r["acc"] for r in more]
        row[3].set_ylim(min(accs) - 3, max(accs) + 3)  # a fixed margin, so a one-point change does not look large
        row[3].set_ylabel("test accuracy (%)")
        for ax in row:
            ax.set_xlabel("label smoothing alpha")
    handles = {}
    for row in axes:
        handles.update(zip(*reversed(row[0].get_legend_handles_labels())))
    fig.legend(list(handles.values()), list(handles), loc="outside upper center", ncols=len(handles))
    if title:
        fig.suptitle(title)
    return fig


# ---------------------------------------------------------------- chapter 4: translation
def _per_seed(rows_or_seeds) -> list:
    """``[rows]`` for one seed's sweep (a list of row dicts), the list itself for several seeds' sweeps; each sweep
    sorted by temperature."""
    seeds = [rows_or_seeds] if rows_or_seeds and isinstance(rows_or_seeds[0], dict) else list(rows_or_seeds)
    return [sorted(rows, key=lambda r: r["temperature"]) for rows in seeds]


def draw_decoding_sweep(fig: Figure, sweeps: dict, fitted: dict | None = None, title: str | None = None,
                        colors: dict | None = None) -> Figure:
    """Chapter 4 (the paper's Figure 4): BLEU and next-token ECE against the decoding temperature, one panel
    per model, and the NLL of all models in a last panel.

    ``sweeps[label]`` is one model's sweep -- a list of rows with ``temperature``, ``bleu``, ``ece`` and ``nll`` (a
    zoo record's ``decoding["rows"]``) -- or a list of such sweeps, one per seed: then each seed's BLEU and NLL are
    thin lines and the thick lines are the means over seeds (the seed spread in the figure).  ``fitted[label]``, if
    given, marks the temperature fitted on validation tokens (dotted grey line, value in the panel's title; the
    mean over seeds if given a list).  Colour is the model (``colors[label]``, default its role colour: blue hard
    targets, green label smoothing); the metric is the line style (:data:`METRIC_STYLES`): BLEU solid with dots on
    the left axis, ECE dashed with open squares on the right axis, NLL dotted with triangles.  An open black circle
    marks each model's best (mean) BLEU.
    """
    import numpy as np
    from .translation import mean_sweep
    use_style()
    fig.set_layout_engine("constrained")
    seeds = {label: _per_seed(v) for label, v in sweeps.items()}
    means = {label: mean_sweep(runs) for label, runs in seeds.items()}   # {T: means over seeds}
    axes = fig.subplots(1, len(sweeps) + 1, squeeze=False)[0]
    colors = {label: (colors or {}).get(label) or role_color(label) for label in sweeps}
    bleus = [r["bleu"] for s in seeds.values() for rows in s for r in rows]
    eces = [r["ece"] for s in seeds.values() for rows in s for r in rows]
    thin = dict(lw=0.8, alpha=0.45, marker=None)
    handles = {}
    for ax, (label, runs) in zip(axes, seeds.items()):
        c = colors[label]
        t = list(means[label])
        bleu = [means[label][x]["bleu"] for x in t]
        if len(runs) > 1:
            for rows in runs:
                ax.plot([r["temperature"] for r in rows], [r["bleu"] for r in rows], color=c, ls="-", **thin)
        ax.plot(t, bleu, color=c, **METRIC_STYLES["bleu"])
        ax.set_ylim(min(bleus) - 1, max(bleus) + 1)
        ax.set_ylabel("BLEU (beam 4), solid" + (f", mean of {len(runs)} seeds" if len(runs) > 1 else ""))
        ax2 = ax.twinx()
        ax2.plot(t, [means[label][x]["ece"] for x in t], color=c, **METRIC_STYLES["ece"])
        ax2.set_ylim(0, max(eces) * 1.1)
        ax2.set_ylabel("next-token ECE, dashed")
        ax2.grid(False)
        ax2.spines["right"].set_visible(True)
        name = label
        if fitted and label in fitted:
            ft = float(np.mean(fitted[label]))
            handles["fitted temperature"] = ax.axvline(ft, color=COLORS["neutral"], lw=1, ls=":")
            name += f" (fitted T = {ft:.2f})"
        best = int(np.argmax(bleu))
        handles["best BLEU"] = ax.scatter([t[best]], [bleu[best]], s=110, facecolors="none",
                                          edgecolors="black", zorder=5)
        ax.set_title(name, color=c)
        ax.set_xlabel("decoding temperature T")
    ax = axes[-1]
    for label, runs in seeds.items():
        if len(runs) > 1:
            for rows in runs:
                ax.plot([r["temperature"] for r in rows], [r["nll"] for r in rows], color=colors[label], ls=":",
                        **thin)
        ax.plot(list(means[label]), [m["nll"] for m in means[label].values()], color=colors[label], label=label,
                **METRIC_STYLES["nll"])
    ax.set_xlabel("decoding temperature T")
    ax.set_ylabel("next-token NLL (nats), dotted")
    ax.set_title("NLL of both models")
    # the legend tells metrics and seeds apart by line style, in neutral black; colour names the model
    key = lambda **style: matplotlib.lines.Line2D([], [], color="black", **style)  # noqa: E731
    handles = {**({"one seed (thin)": key(ls="-", **thin)} if any(len(r) > 1 for r in seeds.values()) else {}),
               "BLEU (left axis)": key(**METRIC_STYLES["bleu"]),
               "next-token ECE (right axis)": key(**METRIC_STYLES["ece"]), **handles}
    for label in sweeps:
        handles[label] = matplotlib.patches.Patch(color=colors[label])
    _legend_below(fig, list(handles.values()), list(handles), ncols=min(len(handles), 4))
    if title:
        fig.suptitle(title)
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
    fig.set_layout_engine("none")   # one layout for every frame
    ax1 = fig.add_axes((0.08, 0.43, 0.38, 0.47))
    ax2 = fig.add_axes((0.58, 0.43, 0.4, 0.47))
    ax3 = fig.add_axes((0.0, 0.0, 1.0, 0.24))
    _reliability_frame(ax1)
    models = [k for k in data if not k.startswith("_")]
    handles, labels = [], []
    for label in models:
        d = data[label]
        color = d.get("color") or role_color(label)
        b = d["bins"][T]
        keep = b["count"] >= 20
        err = float(torch.nan_to_num((b["acc"] - b["conf"]).abs() * b["count"] / b["count"].sum(), nan=0.0).sum())
        line, = ax1.plot(b["conf"][keep].numpy(), b["acc"][keep].numpy(), color=color, marker="o", ms=3)
        handles.append(line)
        labels.append(f"{label}: next-token ECE {err:.3f}")
        rows = sorted(d["rows"], key=lambda r: r["temperature"])
        ax2.plot([r["temperature"] for r in rows], [r["bleu"] for r in rows], color=color, marker="o", ms=3)
        here = min(rows, key=lambda r: abs(r["temperature"] - T))
        ax2.scatter([here["temperature"]], [here["bleu"]], s=80, color=color, edgecolors="black", zorder=5)
    fig.legend(handles, labels, loc="center", bbox_to_anchor=(0.5, 0.27), ncols=len(handles))
    ax1.set_title("next-token reliability")
    ax1.set_xlabel("confidence (next token)")
    ax2.axvline(T, color="black", lw=0.8, ls=":")
    ax2.set_xlabel("decoding temperature T")
    ax2.set_ylabel("BLEU (beam 4)")
    ax2.set_title("BLEU on the test set")
    ax3.axis("off")
    lines = [("source", data["_source"], "black"), ("reference", data["_reference"], "black")]
    lines += [(label, data[label]["examples"][T], data[label].get("color") or role_color(label)) for label in models]
    width = max(len(name) for name, *_ in lines) + 2
    y = 0.95
    for name, sentence, color in lines:
        wrapped = textwrap.wrap(sentence, 112 - width) or [""]
        text = "\n".join([f"{name + ':':{width}s}{wrapped[0]}"] + [" " * width + w for w in wrapped[1:]])
        ax3.text(0.04, y, text, va="top", ha="left", fontsize=MIN_FONT_PT, family="monospace", color=color,
                 transform=ax3.transAxes)
        y -= 0.2 * len(wrapped)
    fig.suptitle(f"decoding temperature T = {T:g}")
    return fig


# ---------------------------------------------------------------- chapter 5 figures
def _min_mean_max(ax, xs, ys_lists, **style):
    """One line through the means, with a min-max error bar at each point (the paper's Figure 5 style)."""
    import numpy as np
    mean = [float(np.mean(v)) for v in ys_lists]
    lo = [m - min(v) for m, v in zip(mean, ys_lists)]
    hi = [max(v) - m for m, v in zip(mean, ys_lists)]
    ax.errorbar(xs, mean, yerr=[lo, hi], capsize=3, **style)
    return mean


def off_scale_floor(values, k: float = 3.0, min_iqr: float = 0.5) -> float:
    """The lowest value an axis must show: ``Q1 - k * IQR`` of ``values`` (the IQR at least ``min_iqr``).
    Points below it are drawn as arrows on the axis, with their value, instead of squeezing the others."""
    import numpy as np
    q1, q3 = np.percentile(np.asarray(values, dtype=float), [25, 75])
    return float(q1 - k * max(q3 - q1, min_iqr))


def draw_distillation(fig: Figure, results: dict) -> Figure:
    """Chapter 5 (the paper's Figure 5): top, the teacher's accuracy against alpha; bottom, the student trained
    directly with label smoothing against alpha (green, solid), and the students distilled from the hard-target
    teacher (blue, dashed, open squares; temperature T annotated) and from label-smoothing teachers (green,
    dashed, open diamonds; T = 1, teacher's alpha annotated) against the equivalent smoothing gamma.
    ``results`` is :func:`lsmooth_lib.distillation.figure5_results`; error bars span min to max over seeds.

    The student axis shows the bulk of the points: a point far below the others (:func:`off_scale_floor`) is an
    arrow on the axis, labelled with its value.  The teacher panel has the same scale (points of accuracy per
    inch) as the student panel, so that differences of a single seed look as small as they are.
    """
    import numpy as np
    use_style()
    fig.set_layout_engine("constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[1, 2])
    series = []   # (xs, per-seed accuracies in %, style, labels of the points)
    s = results["student"]
    series.append((list(s), [[100 * a for a in v] for v in s.values()],
                   dict(color=COLORS["ls"], marker="o", ls="-",
                        label="student (AlexNet) trained with label smoothing: gamma = alpha"),
                   [f"alpha={a:g}" for a in s]))
    for group, style, label in (
            ("from_hard", dict(color=COLORS["hard"], marker="s", ls="--", mfc="white"),
             "distilled from the hard-target teacher at temperature T"),
            ("from_ls", dict(color=COLORS["ls"], marker="D", ls="--", mfc="white"),
             "distilled from label-smoothing teachers (alpha) at T = 1")):
        pts = results[group]
        if not pts:
            continue
        xs = [float(np.mean(p["gamma"])) for p in pts.values()]
        order = np.argsort(xs)
        keys = [list(pts)[i] for i in order]
        notes = [f"T={k:g}" if group == "from_hard" else f"teacher alpha={k:g}" for k in keys]
        series.append(([xs[i] for i in order], [[100 * a for a in pts[k]["acc"]] for k in keys],
                       dict(style, label=label), notes))
    means = [float(np.mean(v)) for _, ys, _, _ in series for v in ys]
    floor = off_scale_floor(means)
    shown = [(min(v), max(v)) for _, ys, _, _ in series for v in ys if np.mean(v) >= floor]
    lo, hi = min(a for a, _ in shown), max(b for _, b in shown)
    pad = 0.08 * (hi - lo) + 0.2
    ylim = (lo - pad, hi + pad)
    labels, markers = [], []
    for k, (xs, ys, style, notes) in enumerate(series):
        mean = _min_mean_max(bottom, xs, ys, **style)
        for x, m, note in zip(xs, mean, notes):
            if m < ylim[0]:   # off the axis: an arrow at the bottom edge, with the value
                bottom.plot([x], [ylim[0]], marker="v", ms=8, color=style["color"], clip_on=False, zorder=6)
                labels.append((x, ylim[0], f"{note}: {m:.1f} % (off scale)", dict(color=style["color"])))
            elif k > 0:   # the distilled students: name each point
                labels.append((x, m, note, dict(color=style["color"])))
            markers.append((x, max(m, ylim[0])))
    bottom.set_ylim(*ylim)
    bottom.set_xlabel("equivalent label smoothing gamma (top: the teacher's alpha)")
    bottom.set_ylabel("student test acc. (%)")

    if results["teacher"]:
        t = results["teacher"]
        _min_mean_max(top, list(t), [[100 * a for a in v] for v in t.values()], color=COLORS["ls"],
                      marker="o", ls="-")
        seeds = max(len(v) for v in t.values())
        top.set_title("teachers (ResNet-20) trained with label smoothing alpha, "
                      + ("one seed each" if seeds == 1 else f"up to {seeds} seeds"))
        fig.draw_without_rendering()   # the axes' heights, to give both panels the same points per inch
        h_top, h_bottom = top.get_position().height, bottom.get_position().height
        span = (ylim[1] - ylim[0]) * h_top / h_bottom
        t_lo = min(100 * min(v) for v in t.values())
        t_hi = max(100 * max(v) for v in t.values())
        span = max(span, (t_hi - t_lo) * 1.2)
        centre = (t_lo + t_hi) / 2
        top.set_ylim(centre - span / 2, centre + span / 2)
    top.set_ylabel("teacher\ntest acc. (%)")
    _legend_below(fig, ncols=1)
    place_labels(bottom, labels, avoid=markers)
    return fig


def draw_mutual_information(fig: Figure, curves: dict, n: int, title: str | None = None) -> Figure:
    """Chapter 5 (the paper's Figure 6): the mutual-information estimate against the training step, one line per
    entry of ``curves`` (``label -> (steps, values)``, optionally a third item, the colour).  Without a colour,
    a curve's colour comes from the alpha its label names (:func:`alpha_colors`: blue hard targets, greens
    from light to dark for more smoothing); each curve also has its own marker and line style.

    The y-axis spans the curves and the lower bound log 2 (only the class is left, dotted); the upper bound
    log N (every example distinguishable) lies far above it and is named in the legend, not drawn, so that the
    curves are not squashed into the bottom of the panel.
    """
    use_style()
    fig.set_layout_engine("constrained")
    ax = fig.subplots()
    named = {label: label_alpha(label) for label in curves}
    auto = alpha_colors([a for a in named.values() if a is not None])
    values = [math.log(2)]
    for (label, curve), style in zip(curves.items(), itertools.cycle(SERIES_STYLES)):
        steps, vals = curve[0], curve[1]
        color = curve[2] if len(curve) > 2 and curve[2] else auto.get(named[label], COLORS["neutral"])
        ax.plot(steps, vals, color=color, ms=3.5, label=label, **style)
        values += [float(v) for v in vals]
    lo, hi = min(values), max(values)
    pad = 0.08 * (hi - lo)
    top = hi + pad
    if math.log(n) <= top + 3 * pad:
        top = math.log(n) + pad
    ax.set_ylim(lo - pad, top)
    handles, labels = ax.get_legend_handles_labels()
    handles.append(ax.axhline(math.log(2), color="black", ls=":", lw=1))
    labels.append(f"log 2 = {math.log(2):.2f}: only the class is left")
    if math.log(n) <= top:
        handles.append(ax.axhline(math.log(n), color="black", ls="-.", lw=1))
        labels.append(f"log N = log {n} = {math.log(n):.2f}: every example told apart")
    else:
        handles.append(matplotlib.lines.Line2D([], [], ls="", marker=r"$\uparrow$", color="black"))
        labels.append(f"log N = log {n} = {math.log(n):.2f} (every example told apart): far above")
    ax.set_xlabel("training step")
    ax.set_ylabel("mutual information (nats)")
    _legend_below(fig, handles, labels, ncols=2)
    if title:
        ax.set_title(title)
    return fig


def draw_soft_targets(fig: Figure, T: float, data: dict) -> Figure:
    """Chapter 5's slider figure: the soft targets ``softmax(z / T)`` two teachers give a few training images of
    one class, one line per image, on a log scale, in the teacher's role colour (from its title).  ``data``
    holds ``classes`` (names), ``label`` (the images' class) and ``teachers``: ``{title: logits (n_images, K)}``."""
    import torch
    use_style()
    fig.set_layout_engine("constrained")
    teachers = data["teachers"]
    axes = fig.subplots(1, len(teachers), sharey=True, squeeze=False)[0]
    K = len(data["classes"])
    for ax, (title, z) in zip(axes, teachers.items()):
        p = torch.softmax(torch.as_tensor(z, dtype=torch.float64) / T, 1)
        for row in p:
            ax.plot(range(K), row.numpy(), marker="o", markersize=3, lw=1, alpha=0.75, color=role_color(title))
        ax.set_yscale("log")
        ax.set_ylim(1e-10, 1.5)
        ax.set_xticks(range(K), data["classes"], rotation=60)
        ax.set_title(f"{title}, T = {T:g}", color=role_color(title))
    axes[0].set_ylabel(f"teacher's probability\n(images of class '{data['label']}')")
    return fig


def draw_temperature_sweep(fig: Figure, sweep: dict, baselines: dict | None = None) -> Figure:
    """Chapter 6 (Chandrasegaran et al.): left, the student's test accuracy against the distillation temperature T,
    one line per teacher (``sweep`` is :func:`lsmooth_lib.distillation.temperature_sweep`; blue: the hard-target
    teacher, green: label-smoothing teachers), with the students trained without a teacher as reference lines in
    their role colours (``baselines``: ``label -> [acc, ...]``; dotted, then dash-dotted); right, the equivalent
    smoothing gamma of the teacher's targets at each T.  Error bars span min to max over seeds."""
    import numpy as np
    use_style()
    fig.set_layout_engine("constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1.5, 1])
    colors = alpha_colors(list(sweep))
    for alpha, points in sweep.items():
        label = "teacher trained with hard targets" if alpha == 0 else f"teacher trained with alpha = {alpha:g}"
        Ts = list(points)
        _min_mean_max(left, Ts, [[100 * a for a in p["acc"]] for p in points.values()], color=colors[float(alpha)],
                      marker="o", ls="-", label=label)
        right.plot(Ts, [float(np.mean(p["gamma"])) for p in points.values()], color=colors[float(alpha)],
                   marker="o")
    for (label, accs), ls in zip((baselines or {}).items(), (":", "-.", "--")):
        left.axhline(100 * float(np.mean(accs)), color=role_color(label), ls=ls, lw=1.4,
                     label=f"{label} ({len(accs)} seeds)" if len(accs) > 1 else label)
    all_T = sorted({T for points in sweep.values() for T in points})
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("distillation temperature T")
        ax.set_xticks(all_T, [f"{T:g}" for T in all_T])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    left.set_ylabel("student (AlexNet) test acc. (%)")
    left.set_title("students of the two teachers")
    right.set_title("how smooth the teachers' targets are")
    right.set_ylabel("equivalent smoothing gamma")
    right.set_ylim(0, 1)
    _legend_below(fig, ncols=2)
    return fig


def draw_against_alpha(fig: Figure, panels: dict, title: str | None = None) -> Figure:
    """Chapter 6: small multiples of measurements against the smoothing factor alpha, one panel per entry of
    ``panels`` (``y-axis label -> {line label: (alphas, values)}``).  Every line is green (a sweep of label
    smoothing); a line label keeps one line style and marker (:data:`SERIES_STYLES`) in every panel.  An alpha that
    appears more than once (several seeds) is drawn as the mean on the line, each seed a small dot beside it."""
    use_style()
    fig.set_layout_engine("constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    names = list(dict.fromkeys(label for lines in panels.values() for label in lines))
    styles = dict(zip(names, itertools.cycle(SERIES_STYLES)))
    for ax, (ylabel, lines) in zip(axes, panels.items()):
        for label, (alphas, values) in lines.items():
            seeds: dict = {}
            for a, v in zip(alphas, values):
                seeds.setdefault(float(a), []).append(float(v))
            xs = sorted(seeds)
            ax.plot(xs, [sum(seeds[a]) / len(seeds[a]) for a in xs], color=COLORS["ls"], label=label,
                    **styles[label])
            if any(len(v) > 1 for v in seeds.values()):
                ax.plot([a for a in xs for _ in seeds[a]], [v for a in xs for v in seeds[a]], ls="", marker=".",
                        ms=5, alpha=0.55, color=COLORS["ls"])
        ax.set_xlabel("label smoothing alpha")
        ax.set_ylabel(ylabel)
    if len(names) > 1:
        _legend_below(fig)
    if title:
        fig.suptitle(title)
    return fig


def draw_feature_norms(fig: Figure, alpha: float, norms: dict) -> Figure:
    """Chapter 6's slider figure: the histogram of penultimate-feature norms of the model trained with ``alpha``
    (green) over the hard-target model's (blue; ``norms``: ``{alpha: 1-D array of norms}``, one entry must be
    alpha 0), with each model's mean dashed."""
    import numpy as np
    use_style()
    fig.set_layout_engine("constrained")
    ax = fig.subplots()
    top = float(max(np.max(v) for v in norms.values()))
    bins = np.linspace(0, top * 1.02, 60)
    ax.hist(np.asarray(norms[0.0]), bins=bins, color=COLORS["hard"], alpha=0.5, label="alpha = 0 (hard targets)")
    if alpha != 0:
        ax.hist(np.asarray(norms[alpha]), bins=bins, color=COLORS["ls"], alpha=0.6, label=f"alpha = {alpha:g}")
    for a, color in ((0.0, COLORS["hard"]), (alpha, role_color(alpha))):
        ax.axvline(float(np.mean(norms[a])), color=color, ls="--", lw=1.2)
    ax.set_xlabel("norm of the penultimate activation ||h(x)||")
    ax.set_ylabel("test images")
    ax.set_title(f"feature norms, alpha = {alpha:g} (dashed: means)")
    _legend_below(fig)
    return fig


def draw_risk_coverage(fig: Figure, curves: dict, title: str | None = None) -> Figure:
    """Chapter 6 (selective classification): risk against coverage, one line per entry of ``curves``
    (``label -> lsmooth_lib.selective.risk_coverage(...)``).  The colour is the model's role (the alpha in the label:
    blue hard targets, green label smoothing); the confidence is told by the line style: solid for the maximum softmax
    probability, dashed where the label says "normalised".  Dotted grey: the best ranking the error rate allows (the
    floor of the AURC), for each distinct error rate."""
    import numpy as np
    use_style()
    fig.set_layout_engine("constrained")
    ax = fig.subplots()
    floors = {}
    for label, c in curves.items():
        ls = "--" if "normalis" in label else "-"
        ax.plot(c["coverage"].numpy(), c["risk"].numpy(), ls=ls, lw=1.6, color=role_color(label),
                label=f"{label}: AURC {c['aurc']:.4f}")
        floors.setdefault(round(c["error"], 4), len(c["coverage"]))
    for e, n in floors.items():
        k = np.arange(1, n + 1)
        ax.plot(k / n, np.clip(k - (1 - e) * n, 0, None) / k, ls=":", color=COLORS["neutral"], lw=1)
    ax.plot([], [], ls=":", color=COLORS["neutral"], label="perfect ranking (the floor of the AURC)")
    ax.set_xlim(0, 1)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("coverage (fraction of test images answered)")
    ax.set_ylabel("risk (error rate among the answered)")
    _legend_below(fig, ncols=1)
    if title:
        ax.set_title(title)
    return fig
