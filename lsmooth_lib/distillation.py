"""Knowledge distillation and the equivalent smoothing factor (chapter 5): the mathematics, and Figure 5's results.

The mathematics -- the distillation loss, the teacher's tempered targets, the equivalent smoothing ``gamma``, the
virtual teacher, Shen et al.'s stability -- is :mod:`lsmooth_lib.kd`'s (the training loop and the zoo use it
there); every name of it is imported here, so chapters read ``distillation.equivalent_smoothing`` etc.  This module
adds what needs trained models: :func:`figure5_results` and :func:`temperature_sweep` gather the students and
teachers of the zoo by their registry fields (:func:`lsmooth_lib.zoo.select`, never by parsing names) and read
their records (:func:`lsmooth_lib.zoo.record`); :func:`label_smoothing_baseline` and :func:`hard_teacher_curve`
read Figure 5's lines off those results.
"""
from __future__ import annotations

from . import checks, zoo
from .files import dataset_info
from .kd import (MODES, check_temperature, distillation_loss, equivalent_smoothing, smoothing_logits,
                 stability, teacher_targets, virtual_teacher_logits)

__all__ = ["MODES", "check_temperature", "distillation_loss", "equivalent_smoothing", "smoothing_logits", "stability",
           "teacher_targets", "virtual_teacher_logits",  # from lsmooth_lib.kd
           "figure5_results", "temperature_sweep", "label_smoothing_baseline", "hard_teacher_curve"]


def figure5_results(dataset: str = "cifar10", preset: str = "cpu") -> dict:
    """The points of the paper's Figure 5, read from the zoo records (chapter 5): test accuracies over seeds.

    Returns ``{"teacher": {alpha: [acc, ...]}, "student": {alpha: [...]},
    "from_hard": {T: {"gamma": [...], "acc": [...]}}, "from_ls": {alpha: {"gamma": [...], "acc": [...]}}}``:
    the ResNet teachers and the AlexNet students trained directly with label smoothing against ``alpha``
    (= gamma), and the students distilled from the hard-target teacher at temperature ``T`` or from a label
    smoothing teacher at ``T = 1``, with the equivalent smoothing ``gamma`` each record holds.  Only trained
    entries of ``preset`` on clean labels appear (:func:`lsmooth_lib.zoo.select`), so the figure grows as the
    zoo does.
    """
    dataset_info(dataset)
    out: dict = {"teacher": {}, "student": {}, "from_hard": {}, "from_ls": {}}
    for name in zoo.select(trained_only=True, dataset=dataset, preset=preset, label_noise=0.0):
        f, rec = zoo.fields(name), zoo.record(name) or {}
        acc = rec.get("metrics", {}).get("test", {}).get("acc")
        if acc is None or (f["teacher"] and "gamma" not in rec):
            continue  # still being finalized (or its test split pending): not a point yet
        if f["teacher"]:
            if f["teacher_alpha"] > 0 and f["temperature"] != 1:
                continue  # label-smoothing teachers at other temperatures are chapter 6's experiment
            key, group = (f["temperature"], "from_hard") if f["teacher_alpha"] == 0 else (f["teacher_alpha"], "from_ls")
            point = out[group].setdefault(key, {"gamma": [], "acc": []})
            point["gamma"].append(rec["gamma"])
            point["acc"].append(acc)
        elif f["model"] == "alexnet":
            out["student"].setdefault(f["alpha"], []).append(acc)
        elif f["model"].startswith("resnet"):
            out["teacher"].setdefault(f["alpha"], []).append(acc)
    return {k: dict(sorted(v.items())) for k, v in out.items()}


def temperature_sweep(dataset: str = "cifar10", preset: str = "cpu") -> dict:
    """Students distilled at several temperatures, grouped by their teacher's alpha (chapter 6, Chandrasegaran et al.).

    Returns ``{teacher_alpha: {T: {"gamma": [...], "acc": [...]}}}`` over the trained students (soft targets, clean
    labels) of a zoo teacher in ``preset`` (one list item per seed), sorted by alpha and T -- the hard-target teacher's
    row is the same data as Figure 5's "from the hard-target teacher" points.
    """
    dataset_info(dataset)
    out: dict = {}
    for name in zoo.select(trained_only=True, dataset=dataset, preset=preset, label_noise=0.0):
        f = zoo.fields(name)
        if not f["teacher"] or zoo.get_config(name)["distill_mode"] != "soft":
            continue
        rec = zoo.record(name) or {}
        if "gamma" not in rec or "test" not in rec.get("metrics", {}):
            continue  # still being finalized (or its test split pending)
        point = out.setdefault(f["teacher_alpha"], {}).setdefault(f["temperature"], {"gamma": [], "acc": []})
        point["gamma"].append(rec["gamma"])
        point["acc"].append(rec["metrics"]["test"]["acc"])
    return {a: dict(sorted(v.items())) for a, v in sorted(out.items())}


def _results(results, key: str) -> None:
    if not isinstance(results, dict) or not isinstance(results.get(key), dict):
        raise TypeError(f"results must be figure5_results()'s dict, with a {key!r} entry; got {checks.describe(results)}")


def label_smoothing_baseline(gamma: float, results: dict) -> float | None:
    """The test accuracy (%) of the student trained directly with label smoothing ``alpha = gamma``, read off the
    mean line of Figure 5's baseline (``results`` from :func:`figure5_results`) by linear interpolation between the
    trained alphas (chapters 5 and 6); ``None`` where ``gamma`` lies outside them -- never extrapolated."""
    import numpy as np
    gamma = checks.finite_number("gamma", gamma, hint=" (an equivalent smoothing factor)")
    _results(results, "student")
    alphas = list(results["student"])
    if not alphas or not alphas[0] <= gamma <= alphas[-1]:
        return None
    return float(np.interp(gamma, alphas, [100 * float(np.mean(v)) for v in results["student"].values()]))


def hard_teacher_curve(gamma: float, results: dict) -> float | None:
    """The test accuracy (%) of the hard-target teacher's students at equivalent smoothing ``gamma``, read off
    Figure 5's "from the hard-target teacher" line (``results`` from :func:`figure5_results`; gamma grows with T)
    by linear interpolation (chapter 5: a smoothing teacher against a tempered hard one at the same gamma);
    ``None`` outside the temperatures trained -- never extrapolated."""
    import numpy as np
    gamma = checks.finite_number("gamma", gamma, hint=" (an equivalent smoothing factor)")
    _results(results, "from_hard")
    points = results["from_hard"].values()
    gammas = [float(np.mean(p["gamma"])) for p in points]
    if not gammas or not gammas[0] <= gamma <= gammas[-1]:
        return None
    return float(np.interp(gamma, gammas, [100 * float(np.mean(p["acc"])) for p in points]))
