"""What the chapters read of a trained model, kept in place of its weights (appendix B).

The book's figures need a model only through a few derived arrays: its logits on the validation and
test splits (chapter 3), the penultimate activations of 100 examples per class (chapter 2's
projections), the feature norms of the test images (chapter 6), the training logits of a teacher
(chapter 5), and, for a Transformer, a calibration table of its validation tokens and example
translations (chapter 4).  An entry whose fp16 weights are larger than :data:`SNAPSHOT_ABOVE_BYTES`
commits these arrays -- a *snapshot*, one compressed ``.npz`` of float16 arrays -- instead of its
weights, which stay in ``zoo/.local/`` on the machine that trained it.  Smaller models (the ResNet-20s)
commit their weights, which are then smaller than what the chapters read, and run live.

Arrays of an image classifier's snapshot (``K`` classes, ``d`` penultimate units):

* ``templates`` ``(K, d + 1)`` float32 -- the class templates ``[w_k, b_k]`` (chapter 2);
* ``logits_val``, ``logits_test`` float16, for models of at most :data:`LOGITS_MAX_CLASSES` classes; a
  100-class model's would take 3 MB per entry (ten times a CIFAR-10 model's), more than the tree's budget can
  give each paper-scale run, so such a snapshot keeps chapter 3's reliability diagram instead:
  ``reliability_t1`` and ``reliability_ts`` ``(3, 15)`` float32 (rows: count, mean confidence, accuracy of the
  test split's 15 bins at T = 1 and at ``reliability_T``, the temperature fitted on the validation split); the
  record's ``calibration`` holds the ECE, NLL and accuracy of both;
* ``logits_train`` float16 for a teacher whose students train on cached logits (no augmentation: chapter 5);
* ``probe_train_features`` / ``probe_val_features`` float16 with ``probe_*_labels`` -- the first
  :data:`PROBE_N` examples of each class a chapter projects (:data:`PROBE_CLASSES`), in dataset order;
* ``norms_test`` float16 -- the norm of every test image's penultimate activation.

A Transformer's snapshot holds the templates and probes of the tokens of Figure 7, a
:func:`lsmooth_lib.calibration.calibration_table` of its validation tokens (``tokcal_*``) and the
beam-search translations of the first :data:`EXAMPLE_SENTENCES` test sentences at each decoding
temperature (``examples``).  A split whose data are absent (the GPU machine has only the training
split) is left out; ``zoo import`` completes the snapshot on a machine that has it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from . import data as D
from . import translation as TR
from .calibration import calibration_table, fit_temperature, reliability_bins
from .geometry import confused_triple
from .infer import predict

SNAPSHOT_ABOVE_BYTES = 1_000_000   # fp16 weights above this size are replaced in git by a snapshot
LOGITS_MAX_CLASSES = 10            # whole-split logits are kept for models of at most this many classes
RELIABILITY_BINS = 15              # the bins of the stored reliability diagrams (chapter 3's)
PROBE_N = 100                      # examples per class, as in the paper's Figure 1
# The classes whose activations a chapter projects: every class of CIFAR-10 (chapter 2's sliders and live
# explorer), Figure 1's CIFAR-100 classes (plus the model's most confused pair and a distant class: row 3),
# Figure 7's tokens.  MNIST is never projected.
PROBE_CLASSES = {"cifar10": "all", "cifar100": ("beaver", "dolphin", "otter"), "multi30k": ("▁Mann", "▁Frau", "▁Hund")}
EXAMPLE_SENTENCES = 40


def weights_bytes(model) -> int:
    """Bytes of a model's fp16 state_dict on disk, tied parameters counted once (close to the ``.pt`` size)."""
    seen, n = set(), 0
    for v in model.state_dict().values():
        if v.data_ptr() in seen:
            continue
        seen.add(v.data_ptr())
        n += v.numel() * (2 if v.is_floating_point() else v.element_size())
    return n


def optional_split(dataset: str, split: str, limit: int | None = None):
    """The split, or ``None`` where its data are not on this machine (the GPU machine has only ``train``)."""
    try:
        return D.load_split(dataset, split, limit=limit)
    except D.DataUnavailableError:
        return None


def _half(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().cpu().half().numpy()


def build(model, config: dict, teacher: bool = False, decoding_temperatures=(), progress: bool = False,
          outputs: dict | None = None) -> dict:
    """The snapshot arrays of a trained ``model`` described by ``config`` (see the module docstring).

    ``teacher``: also store the training logits (a distillation teacher's whole job); ``decoding_temperatures``:
    the temperatures of a Transformer's example translations and calibration table; ``outputs``: the
    ``(activations, logits)`` of whole splits already computed (``zoo.finalize``), by split name.
    """
    model = model.cpu().eval()
    if D.dataset_info(config["dataset"]).get("text"):
        return _build_text(model, config, decoding_temperatures, progress)
    ds = config["dataset"]
    splits = {s: optional_split(ds, s, config.get("limit")) for s in D.SPLITS}
    outputs = outputs or {}
    out = {"templates": model.templates.detach().float().cpu().numpy()}
    logits = {s: (outputs[s][1] if s in outputs else predict(model, splits[s], batch_size=500))
              for s in (("train", "val", "test") if teacher else ("val", "test")) if splits[s] is not None}
    if teacher and "train" in logits:
        out["logits_train"] = _half(logits["train"])
    if model.classifier.out_features <= LOGITS_MAX_CLASSES:
        out.update({f"logits_{s}": _half(logits[s]) for s in ("val", "test") if s in logits})
    elif "val" in logits and "test" in logits:
        out.update(reliability_arrays(logits["val"], splits["val"].labels, logits["test"], splits["test"].labels))
    probe = PROBE_CLASSES.get(ds, ())
    if probe == "all":
        classes = list(range(model.classifier.out_features))
    else:
        val = splits["val"]
        confused = confused_triple(logits["val"].float(), val.labels, out["templates"]) if probe else []
        classes = list(dict.fromkeys([val.class_index(c) for c in probe] + confused))
        if confused:
            out["confused_triple"] = np.array(confused, dtype=np.int32)
    for s in ("train", "val") if classes else ():
        sub = splits[s].per_class(classes, PROBE_N)
        out[f"probe_{s}_labels"] = sub.labels.numpy().astype(np.int32)
        out[f"probe_{s}_features"] = _half(predict(model, sub, batch_size=500, features=True))
    if splits["test"] is not None:
        f = outputs["test"][0] if "test" in outputs else predict(model, splits["test"], batch_size=500, features=True)
        out["norms_test"] = _half(f.norm(dim=1))
    return out


def _build_text(model, config: dict, temperatures, progress: bool) -> dict:
    splits = {s: optional_split(config["dataset"], s, config.get("limit")) for s in D.SPLITS}
    ids = [splits["train"].class_index(t) for t in PROBE_CLASSES[config["dataset"]]]
    out = {"templates_index": np.array(ids, dtype=np.int32),
           "templates": model.templates.detach().float().cpu()[ids].numpy()}
    for s in ("train", "val"):
        feats, labels = TR.token_probe(model, splits[s], ids, PROBE_N)
        out[f"probe_{s}_labels"] = np.array([ids[i] for i in labels.tolist()], dtype=np.int32)
        out[f"probe_{s}_features"] = _half(feats)
    val = splits["val"]
    logits = TR.token_logits(model, val)
    fitted = fit_temperature(logits, val.labels)
    grid = sorted({round(float(t), 2) for t in np.arange(0.5, 2.001, 0.05)} | {float(t) for t in temperatures}
                  | {round(fitted, 3)})
    table = calibration_table(logits, val.labels, grid)
    del logits
    out["tokcal_fitted_temperature"] = np.array(fitted)
    for k, v in table.items():
        out[f"tokcal_{k}"] = v.numpy()
    if splits["test"] is not None and len(temperatures):
        src = splits["test"].src_text[:EXAMPLE_SENTENCES]
        out["examples_source"] = np.array(src)
        out["examples_reference"] = np.array(splits["test"].tgt_text[:EXAMPLE_SENTENCES])
        out["examples_temperature"] = np.array([float(t) for t in temperatures])
        out["examples"] = np.array([TR.translate(model, src, temperature=t) for t in temperatures])
    return out


def reliability_arrays(logits_val, labels_val, logits_test, labels_test) -> dict:
    """The stored reliability diagram of a many-class model (module docstring): the test split's bins at T = 1
    and at the temperature fitted on the validation split, as ``(3, bins)`` float32 arrays (count, mean
    confidence, accuracy), and that temperature."""
    t = fit_temperature(logits_val, labels_val)
    out = {"reliability_T": np.array(t, dtype=np.float32)}
    for key, temp in (("reliability_t1", 1.0), ("reliability_ts", t)):
        b = reliability_bins(logits_test, labels_test, RELIABILITY_BINS, temp)
        out[key] = np.stack([b[k].double().numpy() for k in ("count", "conf", "acc")]).astype(np.float32)
    return out


def stored_reliability(arrays: dict, fitted: bool) -> dict | None:
    """The bins :func:`reliability_arrays` stored (``{count, conf, acc}`` tensors, as
    :func:`lsmooth_lib.calibration.reliability_bins` returns them), at T = 1 or at the fitted T; ``None`` where
    the snapshot keeps logits instead."""
    key = "reliability_ts" if fitted else "reliability_t1"
    if key not in arrays:
        return None
    count, conf, acc = (torch.from_numpy(a.astype(np.float64)) for a in arrays[key])
    return {"edges": torch.linspace(0, 1, len(count) + 1, dtype=torch.float64), "count": count, "acc": acc,
            "conf": conf}


def save(arrays: dict, path: Path) -> None:
    """Write the arrays as one compressed ``.npz`` (atomically: a unique temporary name, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    D.atomic_write(path, lambda fh: np.savez_compressed(fh, **arrays))


def read(path: Path) -> dict:
    """The arrays of a snapshot file (no pickles: plain numeric and string arrays only)."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}
