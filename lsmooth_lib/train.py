"""The one training loop for every model in the book (chapter 2, appendix B).

``fit(config, teacher=None)`` trains a model described by a plain dict (the zoo's configurations): SGD with
(Nesterov) momentum (or Adam for the Transformer), a step or cosine learning-rate schedule with
optional linear warm-up, weight decay, the smoothed
cross-entropy of chapter 1 (or chapter 5's distillation loss from the ``teacher`` model the caller passes --
:func:`lsmooth_lib.zoo.train` loads the zoo entry the config names -- and the mutual
information of Figure 6 tracked during training), batched tensor augmentation, mixed precision on CUDA, a tqdm
progress bar, and an atomically written checkpoint after every epoch so that an interrupted run
resumes where it stopped.

Inference -- :func:`pick_device`, :func:`hardware`, :func:`predict`, :func:`evaluate` -- is
:mod:`lsmooth_lib.infer`'s; this module imports those names, so ``train.predict`` etc. still work.
"""
from __future__ import annotations

import copy
import math
import random
import time
from pathlib import Path

import numpy as np
import torch

from . import data as D
from .infer import DEVICE_FORMS, evaluate, hardware, pick_device, predict  # noqa: F401 (train.hardware etc. still work)
from .information import model_mutual_information
from .kd import MODES, check_temperature, distillation_loss
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
OPTIONAL = {"teacher", "track_mi", "label_noise", *DISTILL_DEFAULTS,
            # the GPU presets (appendix B): the expected seconds of the entry on one H100 (the runner's budget
            # logic, lsmooth_lib.runner) and what the preset changes of the paper's recipe
            "est_gpu_s", "deviation"}


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
    distilled = bool(config.get("teacher"))
    cfg = {**DEFAULTS, **(DISTILL_DEFAULTS if distilled else {}), **config}
    for key in ("dataset", "model"):
        if key not in cfg:
            raise ValueError(f"a training config needs {key!r}")
    D.dataset_info(cfg["dataset"])
    check_alpha(cfg["alpha"])
    if cfg.get("label_noise") is not None and not 0 <= cfg["label_noise"] < 1:
        raise ValueError(f"label_noise is the fraction of wrong training labels, in [0, 1); got {cfg['label_noise']!r}")
    if cfg.get("est_gpu_s") is not None and not (isinstance(cfg["est_gpu_s"], (int, float)) and cfg["est_gpu_s"] > 0):
        raise ValueError(f"est_gpu_s is the expected seconds of the entry on one H100, > 0; got {cfg['est_gpu_s']!r}")
    if distilled:
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


def _autocast(device: torch.device, enabled: bool = True):
    if device.type != "cuda" or not enabled:
        return torch.autocast(device.type, enabled=False), None
    if torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16), None
    return torch.autocast("cuda", dtype=torch.float16), torch.amp.GradScaler("cuda")


def use_fast(device, fast: bool | None = None) -> bool:
    """Whether :func:`fit` takes the fast path: the ``fast`` argument (True or False), else on for CUDA only
    (``None``).  The fast path keeps the training split on the device (uint8, cropped and flipped there by
    :func:`lsmooth_lib.data.batches`), trains conv nets in channels_last memory format, runs the forward pass
    under bf16 autocast on CUDA (fp16 with a gradient scaler where bf16 is missing) and keeps the running
    loss and accuracy on the device (no host synchronisation per step).  "Plain" is none of these."""
    if fast is not None and not isinstance(fast, bool):
        raise ValueError(f"fast switches the fast path on or off: True, False or None (on for CUDA only); got {fast!r}")
    if fast is None:
        fast = torch.device(device).type == "cuda"
    return fast


def precision(device, fast: bool) -> str:
    """A short description of the arithmetic :func:`fit` uses on ``device`` (for records and logs)."""
    device = torch.device(device)
    if not fast:
        return "fp32"
    if device.type != "cuda":
        return "fp32, channels_last"
    return ("bf16 autocast" if torch.cuda.is_bf16_supported() else "fp16 autocast + GradScaler") + ", channels_last"


def _is_conv_net(model) -> bool:
    return any(isinstance(m, torch.nn.Conv2d) for m in model.modules())


def _on_device(split, device):
    """The image split with its uint8 images and labels moved to ``device`` once (not once per epoch)."""
    if getattr(split, "is_text", False) or split.images.device == torch.device(device):
        return split
    import dataclasses
    return dataclasses.replace(split, images=split.images.to(device), labels=split.labels.to(device))


def _save_atomic(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    D.atomic_write(path, lambda fh: torch.save(obj, fh))


def fit(config: dict, teacher=None, checkpoint: str | Path | None = None, progress: bool = True, device=None,
        fast: bool | None = None):
    """Train the model ``config`` describes; returns ``(model, history)``.

    ``history`` holds one dict per epoch (train loss and accuracy on augmented batches, validation
    accuracy and NLL, seconds).  With ``checkpoint``, the state is written there atomically after
    every epoch and a run that finds a matching checkpoint resumes from it.  ``fast`` (default: on for
    CUDA) selects the fast path, :func:`use_fast`; the returned model is float32 in the default memory
    format either way.

    ``teacher``: the trained model a distilled config learns from (chapter 5), which the caller loads --
    the config's ``teacher`` names it (``zoo.train`` passes ``zoo.load(config["teacher"])[0]``); a frozen copy
    of it runs on the device (the caller's model is left as it was).  A config that names a teacher needs one,
    and a teacher needs such a config.

    A distilled student and its zoo teacher may see different image sizes (the GPU presets' 24-pixel
    AlexNet learns from a 32-pixel ResNet-56): each batch is drawn at the larger size, the augmentation's
    padding widened by the difference, so that the smaller model's centre crop has exactly the augmentation
    its config asks for and the larger one sees the window around it.
    """
    from tqdm.auto import tqdm

    cfg = complete_config(config)
    if cfg.get("teacher") and teacher is None:
        raise ValueError(f"the config distils from the zoo entry {cfg['teacher']!r}: pass its model, "
                         f"fit(config, teacher=zoo.load({cfg['teacher']!r})[0]) (zoo.train does this)")
    if teacher is not None and not cfg.get("teacher"):
        raise ValueError("a teacher model was given, but the config names no 'teacher' (the zoo entry it is), so "
                         "the run would not be described by its config; add the teacher's name to the config")
    if teacher is not None and not isinstance(teacher, torch.nn.Module):
        raise TypeError(f"teacher must be a trained model (torch.nn.Module, e.g. zoo.load(name)[0]); got "
                        f"{type(teacher).__name__}")
    device = pick_device(device)
    fast = use_fast(device, fast)
    seed_everything(cfg["seed"])
    train_split = D.load_split(cfg["dataset"], "train", limit=cfg["limit"])
    if cfg.get("label_noise"):  # chapter 6: symmetric noise on the training labels only (validation stays clean)
        train_split = D.with_label_noise(train_split, cfg["label_noise"], seed=cfg["seed"])
    val_split = D.load_split(cfg["dataset"], "val", limit=cfg["limit"] and max(cfg["limit"] // 4, 64))
    if fast:  # the uint8 splits live on the device for the whole run (data.batches crops and flips them there)
        train_split, val_split = _on_device(train_split, device), _on_device(val_split, device)
    K = train_split.num_classes
    model = build_model(cfg["model"], K, **cfg["model_kwargs"]).to(device)
    channels_last = fast and _is_conv_net(model)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
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
    teacher_cache = None
    if teacher is not None:  # distillation (chapter 5): a frozen zoo model gives the soft targets, same batches
        teacher = copy.deepcopy(teacher).to(device).eval()  # a copy: the caller's model stays as it was
        teacher.requires_grad_(False)
        if channels_last and _is_conv_net(teacher):
            teacher = teacher.to(memory_format=torch.channels_last)
        if (teacher.input_size is None) != (model.input_size is None) or (
                teacher.input_size and (teacher.input_size - model.input_size) % 2):
            raise ValueError(f"the teacher {cfg['teacher']!r} sees {teacher.input_size}-pixel inputs and the student "
                             f"{model.input_size}-pixel ones; distillation crops both from one batch, so their "
                             f"sizes must differ by an even number of pixels")
        if not cfg["augment"]:  # un-augmented inputs: the teacher's logits never change, so compute them once
            teacher_cache = predict(teacher, train_split, cfg["eval_batch_size"], device).to(device)
    mi = cfg.get("track_mi")
    if mi:  # the paper's Figure 6: mutual information between example index and a logit difference
        mi_split = D.load_split(cfg["dataset"], "train")
        measure_mi = lambda: model_mutual_information(model, mi_split, tuple(mi["classes"]), mi["n"], mi["draws"],  # noqa: E731
                                                      augment=mi.get("augment"))
        model.train()
    autocast, scaler = _autocast(device, enabled=fast)
    # the size each batch is drawn at, and its augmentation: the student's own, unless an online teacher sees more
    draw_size, draw_aug = model.input_size, cfg["augment"]
    if teacher is not None and teacher_cache is None and teacher.input_size and teacher.input_size > model.input_size:
        draw_size = teacher.input_size
        draw_aug = {**cfg["augment"], "pad": cfg["augment"].get("pad", 0) + (draw_size - model.input_size) // 2}
    steps_per_epoch = max(1, len(train_split) // cfg["batch_size"])
    bar = tqdm(total=cfg["epochs"] * steps_per_epoch, initial=start * steps_per_epoch, disable=not progress,
               desc=f"{cfg['model']} on {cfg['dataset']} (alpha={cfg['alpha']})", unit="step", mininterval=1.0)
    for epoch in range(start, cfg["epochs"]):
        t0 = time.perf_counter()
        model.train()
        tot_loss = tot_correct = seen = 0
        if fast:  # summed on the device: no host synchronisation per step (float64, as the host sums)
            tot_loss = torch.zeros((), dtype=torch.float64, device=device)
            tot_correct = torch.zeros((), dtype=torch.long, device=device)
        mi_points = []
        if mi and epoch == 0:
            mi_points.append([0, measure_mi()])
        for step, (x, y, idx) in enumerate(D.batches(train_split, cfg["batch_size"], input_size=draw_size,
                                                     augment=draw_aug, shuffle=True, generator=gen,
                                                     device=device, drop_last=True, with_index=True)):
            for group in opt.param_groups:
                group["lr"] = cfg["lr"] * _lr_factor(cfg, epoch + step / steps_per_epoch)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            x_student = D.center_crop(x, model.input_size) if draw_size != model.input_size else x
            with autocast:
                logits = model(x_student)
                t_logits = None
                if teacher is not None:
                    with torch.no_grad():
                        if teacher_cache is not None:
                            t_logits = teacher_cache[idx]
                        else:
                            x_teacher = D.center_crop(x, teacher.input_size) if teacher.input_size != draw_size else x
                            t_logits = teacher(x_teacher).float()
            if teacher is not None:
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
            if fast:
                tot_loss += loss.detach().double() * n
                tot_correct += (logits.detach().argmax(1) == y).sum()
            else:
                tot_loss += loss.item() * n
                tot_correct += int((logits.argmax(1) == y).sum())
            seen += n
            global_step = epoch * steps_per_epoch + step + 1
            if mi and global_step % mi["every"] == 0:
                mi_points.append([global_step, measure_mi()])
                model.train()
            bar.update(1)
            if not fast or step % 50 == 0:  # the fast path synchronises with the device only every 50 steps
                bar.set_postfix(loss=f"{float(tot_loss) / seen:.3f}", acc=f"{int(tot_correct) / seen:.3f}",
                                refresh=False)
        tot_loss, tot_correct = float(tot_loss), int(tot_correct)
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
    if channels_last:
        model = model.to(memory_format=torch.contiguous_format)
    model.eval()
    return model, history


def _jsonable(cfg: dict) -> dict:
    """The config with tuples turned into lists (as it reads back from JSON)."""
    import json
    return json.loads(json.dumps(cfg))
