"""The one training loop, and inference helpers, for every model in the book (chapter 2, appendix B).

``fit(config)`` trains a model described by a plain dict (the zoo's configurations): SGD with
(Nesterov) momentum (or Adam for the Transformer), a step or cosine learning-rate schedule with
optional linear warm-up, weight decay, the smoothed
cross-entropy of chapter 1 (or chapter 5's distillation loss from a zoo teacher, and the mutual
information of Figure 6 tracked during training), batched tensor augmentation, mixed precision on CUDA, a tqdm
progress bar, and an atomically written checkpoint after every epoch so that an interrupted run
resumes where it stopped.
"""
from __future__ import annotations

import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import data as D
from .losses import check_alpha, smoothed_cross_entropy
from .models import build_model

DEFAULTS = dict(
    model_kwargs={}, alpha=0.0, convention="uniform", epochs=1, batch_size=128, lr=0.1, momentum=0.9,
    nesterov=True, weight_decay=1e-4, schedule="step", milestones=(0.5, 0.75), loss_scale=1.0,
    grad_clip=None, augment=None, seed=0, limit=None, eval_batch_size=1000, optimizer="sgd", warmup=0.0,
)
# Keys of optional features, filled in only when a config uses them (so that adding a feature leaves the
# complete configs -- and the zoo records that store them -- of every other entry unchanged).
DISTILL_DEFAULTS = dict(beta=1.0, distill_temperature=1.0, student_temperature=1.0, distill_mode="soft")
OPTIONAL = {"teacher", "virtual_teacher", "track_mi", "label_noise", *DISTILL_DEFAULTS}


def pick_device(prefer: str | None = None) -> torch.device:
    """CUDA if present, then Apple's MPS, then the CPU (``prefer`` or ``LSMOOTH_DEVICE`` overrides)."""
    choice = prefer or os.environ.get("LSMOOTH_DEVICE")
    if choice:
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def hardware(device: torch.device) -> str:
    """A short description of the machine that trains (for zoo records)."""
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    import platform
    return f"{device.type}: {platform.machine()}, {torch.get_num_threads()} threads"


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def complete_config(config: dict) -> dict:
    """The config with every default filled in and its values checked."""
    unknown = set(config) - set(DEFAULTS) - OPTIONAL - {"dataset", "model", "preset", "description", "keep_weights"}
    if unknown:
        raise ValueError(f"unknown config keys {sorted(unknown)}; known: {sorted(set(DEFAULTS) | {'dataset', 'model'})}")
    distilled = bool(config.get("teacher") or config.get("virtual_teacher"))
    cfg = {**DEFAULTS, **(DISTILL_DEFAULTS if distilled else {}), **config}
    for key in ("dataset", "model"):
        if key not in cfg:
            raise ValueError(f"a training config needs {key!r}")
    D.dataset_info(cfg["dataset"])
    check_alpha(cfg["alpha"])
    if cfg.get("teacher") and cfg.get("virtual_teacher"):
        raise ValueError("a config has either a zoo teacher ('teacher') or a virtual teacher ('virtual_teacher'), not both")
    if cfg.get("label_noise") is not None and not 0 <= cfg["label_noise"] < 1:
        raise ValueError(f"label_noise is the fraction of wrong training labels, in [0, 1); got {cfg['label_noise']!r}")
    if distilled:
        from .distillation import MODES, check_temperature
        check_temperature(cfg["distill_temperature"])
        check_temperature(cfg["student_temperature"])
        if cfg["distill_mode"] not in MODES or not 0 <= cfg["beta"] <= 1:
            raise ValueError(f"distillation needs distill_mode in {MODES} and 0 <= beta <= 1; got "
                             f"{cfg['distill_mode']!r}, {cfg['beta']!r}")
    return cfg


def _lr_factor(cfg: dict, epoch_progress: float) -> float:
    if cfg["warmup"] and epoch_progress < cfg["warmup"]:  # linear warm-up over the first `warmup` epochs
        return (epoch_progress / cfg["warmup"]) * _lr_factor({**cfg, "warmup": 0.0}, epoch_progress)
    if cfg["schedule"] == "step":
        return 0.1 ** sum(epoch_progress >= m * cfg["epochs"] for m in cfg["milestones"])
    if cfg["schedule"] == "cosine":
        return 0.5 * (1 + math.cos(math.pi * epoch_progress / cfg["epochs"]))
    if cfg["schedule"] == "linear":
        return max(0.0, 1 - epoch_progress / cfg["epochs"])
    if cfg["schedule"] == "constant":
        return 1.0
    raise ValueError(f"unknown schedule {cfg['schedule']!r}; use step, cosine, linear or constant")


def _autocast(device: torch.device):
    if device.type != "cuda":
        return torch.autocast(device.type, enabled=False), None
    if torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16), None
    return torch.autocast("cuda", dtype=torch.float16), torch.amp.GradScaler("cuda")


def _save_atomic(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


@torch.no_grad()
def predict(model, split: D.Split, batch_size: int = 1000, device=None, features: bool = False) -> torch.Tensor:
    """Logits (or, with ``features=True``, penultimate activations) for every example of ``split``, on the CPU."""
    device = torch.device(device) if device else next(model.parameters()).device
    model.eval()
    outs = []
    for x, _ in D.batches(split, batch_size, input_size=model.input_size, device=device):
        outs.append((model.features(x) if features else model(x)).float().cpu())
    return torch.cat(outs) if outs else torch.empty(0)


@torch.no_grad()
def evaluate(model, split: D.Split, batch_size: int = 1000, device=None) -> dict:
    """Accuracy and mean negative log-likelihood of ``model`` on ``split`` (per token for translation)."""
    device = torch.device(device) if device else next(model.parameters()).device
    model.eval()
    correct = total_nll = n = 0
    for x, y in D.batches(split, batch_size, input_size=model.input_size, device=device):
        logits = model(x).float()
        correct += int((logits.argmax(1) == y).sum())
        total_nll += float(F.cross_entropy(logits, y, reduction="sum"))
        n += len(y)
    return dict(acc=correct / max(n, 1), nll=total_nll / max(n, 1))


def fit(config: dict, checkpoint: str | Path | None = None, progress: bool = True, device=None):
    """Train the model ``config`` describes; returns ``(model, history)``.

    ``history`` holds one dict per epoch (train loss and accuracy on augmented batches, validation
    accuracy and NLL, seconds).  With ``checkpoint``, the state is written there atomically after
    every epoch and a run that finds a matching checkpoint resumes from it.
    """
    from tqdm.auto import tqdm

    cfg = complete_config(config)
    device = pick_device(device)
    seed_everything(cfg["seed"])
    train_split = D.load_split(cfg["dataset"], "train", limit=cfg["limit"])
    if cfg.get("label_noise"):  # chapter 6: symmetric noise on the training labels only (validation stays clean)
        train_split = D.with_label_noise(train_split, cfg["label_noise"], seed=cfg["seed"])
    val_split = D.load_split(cfg["dataset"], "val", limit=cfg["limit"] and max(cfg["limit"] // 4, 64))
    K = train_split.num_classes
    model = build_model(cfg["model"], K, **cfg["model_kwargs"]).to(device)
    if cfg["optimizer"] == "adam":  # the Transformer's optimizer (Vaswani et al.): Adam, betas (0.9, 0.98)
        opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], betas=(0.9, 0.98), eps=1e-9,
                               weight_decay=cfg["weight_decay"])
    elif cfg["optimizer"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"],
                              nesterov=cfg["nesterov"] and cfg["momentum"] > 0, weight_decay=cfg["weight_decay"])
    else:
        raise ValueError(f"unknown optimizer {cfg['optimizer']!r}; use 'sgd' or 'adam'")
    gen = torch.Generator().manual_seed(cfg["seed"])
    history, start = [], 0
    ckpt = Path(checkpoint) if checkpoint else None
    if ckpt and ckpt.exists():
        try:
            # on the CPU: RNG states must stay CPU ByteTensors; load_state_dict moves the rest to the device
            state = torch.load(ckpt, map_location="cpu", weights_only=True)
        except Exception:
            state = None  # an unreadable partial checkpoint is ignored: training restarts
        if state and state.get("config") == _jsonable(cfg):
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            gen.set_state(state["generator"])
            torch.set_rng_state(state["torch_rng"])
            history, start = state["history"], state["epoch"]
    teacher = teacher_cache = None
    if cfg.get("teacher"):  # distillation (chapter 5): a frozen zoo model gives the soft targets, same batches
        from .zoo import load as zoo_load
        teacher, _ = zoo_load(cfg["teacher"], device=device)
        teacher.requires_grad_(False)
        if teacher.input_size != model.input_size:
            raise ValueError(f"the teacher {cfg['teacher']!r} sees {teacher.input_size}-pixel inputs and the student "
                             f"{model.input_size}-pixel ones; distillation feeds both the same batch, so make them equal")
        if not cfg["augment"]:  # un-augmented inputs: the teacher's logits never change, so compute them once
            teacher_cache = predict(teacher, train_split, cfg["eval_batch_size"], device).to(device)
    if cfg.get("virtual_teacher"):  # chapter 6: Yuan et al.'s teacher-free distillation, a fixed target per label
        from .distillation import virtual_teacher_logits
        teacher = "virtual"
        teacher_cache = virtual_teacher_logits(train_split.labels, K, cfg["virtual_teacher"]).to(device)
    mi = cfg.get("track_mi")
    if mi:  # the paper's Figure 6: mutual information between example index and a logit difference
        from .information import model_mutual_information
        mi_split = D.load_split(cfg["dataset"], "train")
        measure_mi = lambda: model_mutual_information(model, mi_split, tuple(mi["classes"]), mi["n"], mi["draws"],  # noqa: E731
                                                      augment=mi.get("augment"))
        model.train()
    autocast, scaler = _autocast(device)
    steps_per_epoch = max(1, len(train_split) // cfg["batch_size"])
    bar = tqdm(total=cfg["epochs"] * steps_per_epoch, initial=start * steps_per_epoch, disable=not progress,
               desc=f"{cfg['model']} on {cfg['dataset']} (alpha={cfg['alpha']})", unit="step", mininterval=1.0)
    for epoch in range(start, cfg["epochs"]):
        t0 = time.perf_counter()
        model.train()
        tot_loss = tot_correct = seen = 0
        mi_points = []
        if mi and epoch == 0:
            mi_points.append([0, measure_mi()])
        for step, (x, y, idx) in enumerate(D.batches(train_split, cfg["batch_size"], input_size=model.input_size,
                                                     augment=cfg["augment"], shuffle=True, generator=gen,
                                                     device=device, drop_last=True, with_index=True)):
            for group in opt.param_groups:
                group["lr"] = cfg["lr"] * _lr_factor(cfg, epoch + step / steps_per_epoch)
            with autocast:
                logits = model(x)
                t_logits = None
                if teacher is not None:
                    with torch.no_grad():
                        t_logits = teacher_cache[idx] if teacher_cache is not None else teacher(x).float()
            if teacher is not None:
                from .distillation import distillation_loss
                loss = distillation_loss(logits.float(), t_logits, y, cfg["beta"], cfg["distill_temperature"],
                                         cfg["distill_mode"], cfg["student_temperature"])
            else:
                loss = smoothed_cross_entropy(logits.float(), y, cfg["alpha"], cfg["convention"])
            opt.zero_grad(set_to_none=True)
            scaled = loss * cfg["loss_scale"]
            if scaler:
                scaler.scale(scaled).backward()
                scaler.unscale_(opt)
            else:
                scaled.backward()
            if cfg["grad_clip"]:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
            scaler.step(opt) if scaler else opt.step()
            if scaler:
                scaler.update()
            n = len(y)
            tot_loss += loss.item() * n
            tot_correct += int((logits.argmax(1) == y).sum())
            seen += n
            global_step = epoch * steps_per_epoch + step + 1
            if mi and global_step % mi["every"] == 0:
                mi_points.append([global_step, measure_mi()])
                model.train()
            bar.update(1)
            bar.set_postfix(loss=f"{tot_loss / seen:.3f}", acc=f"{tot_correct / seen:.3f}", refresh=False)
        val = evaluate(model, val_split, cfg["eval_batch_size"], device)
        history.append(dict(epoch=epoch + 1, train_loss=tot_loss / max(seen, 1), train_acc=tot_correct / max(seen, 1),
                            val_acc=val["acc"], val_nll=val["nll"], seconds=time.perf_counter() - t0))
        if mi:
            history[-1]["mi"] = mi_points
        bar.set_postfix(loss=f"{tot_loss / max(seen, 1):.3f}", val_acc=f"{val['acc']:.3f}")
        if ckpt:
            _save_atomic(dict(config=_jsonable(cfg), epoch=epoch + 1, model=model.state_dict(),
                              optimizer=opt.state_dict(), generator=gen.get_state(),
                              torch_rng=torch.get_rng_state(), history=history), ckpt)
    bar.close()
    model.eval()
    return model, history


def _jsonable(cfg: dict) -> dict:
    """The config with tuples turned into lists (as it reads back from JSON)."""
    import json
    return json.loads(json.dumps(cfg))
