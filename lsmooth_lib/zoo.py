"""The checkpoint zoo: named training configurations -> fp16 weights + a JSON record (appendix B).

Every model a chapter shows is an entry here.  ``load(name)`` returns the trained model from the
committed zoo (``zoo/`` beside the package, or ``LSMOOTH_ZOO``); it trains the entry first only if it
is missing *and* ``train_if_missing=True``.  Each record holds the full config, metrics, wall time,
hardware, versions, data provenance and the sha256 of the weights, so ``verify()`` can tell a
truncated or altered file by name.  Weights are plain ``state_dict``s loaded with ``weights_only=True``.

CLI: ``python -m lsmooth_lib zoo list | train NAME... | verify``.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from . import __version__
from . import data as D
from .train import complete_config, evaluate, fit, hardware, pick_device

ZOO_ENV = "LSMOOTH_ZOO"


class ZooError(RuntimeError):
    """A zoo entry is unknown, missing, or damaged; the message says what to do."""


# ---------------------------------------------------------------- configurations
def _alexnet_cpu(alpha: float, seed: int) -> dict:
    # CPU-budget preset, interpolation regime: no augmentation, so the net fits its training set
    # (~100 % train accuracy) the way the paper's 390k-iteration runs do.  LRN is left out (3x slower
    # on a CPU, little effect); chapter 2 says so.
    return dict(dataset="cifar10", model="alexnet", alpha=alpha, epochs=15, batch_size=128, lr=0.05,
                momentum=0.9, nesterov=True, weight_decay=5e-4, schedule="cosine", augment=None, seed=seed,
                preset="cpu", description="TF-tutorial AlexNet (no LRN), 24x24 centre crops, no augmentation")


def _resnet20_cpu(dataset: str, alpha: float, seed: int, epochs: int = 11, **extra) -> dict:
    # CPU-budget preset for the CIFAR ResNet: ResNet-20 (16/32/64) on 24x24 centre crops (half the
    # arithmetic of 32x32, the AlexNet's input pipeline), no augmentation, 11 epochs: ~25 minutes on
    # one core of the 2-core machine.  The paper's ResNet-56 for ~205 epochs is the GPU preset's business.
    return dict(dataset=dataset, model="resnet20", model_kwargs={"input_size": 24}, alpha=alpha, epochs=epochs,
                batch_size=128, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4, schedule="cosine",
                augment=None, seed=seed, preset="cpu",
                description="pre-activation ResNet-20 (16/32/64), 24x24 centre crops, no augmentation", **extra)


# Chapter 5, Figure 6: the mutual information between a training image's index and its airplane-dog logit
# difference, N = 2 x 300 images, 5 augmentations each, every 250 steps (~22 points).  The augmentation is
# a random 24x24 crop of the 32x32 image plus a flip (shifts of up to +-4 pixels around the centre crop
# the network trains on), the CPU preset's counterpart of the paper's pad-and-crop on 32x32 images.
TRACK_MI = dict(classes=["airplane", "dog"], n=300, draws=5, every=250, augment={"pad": 0, "flip": True})


def _mnist_mlp(kind: str, seed: int) -> dict:
    # Chapter 5's MNIST toy (paper section 4 and appendix A.5, after Hinton et al. 2015): the teacher is
    # 2 x 1200 ReLU on digits jittered by up to 2 pixels, regularised either by dropout (0.2 on the pixels,
    # 0.5 on the hidden units, as in Hinton et al.) or by label smoothing 0.1 instead; the student is 2 x 800,
    # unregularised, no jitter, distilled with beta = 0.6 on the squared logit difference.  The paper's
    # "lr 1 with gradient smoothing 0.9" is SGD with momentum 0.9 at lr 0.1, which diverged here for the dropout
    # teacher without Hinton et al.'s max-norm constraint (train accuracy fell to 16 % after one epoch);
    # lr 0.02 for every MNIST entry, linear decay to 0.
    base = dict(dataset="mnist", epochs=60, batch_size=128, lr=0.02, momentum=0.9, nesterov=False, weight_decay=0.0,
                schedule="linear", seed=seed, preset="cpu")
    # Only seed 0's teachers are committed with weights (4.8 MB each; chapter 5 inspects them); the other
    # seeds' teachers keep metrics in the zoo and their weights in the local cache, for their students.
    if kind.startswith("teacher") and seed:
        base["keep_weights"] = False
    if kind == "teacher-dropout":
        return dict(base, model="mlp1200", model_kwargs=dict(dropout=0.5, input_dropout=0.2), augment={"pad": 2},
                    description="MNIST teacher 2x1200, dropout, jitter 2 px")
    if kind == "teacher-ls":
        return dict(base, model="mlp1200", alpha=0.1, augment={"pad": 2},
                    description="MNIST teacher 2x1200, label smoothing 0.1 instead of dropout, jitter 2 px")
    if kind == "student":
        return dict(base, model="mlp800", keep_weights=False, description="MNIST student 2x800, hard targets, no jitter")
    teacher = f"cpu-mlp1200-mnist-{kind.split('-from-')[1]}-s{seed}"
    return dict(base, model="mlp800", teacher=teacher, beta=0.6, distill_mode="logits", keep_weights=False,
                description=f"MNIST student 2x800 distilled from {teacher} (beta 0.6, squared logit difference)")


def _transformer_cpu(alpha: float, seed: int) -> dict:
    # CPU-budget preset for chapter 4: a small pre-norm Transformer (3+3 layers, d_model 192, 4 heads,
    # feed-forward 768, one shared 5000-piece BPE vocabulary) on Multi30k en->de, Adam with warm-up and
    # cosine decay, 5 epochs: ~30 minutes on one core of the 2-core machine.  The paper's is the
    # tensor2tensor transformer_base (6+6 layers, d_model 512) on WMT EN-DE for ~300k steps.
    return dict(dataset="multi30k", model="transformer",
                model_kwargs=dict(d_model=192, heads=4, layers=3, d_ff=768, dropout=0.1), alpha=alpha, epochs=5,
                batch_size=64, optimizer="adam", lr=1e-3, warmup=0.3, schedule="cosine", weight_decay=0.0,
                grad_clip=1.0, seed=seed, eval_batch_size=100, preset="cpu",
                description="small pre-norm Transformer (3+3 layers, d 192), Multi30k en-de, shared 5000-piece BPE")


def _smoke(dataset: str, model: str, **extra) -> dict:
    return dict(dataset=dataset, model=model, alpha=0.1, epochs=1, batch_size=64, lr=0.05, limit=256,
                preset="smoke", description="seconds-long smoke test of the pipeline (never committed)", **extra)


CONFIGS: dict[str, dict] = {
    "smoke-mlp-mnist": _smoke("mnist", "mlp800", augment={"pad": 2}),
    "smoke-alexnet-cifar10": _smoke("cifar10", "alexnet", augment={"pad": 0, "flip": True}),
    "smoke-resnet20-cifar100": _smoke("cifar100", "resnet20", augment={"pad": 4, "flip": True}),
    "smoke-kd-mlp-mnist": {**_smoke("mnist", "mlp800"), "teacher": "smoke-mlp-mnist", "beta": 0.6,
                           "distill_mode": "logits", "track_mi": dict(classes=["zero", "one"], n=20, draws=2, every=2)},
    "smoke-transformer-multi30k": {**_smoke("multi30k", "transformer"), "optimizer": "adam", "lr": 1e-3,
                                   "eval_batch_size": 64, "batch_size": 32,
                                   "model_kwargs": dict(d_model=32, heads=2, layers=1, d_ff=64)},
}
for _a in (0.0, 0.05, 0.1, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9):  # 0.9: the baseline at the gamma of T = 12, 16
    CONFIGS[f"cpu-alexnet-cifar10-a{_a:g}-s0"] = _alexnet_cpu(_a, 0)
for _a in (0.0, 0.1):
    for _s in (1, 2):
        CONFIGS[f"cpu-alexnet-cifar10-a{_a:g}-s{_s}"] = _alexnet_cpu(_a, _s)
for _a in (0.0, 0.05, 0.1, 0.2):
    CONFIGS[f"cpu-resnet20-cifar100-a{_a:g}-s0"] = _resnet20_cpu("cifar100", _a, 0)
for _a in (0.0, 0.1):  # chapter 4's translation models
    CONFIGS[f"cpu-transformer-multi30k-a{_a:g}-s0"] = _transformer_cpu(_a, 0)
for _a in (0.0, 0.1, 0.3, 0.6):  # the distillation teachers of chapter 5 (15 epochs: they must fit CIFAR-10)
    CONFIGS[f"cpu-resnet20-cifar10-a{_a:g}-s0"] = _resnet20_cpu("cifar10", _a, 0, epochs=15, track_mi=TRACK_MI)
# Chapter 5, Figure 5: AlexNet students (the CPU preset above, hard labels off: beta = 1, student temperature 1)
# distilled from the ResNet-20 teachers -- from the hard-target teacher at several temperatures, from the LS
# teachers at T = 1.  Their inputs are not augmented, so the teacher's logits are computed once (train.fit).
def _alexnet_student(teacher_alpha: float, temperature: float, seed: int) -> dict:
    teacher = f"cpu-resnet20-cifar10-a{teacher_alpha:g}-s0"
    return dict(_alexnet_cpu(0.0, seed), teacher=teacher, beta=1.0, distill_temperature=temperature,
                student_temperature=1.0, distill_mode="soft", keep_weights=False,
                description=f"TF-tutorial AlexNet student distilled from {teacher} at T = {temperature:g} (beta 1)")


for _t in (1, 2, 3, 4, 8, 12, 16):
    CONFIGS[f"cpu-alexnet-cifar10-kd-a0-T{_t}-s0"] = _alexnet_student(0.0, _t, 0)
for _a in (0.1, 0.3, 0.6):
    CONFIGS[f"cpu-alexnet-cifar10-kd-a{_a:g}-T1-s0"] = _alexnet_student(_a, 1, 0)
for _a in (0.0, 0.1):  # two more seeds where the paper's verdict is decided: hard vs smoothing teacher at T = 1
    for _s in (1, 2):
        CONFIGS[f"cpu-alexnet-cifar10-kd-a{_a:g}-T1-s{_s}"] = _alexnet_student(_a, 1, _s)
# Chapter 6: Chandrasegaran et al. (2022) -- does a label-smoothing teacher hurt only at higher temperatures?
for _t in (2, 3, 4):
    CONFIGS[f"cpu-alexnet-cifar10-kd-a0.1-T{_t}-s0"] = _alexnet_student(0.1, _t, 0)
# Chapter 6: Lukasik et al. (2020) -- label smoothing under 20 % symmetric label noise (the CPU AlexNet preset).
for _a in (0.0, 0.1, 0.3):
    CONFIGS[f"cpu-alexnet-cifar10-noise0.2-a{_a:g}-s0"] = dict(
        _alexnet_cpu(_a, 0), label_noise=0.2, keep_weights=False,
        description=f"TF-tutorial AlexNet (no LRN), 20 % symmetric label noise, alpha {_a:g}")
for _s in (0, 1, 2):  # chapter 5's MNIST toy
    CONFIGS[f"cpu-mlp1200-mnist-dropout-s{_s}"] = _mnist_mlp("teacher-dropout", _s)
    CONFIGS[f"cpu-mlp1200-mnist-ls-s{_s}"] = _mnist_mlp("teacher-ls", _s)
    CONFIGS[f"cpu-mlp800-mnist-s{_s}"] = _mnist_mlp("student", _s)
    CONFIGS[f"cpu-mlp800-mnist-kd-from-dropout-s{_s}"] = _mnist_mlp("student-from-dropout", _s)
    CONFIGS[f"cpu-mlp800-mnist-kd-from-ls-s{_s}"] = _mnist_mlp("student-from-ls", _s)


# ---------------------------------------------------------------- paths and lookup
def zoo_dir() -> Path:
    """The zoo folder: ``LSMOOTH_ZOO``, else ``zoo/`` in the source checkout."""
    env = os.environ.get(ZOO_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "zoo"


def names(pattern: str | None = None) -> list[str]:
    """Names of all configured entries (those containing ``pattern``, if given)."""
    return [n for n in CONFIGS if pattern is None or pattern in n]


def get_config(name: str) -> dict:
    """The complete training configuration of an entry; unknown names list the close matches."""
    if name not in CONFIGS:
        near = difflib.get_close_matches(name, list(CONFIGS), n=5, cutoff=0.6)
        hint = f" Close matches: {', '.join(near)}." if near else ""
        raise ZooError(f"unknown zoo entry {name!r}.{hint} `python -m lsmooth_lib zoo list` shows all entries.")
    return complete_config(CONFIGS[name])


def paths(name: str) -> tuple[Path, Path]:
    """``(weights .pt, record .json)`` of an entry."""
    return zoo_dir() / f"{name}.pt", zoo_dir() / f"{name}.json"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def record(name: str) -> dict | None:
    """The JSON record of a trained entry, or ``None`` if it has not been trained."""
    get_config(name)
    rec_path = paths(name)[1]
    if not rec_path.exists():
        return None
    try:
        return json.loads(rec_path.read_text())
    except json.JSONDecodeError as err:
        raise ZooError(f"zoo record {rec_path} is not valid JSON ({err}). Restore it from git "
                       f"(`git checkout -- {rec_path}`) or retrain: `python -m lsmooth_lib zoo train {name} --force`.") from None


# ---------------------------------------------------------------- train, load, verify
def train(name: str, force: bool = False, progress: bool = True, device=None) -> dict:
    """Train an entry, write its fp16 weights and record atomically, and return the record."""
    cfg = get_config(name)
    pt, js = paths(name)
    if not force and js.exists() and record(name) is not None:
        return record(name)
    dev = pick_device(device)
    t0 = time.perf_counter()
    model, history = fit(cfg, checkpoint=zoo_dir() / ".partial" / f"{name}.pt", progress=progress, device=dev)
    wall = sum(h["seconds"] for h in history)  # summed per epoch, so a resumed run still counts its whole time
    metrics = {}
    for split in ("train", "val", "test"):
        s = D.load_split(cfg["dataset"], split, limit=cfg["limit"])
        metrics[split] = evaluate(model, s, cfg["eval_batch_size"], dev)
    provenance = D.load_split(cfg["dataset"], "test", limit=1).provenance
    pt.parent.mkdir(parents=True, exist_ok=True)
    rec = dict(name=name, config=cfg, metrics=metrics, history=history,
               wall_time_s=round(wall, 1), session_time_s=round(time.perf_counter() - t0, 1),
               hardware=hardware(dev), versions=dict(lsmooth_lib=__version__, torch=torch.__version__,
                                                     python=platform.python_version()),
               data=provenance, trained_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    if D.dataset_info(cfg["dataset"]).get("text"):
        rec.update(_translation_metrics(model, cfg, progress))
    if cfg.get("teacher"):  # chapter 5: the teacher's equivalent smoothing factor at the distillation temperature
        from .distillation import equivalent_smoothing
        from .train import predict
        teacher, _ = load(cfg["teacher"], device=dev)
        train_split = D.load_split(cfg["dataset"], "train", limit=cfg["limit"])
        rec["gamma"] = equivalent_smoothing(predict(teacher, train_split), train_split.labels, cfg["distill_temperature"])
    elif cfg.get("virtual_teacher"):  # chapter 6: the teacher-free target's gamma
        from .distillation import equivalent_smoothing, virtual_teacher_logits
        labels = D.load_split(cfg["dataset"], "train", limit=cfg["limit"]).labels
        z = virtual_teacher_logits(labels, D.dataset_info(cfg["dataset"])["num_classes"], cfg["virtual_teacher"])
        rec["gamma"] = equivalent_smoothing(z, labels, cfg["distill_temperature"])
    half: dict = {}  # tied parameters (the Transformer's embedding = output layer) are stored once
    state = {k: (half.setdefault(v.data_ptr(), v.half()) if v.is_floating_point() else v)
             for k, v in model.state_dict().items()}
    # A metrics-only entry (keep_weights=False, to keep the committed zoo small) still keeps its weights on
    # this machine (zoo/.local/, git-ignored), so that entries built on it (a distilled student's teacher) train on this machine.
    keep = cfg.get("keep_weights", True)
    out = pt if keep else _local_weights(name)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, out)
    rec["weights" if keep else "local_weights"] = dict(file=out.name, sha256=sha256(out), bytes=out.stat().st_size,
                                                       dtype="float16")
    tmp = js.with_name(js.name + ".tmp")
    tmp.write_text(json.dumps(rec, indent=1, default=str) + "\n")
    os.replace(tmp, js)
    partial = zoo_dir() / ".partial" / f"{name}.pt"
    if partial.exists():
        partial.unlink()
    return record(name)  # exactly what later loads see (tuples read back as lists)


DECODING_TEMPERATURES = (0.5, 0.7, 0.85, 1.0, 1.15, 1.3, 1.5, 2.0)


def _translation_metrics(model, cfg: dict, progress: bool) -> dict:
    """Extra record fields of a translation entry (chapter 4): the tokenizer it was trained with, the
    temperature fitted on the validation tokens, and BLEU/ECE/NLL on the test set against the
    decoding temperature (beam 4, length penalty 0.6; the paper's Figure 4).  Beam search over the
    test set takes minutes on a CPU, so it is done once here and the chapter reads it."""
    from . import translation as TR
    from .calibration import fit_temperature
    V = D.dataset_info(cfg["dataset"])["num_classes"]
    val = D.load_split(cfg["dataset"], "val", limit=cfg["limit"])
    smoke = cfg["preset"] == "smoke"  # a seconds-long check of the plumbing: 16 sentences, T = 1 only
    test = D.load_split(cfg["dataset"], "test", limit=16 if smoke else cfg["limit"])
    model = model.cpu()
    t_fit = fit_temperature(TR.token_logits(model, val), val.labels)
    temps = (1.0,) if smoke else sorted(set(DECODING_TEMPERATURES) | {round(t_fit, 3)})
    t0 = time.perf_counter()
    rows = TR.decoding_sweep(model, test, temps, beam=4, progress=progress)
    return dict(tokenizer=dict(file=TR.tokenizer_path(V).name, sha256=TR.tokenizer_sha256(V)),
                decoding=dict(split="test", beam=4, length_penalty=0.6, fitted_temperature=t_fit, rows=rows,
                              seconds=round(time.perf_counter() - t0, 1), hardware=hardware(torch.device("cpu"))))


def load(name: str, train_if_missing: bool = False, device=None):
    """The trained model of an entry (eval mode, float32) and its record.

    A missing entry is trained only with ``train_if_missing=True``; otherwise a ``ZooError`` says how
    to get it.  The weights' sha256 is checked against the record before anything is unpickled.
    """
    cfg = get_config(name)
    pt, js = paths(name)
    rec = record(name)
    if rec is None:
        if not train_if_missing:
            raise ZooError(f"zoo entry {name!r} has not been trained (no {js}). Train it with "
                           f"`python -m lsmooth_lib zoo train {name}` or call load(..., train_if_missing=True).")
        rec = train(name, device=device)
    if "weights" not in rec:
        local = _local_weights(name)
        if "local_weights" not in rec or not local.exists() or sha256(local) != rec["local_weights"]["sha256"]:
            raise ZooError(f"zoo entry {name!r} keeps metrics only: its weights are not committed (its record has what "
                           f"the chapters use). To get them on this machine, retrain it: "
                           f"`python -m lsmooth_lib zoo train {name} --force` (they go to {local}).")
        pt, rec = local, {**rec, "weights": rec["local_weights"]}
    if not pt.exists():
        raise ZooError(f"weights of {name!r} are missing ({pt}). Restore them from git (`git checkout -- {pt}`) "
                       f"or retrain: `python -m lsmooth_lib zoo train {name} --force`.")
    digest = sha256(pt)
    if digest != rec["weights"]["sha256"]:
        raise ZooError(f"weights of {name!r} ({pt}) are corrupted or truncated: sha256 {digest[:12]}... does not "
                       f"match the record's {rec['weights']['sha256'][:12]}.... Restore them from git "
                       f"(`git checkout -- {pt}`) or retrain: `python -m lsmooth_lib zoo train {name} --force`.")
    try:
        state = torch.load(pt, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means a damaged file
        raise ZooError(f"weights of {name!r} ({pt}) cannot be read ({type(err).__name__}). "
                       f"Retrain: `python -m lsmooth_lib zoo train {name} --force`.") from None
    if "tokenizer" in rec:
        from . import translation as TR
        V = D.dataset_info(cfg["dataset"])["num_classes"]
        if not TR.tokenizer_path(V).exists() or TR.tokenizer_sha256(V) != rec["tokenizer"]["sha256"]:
            raise ZooError(f"{name!r} was trained with the tokenizer {rec['tokenizer']['file']} (sha256 "
                           f"{rec['tokenizer']['sha256'][:12]}...), and {TR.tokenizer_path(V)} is missing or different. "
                           f"Restore it from git (`git checkout -- {TR.tokenizer_path(V)}`) or retrain the entry.")
    from .models import build_model
    model = build_model(cfg["model"], D.dataset_info(cfg["dataset"])["num_classes"], **cfg["model_kwargs"])
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return model.to(pick_device(device)).eval(), rec


def _local_weights(name: str) -> Path:
    """Where a metrics-only entry keeps its weights on this machine (``zoo/.local/``, never committed)."""
    return zoo_dir() / ".local" / f"{name}.pt"


def verify(selected: list[str] | None = None) -> list[tuple[str, str]]:
    """Recompute every stored hash; returns ``(name, problem)`` for each damaged or orphaned entry."""
    problems = []
    folder = zoo_dir()
    for js in sorted(folder.glob("*.json")) if folder.exists() else []:
        name = js.stem
        if selected and name not in selected:
            continue
        if name not in CONFIGS:
            problems.append((name, "record has no configuration in lsmooth_lib.zoo.CONFIGS"))
            continue
        try:
            rec = record(name)
        except ZooError as err:
            problems.append((name, str(err)))
            continue
        if "weights" in rec:
            pt = folder / rec["weights"]["file"]
            if not pt.exists():
                problems.append((name, f"weights file {pt.name} is missing"))
            elif sha256(pt) != rec["weights"]["sha256"]:
                problems.append((name, f"weights file {pt.name} does not match its sha256 (truncated or altered)"))
    return problems


def trained() -> list[str]:
    """Names of the entries that have a record in the zoo."""
    return [n for n in CONFIGS if paths(n)[1].exists()]


_LOGITS: dict = {}


def logits(name: str, split: str = "test", refresh: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits, labels)`` of a trained entry on one split of its dataset (chapter 3).

    The logits are :func:`lsmooth_lib.train.predict` of the fp16 weights loaded as float32, always on
    the CPU, so they are the same on every machine.  Inference over a 10k-image split costs seconds
    per model on a CPU, so the result is kept in memory and in the data cache
    (``<cache>/logits/NAME_SPLIT_SHA.pt``), keyed by the sha256 of the weights: retraining an entry
    invalidates it, and ``refresh=True`` recomputes.
    """
    from .train import predict

    rec = record(name)
    if rec is None or "weights" not in rec:
        load(name)  # raises the ZooError that says how to get the entry
    sha = rec["weights"]["sha256"]
    key = (name, split, sha)
    split_data = D.load_split(get_config(name)["dataset"], split)
    if not refresh and key in _LOGITS:
        return _LOGITS[key], split_data.labels
    path = D.cache_dir() / "logits" / f"{name}_{split}_{sha[:16]}.pt"
    if not refresh and path.exists():
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
            if torch.equal(stored["labels"], split_data.labels) and sha256(paths(name)[0]) == sha:
                _LOGITS[key] = stored["logits"]
                return stored["logits"], split_data.labels
        except Exception:  # noqa: BLE001 - a damaged cache file is recomputed below
            pass
    model, _ = load(name, device="cpu")
    out = predict(model, split_data, batch_size=200, device="cpu")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"logits": out, "labels": split_data.labels}, tmp)
    os.replace(tmp, path)
    _LOGITS[key] = out
    return out, split_data.labels


def shard(entries: list[str], spec: str) -> list[str]:
    """The ``I``-th of ``N`` interleaved slices of ``entries`` (``spec = "I/N"``, 1-based; appendix B): the
    N slices are disjoint and together hold every entry once, so N independent jobs train a sweep."""
    try:
        i, n = (int(v) for v in spec.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like I/N with whole numbers, e.g. 2/8; got {spec!r}") from None
    if not 1 <= i <= n:
        raise ValueError(f"--shard I/N needs 1 <= I <= N; got {spec!r}")
    return entries[i - 1::n]


def main(argv: list[str] | None = None) -> int:
    """``python -m lsmooth_lib zoo list | train NAME... [--force] | verify``."""
    import argparse
    p = argparse.ArgumentParser(prog="python -m lsmooth_lib zoo", description="The lsmooth checkpoint zoo.")
    sub = p.add_subparsers(dest="cmd", required=True)
    ls = sub.add_parser("list", help="list entries and whether they are trained")
    ls.add_argument("pattern", nargs="?")
    tr = sub.add_parser("train", help="train entries (skips trained ones unless --force)")
    tr.add_argument("names", nargs="+", help="entry names, or a pattern with --match")
    tr.add_argument("--force", action="store_true")
    tr.add_argument("--match", action="store_true", help="treat NAMES as substrings")
    tr.add_argument("--device")
    tr.add_argument("--shard", metavar="I/N", help="train only the I-th of N interleaved slices of the selected "
                    "entries (1 <= I <= N), e.g. one slice per job of a scheduler's array")
    vf = sub.add_parser("verify", help="recompute every weight hash")
    vf.add_argument("names", nargs="*")
    args = p.parse_args(argv)
    try:
        if args.cmd == "list":
            for n in names(args.pattern):
                rec = record(n)
                if rec is None:
                    print(f"{n:40s}  not trained")
                else:
                    m = rec["metrics"]
                    print(f"{n:40s}  test acc {m['test']['acc']:.4f}  train acc {m['train']['acc']:.4f}  "
                          f"{rec['wall_time_s']:7.0f} s  {rec['hardware']}")
        elif args.cmd == "train":
            todo = [n for pat in args.names for n in names(pat)] if args.match else args.names
            todo = list(dict.fromkeys(todo))
            for n in todo:
                get_config(n)
            if args.shard:
                todo = shard(todo, args.shard)
            for n in todo:
                rec = train(n, force=args.force, device=args.device)
                print(f"{n}: test acc {rec['metrics']['test']['acc']:.4f} in {rec['wall_time_s']:.0f} s")
        elif args.cmd == "verify":
            for n in args.names:  # a misspelt name must not pass as "0 problems"
                if n not in CONFIGS and not paths(n)[1].exists():
                    get_config(n)  # raises ZooError with the close matches
            problems = verify(args.names or None)
            for n, msg in problems:
                print(f"{n}: {msg}")
            print(f"{len(trained())} trained entries checked, {len(problems)} problem(s)")
            return 1 if problems else 0
    except (ZooError, D.DataUnavailableError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
