"""The paper's claims, one function each, checked on the zoo (appendix A, the chapters and the tests call these).

Every public ``figure*``/``table*``/``mnist_*`` function returns a :class:`Claim`: the paper's value and setting
(from :mod:`lsmooth_lib.paper`), our setting (model, data, epochs, train accuracy), our values per seed, the effect
(signed so that **positive = the paper's direction**), its noise, the number of seeds, and a verdict decided by
:func:`verdict`, one rule for every claim:

* ``not reproducible here`` -- the data or compute is out of reach (ImageNet, WMT, other papers' systems);
* ``inconclusive`` -- fewer than 3 seeds on either side, or an under-fit substitute (train accuracy below 99 %)
  where the claim assumes a network that fits its training set, or an effect within its noise;
* ``reproduced`` -- the effect clears its noise in the paper's direction, in the paper's own setting (its
  architecture and data: the GPU preset);
* ``reproduced in kind`` -- the same, on a smaller substitute (the CPU presets);
* ``not reproduced`` -- the effect clears its noise in the opposite direction.

The noise is twice the standard error of the effect over seeds (:func:`noise`).  Claims that something does *not*
differ ("similar accuracy", "no better than") use an equivalence rule with a margin the claim states.

Entries are found with :func:`lsmooth_lib.zoo.select` (trained entries only, never by parsing names); where both
presets are trained, a claim uses the one closest to the paper that has the seeds to decide it (:func:`select_groups`;
:func:`on_preset` reads one preset only).  A claim with no trained
entry is ``inconclusive`` with 0 seeds.  ``python -m lsmooth_lib claims [--json] [PATTERN]`` prints the table.
"""
from __future__ import annotations

import json
import math
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import numpy as np

from . import calibration as C, data as D, paper as P, zoo
from .distillation import label_smoothing_baseline
from .snapshot import PROBE_CLASSES

REPRODUCED = "reproduced"
IN_KIND = "reproduced in kind"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
NOT_HERE = "not reproducible here"
VERDICTS = (REPRODUCED, IN_KIND, NOT_REPRODUCED, INCONCLUSIVE, NOT_HERE)
KINDS = ("direction", "equivalence", "no_better")
MIN_SEEDS = 3    # fewer seeds on either side: inconclusive
FIT_ACC = 0.99   # a network "fits its training set" at this train accuracy or above
PRESETS = ("gpu", "cpu")  # closest to the paper first
JSON_KEYS = ("id", "claim", "paper", "setting", "values", "n_seeds", "effect", "noise", "verdict")


# ---------------------------------------------------------------- the rule
def noise(a, b=None) -> float:
    """Twice the standard error of an effect over seeds (sample standard deviations, ``ddof=1``).

    ``noise(a, b)``: the effect ``mean(b) - mean(a)`` of two independent groups, Welch's
    ``2 sqrt(s_a^2 / n_a + s_b^2 / n_b)``.  ``noise(d)``: the effect ``mean(d)`` of one group of per-seed values
    (e.g. paired differences), ``2 s_d / sqrt(n)``.  ``nan`` where a group has fewer than 2 values."""
    groups = [np.asarray(g, dtype=float) for g in ((a,) if b is None else (a, b))]
    if any(len(g) < 2 for g in groups):
        return float("nan")
    return float(2 * math.sqrt(sum(g.var(ddof=1) / len(g) for g in groups)))


def _rule(effect, noise, n_seeds, *, kind="direction", margin=None, same_setting=False, fitted=True,
          available=True) -> tuple[str, str]:
    """:func:`verdict` and the reason for it, in a few words (the claim's note)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    if kind != "direction" and not (margin is not None and margin > 0):
        raise ValueError(f"a {kind!r} claim needs a positive margin; got {margin!r}")
    if not available:
        return NOT_HERE, "data or compute out of reach here"
    why = []
    if n_seeds < MIN_SEEDS:
        why.append(f"{n_seeds} seed{'' if n_seeds == 1 else 's'} (fewer than {MIN_SEEDS})")
    if not fitted:
        why.append("under-fit substitute")
    if why:
        return INCONCLUSIVE, "; ".join(why)
    if effect is None or noise is None or not (math.isfinite(effect) and math.isfinite(noise)):
        return INCONCLUSIVE, "no noise estimate"
    ok = REPRODUCED if same_setting else IN_KIND
    if kind == "direction":
        if effect > noise:
            return ok, "effect above its noise"
        if effect < -noise:
            return NOT_REPRODUCED, "the opposite effect, above its noise"
        return INCONCLUSIVE, "within noise"
    size = abs(effect) if kind == "equivalence" else effect
    if size + noise <= margin:
        return ok, f"difference and noise within the margin {margin:g}"
    if size - noise > margin:
        return NOT_REPRODUCED, f"difference beyond the margin {margin:g}, above its noise"
    return INCONCLUSIVE, f"noise straddles the margin {margin:g}"


def verdict(effect, noise, n_seeds, *, kind="direction", margin=None, same_setting=False, fitted=True,
            available=True) -> str:
    """The verdict on one claim of the paper, the same rule for all of them.

    * not ``available`` (ImageNet, WMT, other papers' systems) -> ``not reproducible here``;
    * ``n_seeds < 3`` (the smaller side), or not ``fitted`` (an under-fit substitute, train accuracy < 99 %, where
      the claim assumes a network that fits its training set), or no finite effect and noise -> ``inconclusive``;
    * ``kind="direction"`` (``effect`` signed so that positive = the paper's direction): ``effect > noise`` ->
      ``reproduced`` if ``same_setting`` (the paper's architecture and data) else ``reproduced in kind``;
      ``effect < -noise`` -> ``not reproduced``; otherwise (``|effect| <= noise``) ``inconclusive``;
    * ``kind="equivalence"`` ("similar", the claim states a ``margin``): ``|effect| + noise <= margin`` ->
      reproduced (in kind); ``|effect| - noise > margin`` -> ``not reproduced``; otherwise ``inconclusive``;
    * ``kind="no_better"`` ("A is no better than B", ``effect`` = how much better A is): ``effect + noise <= margin``
      -> reproduced (in kind); ``effect - noise > margin`` -> ``not reproduced``; otherwise ``inconclusive``.

    ``noise`` is :func:`noise` of the effect: a result counts only if it clears it."""
    return _rule(effect, noise, n_seeds, kind=kind, margin=margin, same_setting=same_setting, fitted=fitted,
                 available=available)[0]


# ---------------------------------------------------------------- the claim
@dataclass
class Claim:
    """One claim of the paper and our check of it.  ``values``: our measurement per seed of each group,
    ``{label: [seed 0, seed 1, ...]}`` (seed numbers in ``detail["seeds"]``); ``effect`` positive = the paper's
    direction (for equivalence claims: the signed difference), ``noise`` = :func:`noise`; ``None`` where undefined."""
    id: str
    section: str
    claim: str
    paper: str
    setting: str
    values: dict
    n_seeds: int
    effect: float | None
    noise: float | None
    verdict: str
    note: str = ""
    unit: str = ""
    detail: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """JSON-ready (NaN -> ``None``): the keys of ``JSON_KEYS`` plus section, note, unit and detail."""
        return _jsonable(asdict(self))


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return None if not math.isfinite(float(x)) else round(float(x), 6)
    if isinstance(x, np.integer):
        return int(x)
    return x


def _finite(x):
    return None if x is None or not math.isfinite(x) else float(x)


def _make(id, section, claim, paper, setting, values, effect, noise_, n_seeds, *, unit="", kind="direction",
          margin=None, same_setting=False, fit=None, available=True, note="", detail=None) -> Claim:
    """Build a claim and decide it with :func:`verdict`; ``fit`` is the smallest train accuracy (fraction) of the
    entries whose fit the claim assumes (``None``: the claim does not assume it)."""
    fitted = fit is None or fit >= FIT_ACC
    v, why = _rule(_finite(effect), _finite(noise_), n_seeds, kind=kind, margin=margin, same_setting=same_setting,
                   fitted=fitted, available=available)
    if not fitted and available:
        why = why.replace("under-fit substitute", f"under-fit: train accuracy {100 * fit:.1f} % < {100 * FIT_ACC:.0f} %")
    return Claim(id, section, claim, paper, setting, values, int(n_seeds), _finite(effect), _finite(noise_), v,
                 "; ".join(s for s in (why, note) if s), unit, detail or {})


def _out_of_reach(id, section, claim, paper, why) -> Claim:
    return _make(id, section, claim, paper, "-", {}, None, None, 0, available=False, note=why)


# ---------------------------------------------------------------- finding entries
_ONLY = {"preset": None}  # set by :func:`on_preset`


@contextmanager
def on_preset(preset: str):
    """Within this block every claim reads one preset only (``"gpu"`` or ``"cpu"``): appendix A shows the
    paper-scale entries beside the CPU ones this way.  Outside it :func:`select_groups` chooses."""
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {PRESETS}; got {preset!r}")
    before, _ONLY["preset"] = _ONLY["preset"], preset
    try:
        yield
    finally:
        _ONLY["preset"] = before


def select_groups(groups: dict, **common) -> tuple[str, dict]:
    """The trained entries of each group, ``{label: [names by seed]}``, from one preset.  The choice: the preset
    closest to the paper (``gpu``, then ``cpu``) in which every group has :data:`MIN_SEEDS` seeds, so that a verdict
    can be reached; else the closest one in which every group has a trained entry; else the CPU preset's (possibly
    empty) groups.  So one GPU seed shows the paper's scale until the CPU preset has the seeds to decide, and three
    GPU seeds take over from the CPU.  ``groups`` maps a label to :func:`lsmooth_lib.zoo.select` fields; ``common``
    fields apply to every group; inside :func:`on_preset` only that preset is read."""
    presets = (_ONLY["preset"],) if _ONLY["preset"] else PRESETS
    found = {preset: {label: sorted(zoo.select(trained_only=True, preset=preset, **common, **f),
                                    key=lambda n: zoo.fields(n)["seed"])
                      for label, f in groups.items()} for preset in presets}
    for need in (MIN_SEEDS, 1):
        for preset in presets:
            if all(len(names) >= need for names in found[preset].values()):
                return preset, found[preset]
    return presets[-1], found[presets[-1]]


def _names(groups: dict) -> list:
    return [n for ns in groups.values() for n in ns]


def _seed(name: str) -> int:
    return zoo.fields(name)["seed"]


def _seeds(groups: dict) -> dict:
    return {label: [zoo.fields(n)["seed"] for n in ns] for label, ns in groups.items()}


def metric(name: str, split: str = "test", key: str = "acc") -> float | None:
    """``record["metrics"][split][key]``, or ``None`` where the record does not hold it (e.g. pending)."""
    rec = zoo.record(name) or {}
    return rec.get("metrics", {}).get(split, {}).get(key)


def _pct(name, split="test"):
    v = metric(name, split)
    return None if v is None else round(100 * v, 4)  # float32 accuracies: 0.7524 is 75.239998 % unrounded


def _fit(names) -> float | None:
    accs = [metric(n, "train") for n in names]
    accs = [a for a in accs if a is not None]
    return min(accs) if accs else None


_MODEL_TEXT = {"resnet20": "ResNet-20 (16/32/64)", "resnet56": "ResNet-56 (32/64/128)", "mlp1200": "MLP 2x1200",
               "mlp800": "MLP 2x800"}


def _model_text(cfg: dict) -> str:
    m, kw = cfg["model"], cfg.get("model_kwargs") or {}
    if m == "alexnet":
        return f"AlexNet (TF tutorial, {'LRN' if kw.get('lrn') else 'no LRN'})"
    if m == "transformer":
        return f"Transformer {kw.get('layers')}+{kw.get('layers')} layers, d {kw.get('d_model')}"
    return _MODEL_TEXT.get(m, m)


def describe(name: str) -> str:
    """One entry's setting in words: model, data, epochs and preset (a distilled student names its teacher's model)."""
    cfg = zoo.get_config(name)
    text = _model_text(cfg)
    if cfg.get("teacher"):
        text += f" student of a {_model_text(zoo.get_config(cfg['teacher']))} teacher"
    return f"{text}, {D.dataset_info(cfg['dataset'])['title']}, {cfg['epochs']} epochs, {cfg['preset']} preset"


def _setting(preset: str, groups: dict, extra: str = "") -> str:
    names = _names(groups)
    if not names:
        return "no trained entry"
    descs = list(dict.fromkeys(describe(n) for n in names))
    accs = {label: [metric(n, "train") for n in ns] for label, ns in groups.items()}
    accs = {k: [a for a in v if a is not None] for k, v in accs.items()}
    accs = {k: v for k, v in accs.items() if v}
    if len(accs) <= 3:
        fit = ", ".join(f"{k} {100 * np.mean(v):.1f} %" for k, v in accs.items())
    else:
        flat = [a for v in accs.values() for a in v]
        fit = f"{100 * min(flat):.1f}-{100 * max(flat):.1f} %"
    text = " / ".join(descs) + (f"; train accuracy {fit}" if fit else "")
    if preset == "gpu":
        text += "; the GPU preset (the paper's network on a shorter schedule)"
    return text + (f"; {extra}" if extra else "")


def _same_setting(preset: str, names, paper_models) -> bool:
    return preset == "gpu" and bool(names) and all(zoo.fields(n)["model"] in paper_models for n in names)


def _values(groups: dict, measure) -> dict:
    """``{label: [measure(name) per seed]}``, leaving out seeds the measure cannot be computed for (``None``)."""
    out = {}
    for label, ns in groups.items():
        vals = [measure(n) for n in ns]
        out[label] = [float(v) for v in vals if v is not None]
    return out


def _difference(values: dict, a: str, b: str) -> tuple[float | None, float, int]:
    """``(mean(b) - mean(a), noise, n_seeds)`` of two groups of per-seed values."""
    va, vb = values.get(a, []), values.get(b, [])
    n = min(len(va), len(vb))
    if not (va and vb):
        return None, float("nan"), n
    return float(np.mean(vb) - np.mean(va)), noise(va, vb), n


def _one_sample(vals) -> tuple[float | None, float, int]:
    vals = list(vals)
    return (float(np.mean(vals)) if vals else None), noise(vals), len(vals)


# ---------------------------------------------------------------- per-entry measurements (cached)
def _cache_key(name: str) -> tuple:
    return str(zoo.zoo_dir()), name, (zoo.record(name) or {}).get("trained_at")


@lru_cache(maxsize=None)
def _calibration(key: tuple) -> dict | None:
    name = key[1]
    rec = zoo.record(name) or {}
    if "calibration" in rec:
        return rec["calibration"]
    try:
        return C.calibration_report(*zoo.logits(name, "val"), *zoo.logits(name, "test"))
    except (zoo.ZooError, FileNotFoundError):  # a metrics-only entry, or a split not on this machine
        return None


def calibration(name: str) -> dict | None:
    """Chapter 3's calibration report of an image entry (``acc, nll, ece, conf, T, acc_ts, nll_ts, ece_ts,
    conf_ts``): the record's, else computed from its logits; ``None`` where neither is available."""
    return _calibration(_cache_key(name))


@lru_cache(maxsize=None)
def _projection(key: tuple, split: str, classes: tuple):
    try:
        return zoo.projection(key[1], split, list(classes))
    except (ValueError, zoo.ZooError):  # classes not stored, or no weights on this machine
        return None


def projection(name: str, split: str, classes):
    """The Figure-1 projection of an entry (:func:`lsmooth_lib.zoo.projection`), cached; ``None`` where the entry's
    activations of these classes cannot be had on this machine."""
    return _projection(_cache_key(name), split, tuple(classes))


def asymmetry(proj) -> float:
    """How far examples are from being equidistant to the two wrong templates: 0 when equidistant, larger when
    less so (chapter 2's ``|d1 - d2| / (d1 + d2)``; ``Projection.equidistance`` until geometry renames it)."""
    return proj.equidistance


def scale(proj) -> float:
    """The absolute size of a projection: mean distance of the examples from their common centroid (in the units of
    the logits; the paper's "much smaller magnitude" with label smoothing)."""
    c = proj.coords
    return float((c - c.mean(0)).norm(dim=1).mean())


def mi_curve(name: str) -> list:
    """The mutual-information estimates (nats) of a teacher's record, in training order (Figure 6)."""
    return [v for epoch in (zoo.record(name) or {}).get("history", []) for _, v in epoch.get("mi", [])]


def rise_and_fall(curve) -> float:
    """How clearly a curve rises from its first point and falls again before its last: ``min(peak - first,
    peak - last)`` (positive: it does both)."""
    peak = max(curve)
    return float(min(peak - curve[0], peak - curve[-1]))


def _decoding(name: str) -> dict:
    """``{T: row}`` of a Transformer's decoding sweep (BLEU, ECE, NLL on the test set)."""
    return {round(r["temperature"], 3): r for r in (zoo.record(name) or {}).get("decoding", {}).get("rows", [])}


def _token_calibration(name: str) -> dict | None:
    try:
        return zoo.token_calibration(name)
    except zoo.ZooError:
        return None


# ---------------------------------------------------------------- section 1
def table1() -> Claim:
    """Table 1: label smoothing in earlier work (other papers' systems, quoted, never retrained)."""
    rows = "; ".join(f"{r['arch']} {r['data']} {r['metric']} {r['without']} -> {r['with_ls']}"
                     for r in P.TABLE1["rows"])
    return _out_of_reach("table1-literature", P.TABLE1["section"],
                         "label smoothing helped in earlier work (image classification, translation, speech)", rows,
                         "results of other papers' systems; the book does not retrain them")


# ---------------------------------------------------------------- section 2: Figure 1, Table 2
IMAGE_MODELS = {"cifar10": ("alexnet",), "cifar100": ("resnet20", "resnet56")}  # Figure 1 / Table 2: our networks
PAPER_MODELS = {"cifar10": ("alexnet",), "cifar100": ("resnet56",)}              # ... of which the paper's own
ALPHA_LABELS = ("alpha 0", "alpha 0.1")


def _figure1_groups(dataset: str, alpha: float = P.DEFAULT_ALPHA):
    if dataset not in IMAGE_MODELS:
        raise ValueError(f"Figure 1 / Table 2 rows we train: {sorted(IMAGE_MODELS)}; got {dataset!r}")
    return select_groups({"alpha 0": dict(alpha=0.0), f"alpha {alpha:g}": dict(alpha=alpha)}, dataset=dataset,
                         model=IMAGE_MODELS[dataset], teacher=None, label_noise=0.0)


def _figure1(id_, dataset, claim, paper_text, measure, sign, unit, extra=""):
    """A Figure-1 claim on one row: ``measure(name)`` per seed at alpha 0 and 0.1; effect = ``sign`` x (alpha 0.1
    minus alpha 0)."""
    row = P.FIGURE1["rows"][dataset]
    preset, groups = _figure1_groups(dataset)
    values = _values(groups, measure)
    eff, nz, n = _difference(values, *ALPHA_LABELS)
    return _make(f"{id_}-{dataset}", f"{P.FIGURE1['section']}, row {row['row']}", claim,
                 f"{row['arch']} on {row['data']} ({', '.join(row['classes'])}): {paper_text}",
                 _setting(preset, groups, extra or f"{P.FIGURE1['examples_per_class']} examples per class of "
                                                   f"{', '.join(row['classes'])}"),
                 values, None if eff is None else sign * eff, nz, n, unit=unit,
                 same_setting=_same_setting(preset, _names(groups), PAPER_MODELS[dataset]), fit=_fit(_names(groups)),
                 detail={"seeds": _seeds(groups)})


def _proj_measure(dataset, split, fn):
    classes = P.FIGURE1["rows"][dataset]["classes"]

    def measure(name):
        p = projection(name, split, classes)
        return None if p is None else fn(p)
    return measure


def figure1_tightness(dataset: str = "cifar10") -> Claim:
    """Figure 1, rows 1-2: label smoothing (alpha 0.1) makes the *training* clusters tighter.  Measure: chapter 2's
    tightness (mean distance to the class centroid / mean template spacing) of 100 training images per class; effect
    = tightness(alpha 0) - tightness(alpha 0.1), Welch noise over seeds; the claim assumes networks that fit their
    training sets."""
    return _figure1("fig1-tightness", dataset, "label smoothing makes the training clusters tighter",
                    "broad clusters without label smoothing, much tighter with alpha 0.1",
                    _proj_measure(dataset, "train", lambda p: p.tightness), -1, "tightness")


def figure1_asymmetry(dataset: str = "cifar10") -> Claim:
    """Figure 1, rows 1-2: with label smoothing each training example is equally distant from the templates of the
    wrong classes (regular triangles).  Measure: :func:`asymmetry` (0 = equidistant) of 100 training images per
    class; effect = asymmetry(alpha 0) - asymmetry(alpha 0.1), Welch noise; assumes fitted networks."""
    return _figure1("fig1-asymmetry", dataset,
                    "label smoothing makes training examples equidistant from the wrong classes' templates",
                    "examples close to their template and equally distant from the others with alpha 0.1",
                    _proj_measure(dataset, "train", asymmetry), -1, "asymmetry")


def _spread_ratio(dataset):
    classes = P.FIGURE1["rows"][dataset]["classes"]

    def measure(name):
        t, v = (projection(name, s, classes) for s in ("train", "val"))
        return None if t is None or v is None else v.tightness / t.tightness
    return measure


def figure1_validation_spread(dataset: str = "cifar10") -> Claim:
    """Figure 1 and section 3: with label smoothing the training clusters are tight but the validation clusters
    spread towards the centre (the full range of confidences).  Measure: tightness(validation) /
    tightness(training) of one network; effect = ratio(alpha 0.1) - ratio(alpha 0), Welch noise; assumes fitted
    networks."""
    return _figure1("fig1-val-spread", dataset,
                    "with label smoothing the validation clusters spread out far more than the training clusters",
                    "training clusters tight, validation clusters spread towards the centre with alpha 0.1 (§3)",
                    _spread_ratio(dataset), +1, "ratio")


def figure1_scale(dataset: str = "cifar100") -> Claim:
    """Figure 1, row 2: with label smoothing the logit differences are bounded, so the picture is much smaller;
    without, it takes "much higher absolute values" (over-confidence).  Measure: :func:`scale` of the training
    projection; effect = scale(alpha 0) - scale(alpha 0.1), Welch noise; assumes fitted networks."""
    return _figure1("fig1-scale", dataset, "label smoothing shrinks the scale of the projection",
                    "projections of much smaller magnitude with alpha 0.1 (bounded logit differences)",
                    _proj_measure(dataset, "train", scale), -1, "logit units")


def figure1_imagenet() -> Claim:
    """Figure 1, rows 3-4 (ImageNet, Inception-v4): out of reach."""
    rows = P.FIGURE1["rows"]
    return _out_of_reach("fig1-imagenet", f"{P.FIGURE1['section']}, rows 3-4",
                         "tight clusters on ImageNet; similar classes (poodles) on an arc, the tench-poodle continuum "
                         "erased", f"Inception-v4 on ImageNet ({', '.join(rows['imagenet']['classes'])}; "
                                   f"{', '.join(rows['imagenet-similar']['classes'])}): qualitative",
                         "ImageNet is not available offline and needs days of accelerator training")


TABLE2_MARGIN = 0.5  # points: the paper calls +0.6 (CIFAR-100) an improvement and -0.1 (CIFAR-10) similar


def table2_accuracy(dataset: str = "cifar10") -> Claim:
    """Table 2, one row: top-1 test accuracy (%) at alpha 0 and 0.1, per seed.

    CIFAR-10 (AlexNet): "similar accuracies" -- an equivalence claim with margin 0.5 points (the paper calls the
    CIFAR-100 row's +0.6 an improvement and the CIFAR-10 row's -0.1 similar): effect = acc(0.1) - acc(0), Welch
    noise.  CIFAR-100 (ResNet-56): "label smoothing improves accuracy" (+0.6), a direction claim.  ImageNet: out of
    reach.  Both CIFAR rows assume networks trained until they fit their training sets."""
    row = P.TABLE2["rows"][dataset]
    paper_text = (f"{row['arch']} on {row['data']}: " + " vs ".join(
        f"{m}{'' if s is None else f' ± {s}'} % (alpha {a:g})" for a, (m, s) in row["acc"].items()))
    if dataset == "imagenet":
        return _out_of_reach("table2-imagenet", P.TABLE2["section"], "similar accuracy with and without label "
                             "smoothing (ImageNet)", paper_text, "ImageNet is not available offline")
    preset, groups = _figure1_groups(dataset)
    values = _values(groups, _pct)
    eff, nz, n = _difference(values, *ALPHA_LABELS)
    similar = dataset == "cifar10"
    return _make(f"table2-{dataset}", P.TABLE2["section"],
                 "label smoothing leaves the accuracy unchanged (within 0.5 points)" if similar
                 else "label smoothing improves the accuracy", paper_text, _setting(preset, groups, "test split"),
                 values, eff, nz, n, unit="points", kind="equivalence" if similar else "direction",
                 margin=TABLE2_MARGIN if similar else None,
                 same_setting=_same_setting(preset, _names(groups), PAPER_MODELS[dataset]), fit=_fit(_names(groups)),
                 detail={"seeds": _seeds(groups)})


# ---------------------------------------------------------------- section 3: Table 3, Figures 2-4
def _ece_groups(dataset, alpha):
    models = IMAGE_MODELS[dataset]
    return select_groups({"alpha 0": dict(alpha=0.0), f"alpha {alpha:g}": dict(alpha=alpha)}, dataset=dataset,
                         model=models, teacher=None, label_noise=0.0)


def _cal(key):
    def measure(name):
        c = calibration(name)
        return None if c is None else c[key]
    return measure


def transformer_groups() -> tuple[str, dict]:
    """The Multi30k Transformers every translation claim reads (chapter 4): ``(preset, {"alpha 0": [names],
    "alpha 0.1": [names]})``, one name per seed, by :func:`select_groups`."""
    return select_groups({"alpha 0": dict(alpha=0.0), "alpha 0.1": dict(alpha=0.1)}, dataset="multi30k",
                         model="transformer")


def _tokcal(which: str):
    """A Transformer's next-token ECE on its validation tokens at T = 1 (``"ece"``), at its fitted T (``"ece_ts"``)
    or the fitted T (``"T"``)."""
    def measure(name):
        c = _token_calibration(name)
        if c is None:
            return None
        if which == "T":
            return c["fitted"]
        return c["rows"][1.0 if which == "ece" else c["fitted"]]["ece"]
    return measure


TRANSFORMER_NOTE = "the paper's Transformer does not fit its training set either (next-token accuracy ~80 %)"


def table3_ece(dataset: str = "cifar100") -> Claim:
    """Table 3, one row: label smoothing lowers the ECE at T = 1 (15 bins).  Effect = ECE(alpha 0) - ECE(alpha),
    Welch noise, with the row's alpha (CIFAR-100: 0.05; EN-DE: 0.1, next-token ECE on the validation tokens, our
    Multi30k Transformer; CIFAR-10: 0.1 on Figure 1's AlexNet -- the section's claim, not a row of the table).
    Image rows use the official test split and assume fitted networks; ImageNet is out of reach."""
    key = "en-de" if dataset in ("en-de", "multi30k") else dataset
    if key == "imagenet":
        r = P.TABLE3["rows"]["imagenet"]
        return _out_of_reach("table3-imagenet", f"{P.TABLE3['section']} / Figure 2 (right)",
                             "label smoothing lowers the ECE (ImageNet)",
                             f"{r['arch']} on {r['data']}: ECE {r['baseline']}; TS {r['ts'][0]} at T = {r['ts'][1]}; "
                             f"LS {r['ls'][0]} at alpha {r['ls'][1]}", "ImageNet is not available offline")
    if key == "en-de":
        r = P.TABLE3["rows"]["en-de"]
        preset, groups = transformer_groups()
        values = _values(groups, _tokcal("ece"))
        eff, nz, n = _difference(values, *ALPHA_LABELS)
        ts = _values({"alpha 0": groups["alpha 0"]}, _tokcal("ece_ts"))["alpha 0"]
        return _make("table3-en-de", P.TABLE3["section"], "label smoothing lowers the next-token ECE (translation)",
                     f"{r['arch']} on {r['data']}: ECE {r['baseline']} -> {r['ls'][0]} with alpha {r['ls'][1]} "
                     f"(temperature scaling: {r['ts'][0]} at T = {r['ts'][1]})",
                     _setting(preset, groups, "next-token ECE on the validation tokens, correct prefix"),
                     {**values, "alpha 0, temperature-scaled": ts}, None if eff is None else -eff, nz, n, unit="ECE",
                     note=TRANSFORMER_NOTE, detail={"seeds": _seeds(groups)})
    if key == "cifar100":
        r = P.TABLE3["rows"]["cifar100"]
        alpha, section = r["ls"][1], P.TABLE3["section"]
        paper_text = (f"{r['arch']} on {r['data']}: ECE {r['baseline']} -> {r['ls'][0]} with alpha {alpha} "
                      f"(temperature scaling: {r['ts'][0]} at T = {r['ts'][1]})")
        claim = "label smoothing lowers the ECE without temperature scaling"
    elif key == "cifar10":
        alpha, section = P.DEFAULT_ALPHA, "§3 (Figure 1's AlexNet, not a Table 3 row)"
        paper_text = "§3: label smoothing reduces the ECE without temperature scaling (Table 3's image rows)"
        claim = "label smoothing lowers the ECE without temperature scaling (CIFAR-10)"
    else:
        raise ValueError(f"Table 3 rows: cifar100, imagenet, en-de (multi30k), and cifar10; got {dataset!r}")
    preset, groups = _ece_groups(key, alpha)
    labels = ("alpha 0", f"alpha {alpha:g}")
    values = _values(groups, _cal("ece"))
    eff, nz, n = _difference(values, *labels)
    ts = _values({"alpha 0": groups["alpha 0"]}, _cal("ece_ts"))["alpha 0"]
    return _make(f"table3-{key}", section, claim, paper_text,
                 _setting(preset, groups, "15-bin ECE on the test split"),
                 {**values, "alpha 0, temperature-scaled": ts}, None if eff is None else -eff, nz, n, unit="ECE",
                 same_setting=_same_setting(preset, _names(groups), PAPER_MODELS[key]), fit=_fit(_names(groups)),
                 detail={"seeds": _seeds(groups)})


def figure2_temperature_scaling(dataset: str = "cifar100") -> Claim:
    """Figure 2 (left): the hard-target network is over-confident and temperature scaling (T fitted by NLL on the
    validation split; the paper's T = 1.9) calibrates it.  Effect per seed = ECE(T = 1) - ECE(fitted T) on the test
    split; one-sample noise over seeds; assumes fitted networks.  ``dataset="cifar10"``: the same on Figure 1's
    AlexNet (not in the paper's figure)."""
    if dataset not in IMAGE_MODELS:
        raise ValueError(f"Figure 2 rows we train: {sorted(IMAGE_MODELS)}; got {dataset!r}")
    preset, groups = select_groups({"alpha 0": dict(alpha=0.0)}, dataset=dataset, model=IMAGE_MODELS[dataset],
                                   teacher=None, label_noise=0.0)
    reports = [c for c in (calibration(n) for n in groups["alpha 0"]) if c is not None]
    diffs = [c["ece"] - c["ece_ts"] for c in reports]
    eff, nz, n = _one_sample(diffs)
    f2, row = P.FIGURE2, P.TABLE3["rows"]["cifar100"]
    paper_text = (f"{row['arch']} on {row['data']}: over-confident as trained (ECE {row['baseline']}); temperature "
                  f"scaling at T = {f2['cifar100']['T']} -> ECE {row['ts'][0]}")
    if dataset == "cifar10":
        paper_text = "shown for " + paper_text + "; the paper has no CIFAR-10 row"
    return _make(f"fig2-{dataset}", f2["section"] + ("" if dataset == "cifar100" else " (on Figure 1's AlexNet)"),
                 "temperature scaling calibrates the over-confident hard-target network", paper_text,
                 _setting(preset, groups, "15-bin ECE on the test split, T fitted by NLL on the validation split"),
                 {"ECE at T = 1": [c["ece"] for c in reports], "ECE at fitted T": [c["ece_ts"] for c in reports],
                  "fitted T": [c["T"] for c in reports]}, eff, nz, n, unit="ECE",
                 same_setting=_same_setting(preset, _names(groups), PAPER_MODELS[dataset]), fit=_fit(_names(groups)),
                 detail={"seeds": _seeds(groups)})


def figure3_temperature_scaling() -> Claim:
    """Figure 3: the hard-target Transformer's next-token predictions are over-confident and temperature scaling
    (the paper's T = 1.13) calibrates them.  Effect per seed = ECE(T = 1) - ECE(fitted T) on the validation tokens
    with the correct prefix; one-sample noise over seeds."""
    preset, groups = transformer_groups()
    hard = {"alpha 0": groups["alpha 0"]}
    e1, ets, t = (_values(hard, _tokcal(k))["alpha 0"] for k in ("ece", "ece_ts", "T"))
    eff, nz, n = _one_sample([a - b for a, b in zip(e1, ets)])
    r = P.TABLE3["rows"]["en-de"]
    return _make("fig3-en-de", P.FIGURE3["section"],
                 "temperature scaling calibrates the hard-target Transformer's next-token predictions",
                 f"{r['arch']} on {r['data']}: next-token ECE {r['baseline']} -> {r['ts'][0]} at T = {r['ts'][1]} "
                 f"(~{P.FIGURE3['validation_tokens']:,} validation tokens)",
                 _setting(preset, hard, "next-token ECE on the validation tokens, correct prefix"),
                 {"ECE at T = 1": e1, "ECE at fitted T": ets, "fitted T": t}, eff, nz, n, unit="ECE",
                 note=TRANSFORMER_NOTE, detail={"seeds": _seeds(hard)})


def _paired_transformers():
    """The Transformers at alpha 0 and 0.1 paired by seed: ``(preset, groups, [(hard, ls), ...])``."""
    preset, groups = transformer_groups()
    ls = {zoo.fields(n)["seed"]: n for n in groups["alpha 0.1"]}
    pairs = [(h, ls[zoo.fields(h)["seed"]]) for h in groups["alpha 0"]
             if zoo.fields(h)["seed"] in ls and _decoding(h) and _decoding(ls[zoo.fields(h)["seed"]])]
    return preset, groups, pairs


def _bleu_at(name, t):
    rows = _decoding(name)
    return rows[t]["bleu"] if t in rows else None


def _f4_setting(preset, groups):
    return _setting(preset, groups, "BLEU, ECE and NLL on the test set against the decoding temperature, beam 4")


def figure4_bleu() -> Claim:
    """Figure 4: label smoothing improves BLEU (beam search).  Effect = BLEU(alpha 0.1) - BLEU(alpha 0) at T = 1,
    Welch noise over seeds."""
    preset, groups = transformer_groups()
    values = _values(groups, lambda n: _bleu_at(n, 1.0))
    eff, nz, n = _difference(values, *ALPHA_LABELS)
    t1 = P.TABLE1["rows"][2]
    return _make("fig4-bleu", P.FIGURE4["section"], "label smoothing improves BLEU",
                 f"Transformer on WMT EN-DE: higher BLEU with alpha 0.1 (values only in the figure; Table 1 quotes "
                 f"{t1['without']} -> {t1['with_ls']})", _f4_setting(preset, groups), values, eff, nz, n, unit="BLEU",
                 detail={"seeds": _seeds(groups)})


def figure4_nll() -> Claim:
    """Figure 4 (right): hard targets have the better NLL at *every* decoding temperature.  Per seed (models paired
    by seed): the smallest, over the common temperature grid, of NLL(alpha 0.1) - NLL(alpha 0) -- positive when the
    smoothed model is worse everywhere; one-sample noise over seeds."""
    preset, groups, pairs = _paired_transformers()
    diffs, worst_t = [], []
    for h, s in pairs:
        dh, ds = _decoding(h), _decoding(s)
        common = sorted(set(dh) & set(ds))
        d = {t: ds[t]["nll"] - dh[t]["nll"] for t in common}
        t = min(d, key=d.get)
        diffs.append(d[t])
        worst_t.append(t)
    eff, nz, n = _one_sample(diffs)
    return _make("fig4-nll", P.FIGURE4["section"], "label smoothing worsens the NLL at every decoding temperature",
                 "Transformer on WMT EN-DE: hard targets have the better NLL at all temperatures (figure only)",
                 _f4_setting(preset, groups), {"min over T of NLL(alpha 0.1) - NLL(alpha 0)": diffs}, eff, nz, n,
                 unit="nats", detail={"seeds": [_seed(h) for h, _ in pairs], "at T": worst_t})


def _argbest(rows: dict, key: str, best=min) -> float:
    return best(rows, key=lambda t: rows[t][key])


def figure4_ece_predicts_bleu() -> Claim:
    """Figure 4: "the minimum of ECE predicts top BLEU score slightly better than NLL".  Per model and seed, on the
    record's decoding grid: |T(min NLL) - T(max BLEU)| - |T(min ECE) - T(max BLEU)| (positive: the ECE minimum lies
    closer to the best BLEU); per seed the mean over the two models; one-sample noise over seeds."""
    preset, groups, pairs = _paired_transformers()
    labels = [f"{a}: |T(min NLL) - T(max BLEU)| - |T(min ECE) - T(max BLEU)|" for a in ALPHA_LABELS]
    per_model = {label: [] for label in labels}
    for pair in pairs:
        for label, name in zip(labels, pair):
            rows = _decoding(name)
            tb, te, tn = _argbest(rows, "bleu", max), _argbest(rows, "ece"), _argbest(rows, "nll")
            per_model[label].append(abs(tn - tb) - abs(te - tb))
    eff, nz, n = _one_sample([(a + b) / 2 for a, b in zip(*per_model.values())])
    return _make("fig4-ece-predicts-bleu", P.FIGURE4["section"],
                 "the ECE minimum predicts the best decoding temperature for BLEU better than the NLL minimum",
                 "Transformer on WMT EN-DE: the ECE minimum predicts top BLEU slightly better than NLL (figure only)",
                 _f4_setting(preset, groups), per_model, eff, nz, n, unit="T",
                 detail={"seeds": [_seed(h) for h, _ in pairs]})


def figure4_ts_cannot_recover() -> Claim:
    """Figure 4 (left): temperature scaling does not recover the BLEU of label smoothing.  Effect = BLEU(alpha 0.1,
    T = 1) - BLEU(alpha 0 at its fitted T, the grid point nearest to it), Welch noise over seeds."""
    preset, groups = transformer_groups()

    def at_fitted(name):
        rows, t = _decoding(name), (zoo.record(name) or {}).get("decoding", {}).get("fitted_temperature")
        return None if not rows or t is None else rows[min(rows, key=lambda g: abs(g - t))]["bleu"]
    values = {"alpha 0, fitted T": _values({"a": groups["alpha 0"]}, at_fitted)["a"],
              "alpha 0.1, T = 1": _values({"a": groups["alpha 0.1"]}, lambda n: _bleu_at(n, 1.0))["a"]}
    eff, nz, n = _difference(values, *values)
    return _make("fig4-ts-cannot-recover", P.FIGURE4["section"],
                 "temperature scaling of the hard-target model does not recover the BLEU of label smoothing",
                 "Transformer on WMT EN-DE: raising T improves the hard model's BLEU slightly, not to the smoothed "
                 "model's (figure only)", _f4_setting(preset, groups), values, eff, nz, n, unit="BLEU",
                 detail={"seeds": _seeds(groups)})


# ---------------------------------------------------------------- section 4: MNIST toy, Figures 5-6
def _mnist_groups():
    return select_groups({"teacher-dropout": dict(model="mlp1200", teacher=None, alpha=0.0),
                          "teacher-ls": dict(model="mlp1200", teacher=None, alpha=P.DEFAULT_ALPHA, dropout=0.0),
                          "student-of-dropout": dict(model="mlp800", teacher_alpha=0.0),
                          "student-of-ls": dict(model="mlp800", teacher_alpha=P.DEFAULT_ALPHA)}, dataset="mnist")


def _mnist(id_, claim, a, b):
    preset, groups = _mnist_groups()
    groups = {k: [n for n in v if k != "teacher-dropout" or zoo.fields(n)["dropout"] > 0] for k, v in groups.items()}
    values = _values({k: groups[k] for k in (a, b)}, lambda n: None if _pct(n) is None else 100 - _pct(n))
    eff, nz, n = _difference(values, b, a)  # mean(a) - mean(b): how much more error a has
    err = P.MNIST["error"]
    teachers = [n for k in ("teacher-dropout", "teacher-ls") for n in groups[k]]
    return _make(id_, P.MNIST["section"], claim,
                 f"2x1200 teachers / 2x800 students on MNIST, test error: dropout teacher {err['teacher-dropout']} %, "
                 f"its student {err['student-of-dropout']} %; LS teacher {err['teacher-ls']} %, its student "
                 f"{err['student-of-ls']} %", _setting(preset, {k: groups[k] for k in (a, b)}, "test error"),
                 values, eff, nz, n, unit="points of error", fit=_fit(teachers), detail={"seeds": _seeds(groups)})


def mnist_teacher() -> Claim:
    """Section 4, MNIST toy: the teacher trained with label smoothing (instead of dropout) is the better one.  Effect
    = error(dropout teacher) - error(LS teacher) in points, Welch noise; assumes teachers that fit their data."""
    return _mnist("mnist-teacher", "the label-smoothing teacher has a lower test error than the dropout teacher",
                  "teacher-dropout", "teacher-ls")


def mnist_student() -> Claim:
    """Section 4, MNIST toy: "something goes seriously wrong with distillation when the teacher is trained with
    label smoothing" -- its student is worse.  Effect = error(student of LS) - error(student of dropout) in points,
    Welch noise; assumes teachers that fit their data."""
    return _mnist("mnist-student", "the label-smoothing teacher's student has a higher test error than the dropout "
                                   "teacher's", "student-of-ls", "student-of-dropout")


FIGURE5_TEACHERS = ("resnet20", "resnet56")
FIGURE5_PAPER = "ResNet-56 teacher -> AlexNet student on CIFAR-10, beta 1, 5 seeds per point"


def figure5_data() -> tuple[str, dict, dict]:
    """Figure 5's trained entries from one preset: ``(preset, groups, results)``; ``groups`` maps labels to entry
    names (``teacher alpha A``, ``student alpha A``, ``hard teacher T`` and ``LS teacher A``), ``results`` has the
    shape of :func:`lsmooth_lib.distillation.figure5_results` (test accuracies as fractions, gammas)."""
    base = dict(dataset="cifar10", label_noise=0.0)
    preset, core = select_groups({"teacher": dict(model=FIGURE5_TEACHERS, teacher=None, alpha=0.0),
                                  "student": dict(model="alexnet", teacher=None, alpha=0.0),
                                  "distilled": dict(model="alexnet", family="alexnet-cifar10-kd")}, **base)

    def pick(**f):
        return sorted(zoo.select(trained_only=True, preset=preset, **base, **f),
                      key=lambda n: zoo.fields(n)["seed"])
    groups, results = {}, {"teacher": {}, "student": {}, "from_hard": {}, "from_ls": {}}
    for kind, f in (("teacher", dict(model=FIGURE5_TEACHERS, teacher=None)),
                    ("student", dict(model="alexnet", teacher=None))):
        for n in pick(**f):
            a = zoo.fields(n)["alpha"]
            if metric(n) is not None:
                groups.setdefault(f"{kind} alpha {a:g}", []).append(n)
                results[kind].setdefault(a, []).append(metric(n))
    for n in pick(model="alexnet", family="alexnet-cifar10-kd"):
        f = zoo.fields(n)
        if metric(n) is None or "gamma" not in (zoo.record(n) or {}):
            continue
        if f["teacher_alpha"] == 0:
            label, group, key = f"hard teacher T {f['temperature']:g}", "from_hard", f["temperature"]
        elif f["temperature"] == 1:
            label, group, key = f"LS teacher alpha {f['teacher_alpha']:g}", "from_ls", f["teacher_alpha"]
        else:
            continue  # smoothing teachers at other temperatures: chapter 6
        groups.setdefault(label, []).append(n)
        point = results[group].setdefault(key, {"gamma": [], "acc": []})
        point["gamma"].append(zoo.record(n)["gamma"])
        point["acc"].append(metric(n))
    results = {k: dict(sorted(v.items())) for k, v in results.items()}
    return preset, groups, results


def _baseline_at(gamma: float, results: dict):
    """The label-smoothing students' accuracy (%) at ``gamma`` (Figure 5's baseline line, linear interpolation of the
    per-alpha means, :func:`lsmooth_lib.distillation.label_smoothing_baseline`), the variance of that interpolated
    mean (from the seeds of the two alphas around ``gamma``), and the fewest seeds among them; ``None`` outside."""
    mean = label_smoothing_baseline(gamma, results)
    if mean is None:
        return None, float("nan"), 0
    alphas = list(results["student"])
    hi = next(i for i, a in enumerate(alphas) if a >= gamma)
    if hi == 0:
        weights = [(0, 1.0)]
    else:
        w = (gamma - alphas[hi - 1]) / (alphas[hi] - alphas[hi - 1])
        weights = [(hi - 1, 1 - w), (hi, w)]
    var, n = 0.0, []
    for i, w in weights:
        if w == 0:
            continue
        accs = 100 * np.asarray(results["student"][alphas[i]])
        n.append(len(accs))
        var += w ** 2 * (accs.var(ddof=1) / len(accs) if len(accs) > 1 else float("nan"))
    return mean, var, min(n) if n else 0


def _against_baseline(results: dict, group: str) -> dict:
    """Per Figure-5 point: ``{key: (student - baseline at its gamma, noise, n_seeds)}`` in points; points whose gamma
    lies outside the trained alphas are left out."""
    out = {}
    for key, p in results[group].items():
        base, var, n_base = _baseline_at(float(np.mean(p["gamma"])), results)
        if base is None:
            continue
        accs = 100 * np.asarray(p["acc"])
        s = accs.var(ddof=1) / len(accs) if len(accs) > 1 else float("nan")
        out[key] = (float(accs.mean() - base), float(2 * math.sqrt(s + var)), min(len(accs), n_base))
    return out


def _fig5_values(groups, labels):
    return {label: [_pct(n) for n in groups[label]] for label in labels if label in groups}


def _default_alpha_label(labels: list, role: str) -> str | None:
    """Figure 5's smoothed group that a claim compares with alpha 0: the paper's default alpha, where trained."""
    label = f"{role} alpha {P.DEFAULT_ALPHA:g}"
    return label if label in labels else None


def figure5_teacher() -> Claim:
    """Figure 5 (top): label smoothing improves the teacher's accuracy (up to alpha = 0.6).  Effect = accuracy at
    the paper's default alpha (0.1) minus at alpha 0, Welch noise; assumes that the two compared teachers fit their
    training set (the chapter prints the others).  The compared alpha is fixed in advance, so that seeds trained at
    other alphas never change the comparison."""
    preset, groups, results = figure5_data()
    labels = [f"teacher alpha {a:g}" for a in results["teacher"] if a <= P.FIGURE5["teacher_improves_up_to"]]
    values = _fig5_values(groups, labels)
    pick = _default_alpha_label(labels, "teacher")
    eff, nz, n = _difference(values, "teacher alpha 0", pick) if pick else (None, float("nan"), 0)
    compared = (groups.get("teacher alpha 0", []) + groups.get(pick, [])) if pick else []
    return _make("fig5-teacher", P.FIGURE5["section"], "label smoothing improves the teacher's accuracy (up to "
                 f"alpha {P.FIGURE5['teacher_improves_up_to']:g})", FIGURE5_PAPER + ": the teacher's accuracy rises "
                 f"with alpha up to {P.FIGURE5['teacher_improves_up_to']:g} (figure only)",
                 _setting(preset, {lb: groups[lb] for lb in labels}, "test split"), values, eff, nz, n,
                 unit="points", fit=_fit(compared), note=f"compared: {pick or '-'} vs alpha 0",
                 detail={"seeds": _seeds({lb: groups[lb] for lb in labels})})


def figure5_hard_teacher_students() -> Claim:
    """Figure 5: every student distilled from the hard-target teacher (any T) beats the students trained with label
    smoothing at the same equivalent smoothing gamma.  Per point: student accuracy - the baseline interpolated at its
    gamma (points outside the trained alphas are left out); noise from both sides' seeds.  The claim is decided at
    its weakest point (smallest effect minus noise); n_seeds = the fewest seeds of any point; assumes a teacher that
    fits its training set."""
    preset, groups, results = figure5_data()
    points = _against_baseline(results, "from_hard")
    labels = [f"hard teacher T {t:g}" for t in results["from_hard"]] + [lb for lb in groups if lb.startswith("student")]
    return _fig5_points("fig5-hard-teacher-students",
                        "every student of the hard-target teacher beats label smoothing at the same gamma",
                        FIGURE5_PAPER + ": all students of the hard-target teacher (T = 1..16) above the label-"
                        "smoothing baseline", preset, groups, labels, points, "T", "direction",
                        fit=_fit(groups.get("teacher alpha 0", [])))


def figure5_ls_teacher_students(margin: float = TABLE2_MARGIN) -> Claim:
    """Figure 5: students of label-smoothing teachers (T = 1) are "no better, and sometimes worse" than training the
    student with label smoothing directly.  A no-better claim with margin 0.5 points (the margin of Table 2's
    "similar"): per point, student accuracy - the baseline at its gamma; decided at the point that is most better
    (largest effect plus noise); assumes teachers that fit their training sets."""
    preset, groups, results = figure5_data()
    points = _against_baseline(results, "from_ls")
    labels = [f"LS teacher alpha {a:g}" for a in results["from_ls"]] + [lb for lb in groups if lb.startswith("student")]
    teachers = [n for a in results["from_ls"] for n in groups.get(f"teacher alpha {a:g}", [])]
    return _fig5_points("fig5-ls-teacher-students",
                        f"students of label-smoothing teachers are no better than label smoothing (margin {margin:g} "
                        "points)", FIGURE5_PAPER + ": students of the LS teachers (T = 1) no better, sometimes worse, "
                        "than the label-smoothing baseline", preset, groups, labels, points, "teacher alpha",
                        "no_better", margin=margin, fit=_fit(teachers))


def _fig5_points(id_, claim, paper_text, preset, groups, labels, points, key_name, kind, margin=None, fit=None):
    if points:
        if kind == "direction":
            key = min(points, key=lambda k: points[k][0] - (points[k][1] if math.isfinite(points[k][1]) else 0))
        else:
            key = max(points, key=lambda k: points[k][0] + (points[k][1] if math.isfinite(points[k][1]) else 0))
        eff, nz, _ = points[key]
        n = min(p[2] for p in points.values())
        note = f"decided at {key_name} {key:g}"
    else:
        eff, nz, n, note = None, float("nan"), 0, "no point within the baseline's alphas"
    return _make(id_, P.FIGURE5["section"], claim, paper_text,
                 _setting(preset, {lb: groups[lb] for lb in labels}, "test split, gamma from each student's record"),
                 _fig5_values(groups, labels), eff, nz, n, unit="points", kind=kind, margin=margin,
                 same_setting=_same_setting(preset, [n_ for lb in labels for n_ in groups[lb]],
                                            ("alexnet", "resnet56")), fit=fit, note=note,
                 detail={"per point (effect, noise, seeds)": {f"{key_name} {k:g}": list(v) for k, v in points.items()},
                         "seeds": _seeds({lb: groups[lb] for lb in labels})})


def figure5_ls_hurts_baseline() -> Claim:
    """Figure 5 (bottom): label smoothing slightly degrades the student baseline (AlexNet trained directly with
    alpha).  Effect = accuracy at alpha 0 minus at the paper's default alpha (0.1, as Table 2's row), Welch noise;
    assumes students that fit their training set.  The compared alpha is fixed in advance, so that seeds trained at
    other alphas (chapter 5 prints them all) never change the comparison."""
    preset, groups, results = figure5_data()
    labels = [f"student alpha {a:g}" for a in results["student"] if a <= max(P.FIGURE5["alphas"])]
    values = _fig5_values(groups, labels)
    pick = _default_alpha_label(labels, "student")
    eff, nz, n = _difference(values, pick, "student alpha 0") if pick else (None, float("nan"), 0)
    compared = (groups.get("student alpha 0", []) + groups.get(pick, [])) if pick else []
    return _make("fig5-ls-hurts-baseline", P.FIGURE5["section"],
                 "label smoothing slightly lowers the student's own accuracy",
                 FIGURE5_PAPER + ": the AlexNet trained with label smoothing is slightly worse (figure only)",
                 _setting(preset, {lb: groups[lb] for lb in labels}, "test split"), values, eff, nz, n, unit="points",
                 same_setting=_same_setting(preset, compared, ("alexnet",)), fit=_fit(compared),
                 note=f"compared: alpha 0 vs {pick or '-'}",
                 detail={"seeds": _seeds({lb: groups[lb] for lb in labels})})


def _figure6_groups():
    return select_groups({"alpha 0": dict(alpha=0.0), "alpha 0.1": dict(alpha=0.1)}, dataset="cifar10",
                         model=FIGURE5_TEACHERS, teacher=None, label_noise=0.0)


def _figure6(id_, claim, paper_text, values, eff, nz, n, preset, groups, note=""):
    f6 = P.FIGURE6
    return _make(id_, f6["section"], claim, f"ResNet-56 teachers on CIFAR-10, N = {f6['n']}, L = {f6['draws']}, "
                 f"every {f6['every_steps']} steps: {paper_text}",
                 _setting(preset, groups, "mutual information in nats, " + ", ".join(f6["classes"])), values, eff, nz,
                 n, unit="nats", same_setting=_same_setting(preset, _names(groups), ("resnet56",)),
                 fit=_fit(_names(groups)), note=note, detail={"seeds": _seeds(groups)})


def _per_seed(groups, fn) -> dict:
    """``{seed: mean over the groups of fn(name)}`` for the seeds trained in every group."""
    by = {}
    for ns in groups.values():
        for n in ns:
            if mi_curve(n):
                by.setdefault(zoo.fields(n)["seed"], []).append(fn(n))
    return {s: float(np.mean(v)) for s, v in sorted(by.items()) if len(v) == len(groups)}


def figure6_small_at_init() -> Claim:
    """Figure 6: the mutual information is very small after initialisation.  "Small" = below log 2 (one bit: less than
    the class label alone carries).  Effect per seed = log 2 - the first estimate (the mean over the alpha 0 and 0.1
    teachers of that seed, which share their initialisation); one-sample noise over seeds."""
    preset, groups = _figure6_groups()
    values = _values(groups, lambda n: mi_curve(n)[0] if mi_curve(n) else None)
    eff, nz, n = _one_sample([P.FIGURE6["log_2"] - v for v in _per_seed(groups, lambda m: mi_curve(m)[0]).values()])
    return _figure6("fig6-small-at-init", "the mutual information is small at initialisation (below log 2)",
                    "very small after initialisation", values, eff, nz, n, preset, groups)


def figure6_rise_then_fall() -> Claim:
    """Figure 6: the mutual information rises rapidly, then slowly decreases.  Per teacher :func:`rise_and_fall`
    (``min(peak - first, peak - last)``); effect per seed = its mean over the alpha 0 and 0.1 teachers; one-sample
    noise over seeds; assumes teachers that fit their training set."""
    preset, groups = _figure6_groups()
    values = _values(groups, lambda n: rise_and_fall(mi_curve(n)) if mi_curve(n) else None)
    eff, nz, n = _one_sample(_per_seed(groups, lambda m: rise_and_fall(mi_curve(m))).values())
    return _figure6("fig6-rise-then-fall", "the mutual information rises, then falls", "rises rapidly, then slowly "
                    "decreases, especially with label smoothing", values, eff, nz, n, preset, groups)


def figure6_ls_lower() -> Claim:
    """Figure 6: late in training the label-smoothing teacher keeps less information, slightly above log 2.  Per
    teacher, the distance of its last estimate from log 2; effect = distance(alpha 0) - distance(alpha 0.1) (both
    above log 2: how much lower the smoothed teacher ends), Welch noise; assumes fitted teachers."""
    preset, groups = _figure6_groups()
    log2 = P.FIGURE6["log_2"]
    ends = _values(groups, lambda n: mi_curve(n)[-1] if mi_curve(n) else None)
    dist = {k: [abs(v - log2) for v in vs] for k, vs in ends.items()}
    eff, nz, n = _difference(dist, "alpha 0.1", "alpha 0")
    return _figure6("fig6-ls-lower-near-log2", "with label smoothing the mutual information ends lower, near log 2",
                    f"the label-smoothing teacher ends lower, slightly above log 2 = {log2:.3f}", ends, eff, nz, n,
                    preset, groups)


# ---------------------------------------------------------------- appendix B: Figure 7
def figure7_tightness() -> Claim:
    """Figure 7 (appendix B): the Transformer's next-token clusters behave like the images' -- tighter on the training
    set with label smoothing.  Measure: chapter 2's tightness of the decoder's last-layer activations at 100 training
    positions of each of three tokens (``snapshot.PROBE_CLASSES``); effect = tightness(alpha 0) - tightness(0.1),
    Welch noise.  The paper's Transformer does not fit its training set either, so fit is not required."""
    tokens = PROBE_CLASSES["multi30k"]
    preset, groups = transformer_groups()

    def measure(name):
        p = projection(name, "train", tokens)
        return None if p is None else p.tightness
    values = _values(groups, measure)
    eff, nz, n = _difference(values, *ALPHA_LABELS)
    f7 = P.FIGURE7
    return _make("fig7-tightness", f7["section"], "label smoothing tightens the Transformer's next-token clusters",
                 f"Transformer on WMT EN-DE (penultimate dimension {f7['penultimate_dim']}, ~{f7['vocabulary']:,} "
                 f"tokens, ~{f7['train_token_accuracy']:.0f} % train accuracy): clusters tend to be tight, as for "
                 "images",
                 _setting(preset, groups, f"tokens {', '.join(t.lstrip('▁') for t in tokens)}, training positions"),
                 values, None if eff is None else -eff, nz, n, unit="tightness", note=TRANSFORMER_NOTE,
                 detail={"seeds": _seeds(groups)})


# ---------------------------------------------------------------- all of them, and how they print
# ---------------------------------------------------------------- beyond the paper (chapter 6)
@lru_cache(maxsize=None)
def _selective(key: tuple) -> dict | None:
    from . import selective
    name = key[1]   # (zoo folder, name, trained_at): retraining an entry invalidates the cache
    try:
        return selective.zoo_table([name])[0]
    except Exception:  # noqa: BLE001 - an entry without logits is left out of the claim
        return None


def selective_row(name: str) -> dict | None:
    """Chapter 6's selective-classification row of an entry (:func:`lsmooth_lib.selective.zoo_table`), cached."""
    return _selective(_cache_key(name))


def _xia_groups():
    return select_groups({"alpha 0": dict(alpha=0.0), "alpha 0.1": dict(alpha=0.1)}, family="alexnet-cifar10")


def xia2025_selective() -> Claim:
    """Xia et al. (ICLR 2025), chapter 6: label smoothing degrades selective classification.  Measured as the excess
    AURC (the area under the risk-coverage curve of the maximum softmax probability, minus the floor that the
    error rate alone sets), so that smoothing's effect on accuracy does not count; effect = excess(alpha 0.1) -
    excess(alpha 0) over seeds (positive: smoothing degrades the ranking), Welch noise."""
    preset, groups = _xia_groups()
    values = _values(groups, lambda n: (selective_row(n) or {}).get("e_aurc_msp"))
    eff, nz, n = _difference(values, "alpha 0", "alpha 0.1")
    return _make("xia2025-selective", "Xia et al. 2025 (chapter 6)",
                 "label smoothing degrades selective classification (excess AURC of the maximum softmax probability)",
                 "ResNets and ViTs on ImageNet and CIFAR: smoothing raises the AURC (Xia et al.)",
                 _setting(preset, groups, "test split"), values, eff, nz, n, unit="excess AURC",
                 detail={"seeds": _seeds(groups)})


def xia2025_normalisation() -> Claim:
    """Xia et al. (ICLR 2025), chapter 6: normalising the logits (MaxLogit-pNorm, p = 2) before taking the confidence
    recovers selective classification for the smoothed model.  Paired per seed: effect = excess AURC with the maximum
    softmax probability - excess AURC with the normalised logits, of the alpha = 0.1 AlexNets (positive: it helps)."""
    preset, groups = _xia_groups()
    rows = [selective_row(n) for n in groups["alpha 0.1"]]
    diffs = [r["e_aurc_msp"] - r["e_aurc_pnorm"] for r in rows if r]
    values = {"alpha 0.1: max softmax": [r["e_aurc_msp"] for r in rows if r],
              "alpha 0.1: normalised": [r["e_aurc_pnorm"] for r in rows if r]}
    eff, nz, n = _one_sample(diffs)
    return _make("xia2025-normalisation", "Xia et al. 2025 (chapter 6)",
                 "normalising the logits before taking the confidence recovers the smoothed model's selective classification",
                 "logit normalisation recovers much of the AURC lost to smoothing (Xia et al.)",
                 _setting(preset, {"alpha 0.1": groups["alpha 0.1"]}, "test split; MaxLogit-pNorm, p = 2"),
                 values, eff, nz, n, unit="excess AURC", detail={"seeds": _seeds(groups)})


def kornblith2021_transfer() -> Claim:
    """Kornblith et al. (NeurIPS 2021), chapter 6: the penultimate features of a network trained with label smoothing
    transfer worse.  A linear probe on CIFAR-100 of the CIFAR-10 ResNet-20 teachers' features
    (:func:`lsmooth_lib.transfer.zoo_transfer`, stored results); effect = probe accuracy(alpha 0) - probe
    accuracy(alpha 0.1) in points (positive: smoothing transfers worse), Welch noise over teacher seeds."""
    from . import transfer
    preset, groups = select_groups({"alpha 0": dict(alpha=0.0), "alpha 0.1": dict(alpha=0.1)}, family="resnet20-cifar10")
    names = _names(groups)
    try:
        rows = {r["name"]: r for r in transfer.zoo_transfer(names)} if names else {}
    except Exception:  # noqa: BLE001 - teachers without weights on this machine cannot be probed
        rows = {}
    values = _values(groups, lambda n: 100 * rows[n]["acc"] if n in rows else None)
    eff, nz, n = _difference(values, "alpha 0.1", "alpha 0")
    return _make("kornblith2021-transfer", "Kornblith et al. 2021 (chapter 6)",
                 "penultimate features of a smoothed network transfer worse (linear probe on another task)",
                 "ImageNet networks probed on other data sets: lower linear-probe accuracy with label smoothing",
                 _setting(preset, groups, "linear probe on CIFAR-100 (10,000 training images)"), values, eff, nz, n,
                 unit="points", detail={"seeds": _seeds(groups)})


def _registry() -> dict:
    """Claim id -> the function that measures it, in the paper's order (what all_claims and claim run)."""
    from functools import partial as P_
    reg = {"table1-literature": table1}
    for ds in ("cifar10", "cifar100"):
        reg.update({f"fig1-tightness-{ds}": P_(figure1_tightness, ds), f"fig1-asymmetry-{ds}": P_(figure1_asymmetry, ds),
                    f"fig1-val-spread-{ds}": P_(figure1_validation_spread, ds), f"fig1-scale-{ds}": P_(figure1_scale, ds)})
    reg["fig1-imagenet"] = figure1_imagenet
    reg.update({f"table2-{ds}": P_(table2_accuracy, ds) for ds in ("cifar10", "cifar100", "imagenet")})
    reg.update({f"table3-{ds}": P_(table3_ece, ds) for ds in ("cifar100", "cifar10", "imagenet")})
    reg.update({f"fig2-{ds}": P_(figure2_temperature_scaling, ds) for ds in ("cifar100", "cifar10")})
    reg.update({"table3-en-de": P_(table3_ece, "en-de"), "fig3-en-de": figure3_temperature_scaling,
                "fig4-bleu": figure4_bleu, "fig4-nll": figure4_nll, "fig4-ece-predicts-bleu": figure4_ece_predicts_bleu,
                "fig4-ts-cannot-recover": figure4_ts_cannot_recover, "mnist-teacher": mnist_teacher,
                "mnist-student": mnist_student, "fig5-teacher": figure5_teacher,
                "fig5-hard-teacher-students": figure5_hard_teacher_students,
                "fig5-ls-teacher-students": figure5_ls_teacher_students,
                "fig5-ls-hurts-baseline": figure5_ls_hurts_baseline, "fig6-small-at-init": figure6_small_at_init,
                "fig6-rise-then-fall": figure6_rise_then_fall, "fig6-ls-lower-near-log2": figure6_ls_lower,
                "fig7-tightness": figure7_tightness,
                "xia2025-selective": xia2025_selective, "xia2025-normalisation": xia2025_normalisation,
                "kornblith2021-transfer": kornblith2021_transfer})
    return reg


def all_claims() -> list:
    """Every claim of the paper, in the paper's order."""
    return [measure() for measure in _registry().values()]


def claim(claim_id: str) -> Claim:
    """One claim by its id (``python -m lsmooth_lib claims`` lists them); a clear error for an unknown id."""
    reg = _registry()
    if claim_id not in reg:
        import difflib
        near = difflib.get_close_matches(claim_id, list(reg), n=3, cutoff=0.5)
        raise ValueError(f"unknown claim {claim_id!r}." + (f" Did you mean {', '.join(near)}?" if near else "")
                         + " `python -m lsmooth_lib claims` lists them all.")
    out = reg[claim_id]()
    assert out.id == claim_id, (claim_id, out.id)
    return out


def verdict_line(c: Claim) -> str:
    """The line a chapter prints for a claim it discusses: id, verdict, effect ± noise over how many seeds, and
    the note that says why (e.g. "2 seeds", "within noise", "under-fit")."""
    seeds = f"{c.n_seeds} seed{'s' if c.n_seeds != 1 else ''}"
    why = f"; {c.note}" if c.note and not c.note.startswith(seeds) else (f" ({c.note[len(seeds):].strip(' ()')})"
                                                                       if c.note and c.note != seeds else "")
    why = why.replace(" ()", "")
    return f"{c.id}: {c.verdict.upper()} (effect {effect_text(c)}, {seeds}{why})"


def verdicts(*claim_ids: str) -> str:
    """The verdict lines of several claims, one per line (what each chapter prints where it discusses them)."""
    return "\n".join(verdict_line(claim(i)) for i in claim_ids)


def counts(claims) -> dict:
    """How many claims have each verdict (appendix A's summary line)."""
    return {v: sum(c.verdict == v for c in claims) for v in VERDICTS}


def effect_text(c: Claim) -> str:
    """``effect ± noise unit`` (``-`` where undefined)."""
    if c.effect is None:
        return "-"
    return f"{c.effect:+.3g}" + (f" ± {c.noise:.2g}" if c.noise is not None else "") + (f" {c.unit}" if c.unit else "")


def values_text(c: Claim) -> str:
    """Our values, one ``label: mean ± sd (n)`` per group."""
    parts = []
    for label, vals in c.values.items():
        if not vals:
            parts.append(f"{label}: -")
        elif len(vals) == 1:
            parts.append(f"{label}: {vals[0]:.4g} (1 seed)")
        else:
            parts.append(f"{label}: {np.mean(vals):.4g} ± {np.std(vals, ddof=1):.2g} ({len(vals)} seeds)")
    return "; ".join(parts) or "-"


def plain_text(claims) -> str:
    """One line per claim: id, section, the claim, the paper's value, our setting (named as what it is) and values,
    effect ± noise, verdict (what appendix A prints and its test compares)."""
    return "\n".join(f"{c.id} | {c.section} | {c.claim} | paper: {c.paper} | ours ({c.setting}): {values_text(c)} | "
                     f"effect {effect_text(c)}, {c.n_seeds} seed(s) | {c.verdict}" for c in claims)


def markdown_table(claims) -> str:
    """The claims as one Markdown table (appendix A)."""
    def cell(text):
        return str(text).replace("|", "\\|").replace("\n", " ")
    lines = ["| claim | section | the paper | our setting | our values | effect ± noise | seeds | verdict | note |",
             "|---|---|---|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(cell(x) for x in (f"**{c.id}**: {c.claim}", c.section, c.paper, c.setting,
                                                    values_text(c), effect_text(c), c.n_seeds, c.verdict, c.note))
              + " |" for c in claims]
    return "\n".join(lines)


def by_preset() -> list[tuple[Claim, Claim]]:
    """``[(on the GPU preset, on the CPU preset)]``: every claim that the GPU preset's trained entries can be
    measured on (at least one seed in each of its groups), computed on each preset alone (:func:`on_preset`), for
    appendix A's paper-scale table."""
    pairs = []
    for measure in _registry().values():
        with on_preset("gpu"):
            gpu = measure()
        if gpu.n_seeds >= 1:
            with on_preset("cpu"):
                pairs.append((gpu, measure()))
    return pairs


def preset_table(pairs) -> str:
    """:func:`by_preset`'s pairs as one Markdown table: the claim, then values, effect, seeds and verdict on the
    GPU preset and on the CPU preset."""
    def cell(text):
        return str(text).replace("|", "\\|").replace("\n", " ")
    lines = ["| claim | GPU preset: our values | effect ± noise | seeds | verdict "
             "| CPU preset: our values | effect ± noise | seeds | verdict |",
             "|---|---|---|---|---|---|---|---|---|"]
    for gpu, cpu in pairs:
        lines.append("| " + " | ".join(cell(x) for x in (
            f"**{gpu.id}**: {gpu.claim}", values_text(gpu), effect_text(gpu), gpu.n_seeds, gpu.verdict,
            values_text(cpu), effect_text(cpu), cpu.n_seeds, cpu.verdict)) + " |")
    return "\n".join(lines)


def table(claims) -> str:
    """The command line's table: one line per claim (id, verdict, effect ± noise, seeds, short setting)."""
    lines = [f"{'id':28s} {'verdict':22s} {'effect ± noise':>26s} {'seeds':>5s}  setting"]
    for c in claims:
        short = c.setting.split(";")[0]
        lines.append(f"{c.id:28s} {c.verdict:22s} {effect_text(c):>26s} {c.n_seeds:5d}  {short}")
    lines.append(", ".join(f"{v}: {n}" for v, n in counts(claims).items()))
    return "\n".join(lines)


def main(argv=None) -> int:
    """``python -m lsmooth_lib claims [--json] [PATTERN]``: the claims table (or a JSON list) on the zoo."""
    import argparse
    p = argparse.ArgumentParser(prog="python -m lsmooth_lib claims",
                                description="The paper's claims, each checked on the zoo, with its verdict.")
    p.add_argument("pattern", nargs="?", help="only claims whose id contains PATTERN")
    p.add_argument("--json", action="store_true", help="print a JSON list of claims")
    args = p.parse_args(argv)
    claims = [c for c in all_claims() if args.pattern is None or args.pattern in c.id]
    if args.json:
        print(json.dumps([c.as_dict() for c in claims], indent=1, ensure_ascii=False))
    else:
        print(table(claims))
    return 0


def provenance() -> list[str]:
    """Where our numbers come from (appendix A): the hardware that trained the zoo and each dataset's source,
    as the records state them."""
    hardware, data = {}, {}
    for name in zoo.select(trained_only=True, preset=PRESETS):  # not the smoke entries
        rec = zoo.record(name)
        hardware[rec["hardware"]] = hardware.get(rec["hardware"], 0) + 1
        if "data" in rec:  # written when the record is finalized
            data.setdefault(rec["config"]["dataset"], rec["data"]["source"])
    return ([f"trained on {hw}: {n} entries" for hw, n in sorted(hardware.items())]
            + [f"{D.dataset_info(d)['title']}: {src}" for d, src in sorted(data.items())])
