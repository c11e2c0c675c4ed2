"""Inference: which device runs the library, and what a trained model outputs on a split (every chapter, the zoo).

* :func:`pick_device` -- CUDA, then Apple's MPS, then the CPU (``LSMOOTH_DEVICE`` or an explicit choice overrides,
  checked at once);
* :func:`hardware` -- a short description of the machine (zoo records);
* :func:`predict` -- logits, or penultimate activations, of every example of a split (images or text);
* :func:`evaluate` -- accuracy and mean negative log-likelihood of a split.

The training loop (:mod:`lsmooth_lib.train`) uses these; so do the zoo, the snapshots, the geometry of chapter 2 and
the translation of chapter 4, none of which needs the training loop.
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from . import data as D

DEVICE_FORMS = "'cpu', 'cuda', 'cuda:N' (N = 0, 1, ...) or 'mps'"


def pick_device(prefer: str | torch.device | None = None) -> torch.device:
    """CUDA if present, then Apple's MPS, then the CPU (``prefer`` or ``LSMOOTH_DEVICE`` overrides).

    An explicit choice is checked at once -- before :func:`lsmooth_lib.train.fit` loads any data: it must be one of
    :data:`DEVICE_FORMS`, and the device must exist on this machine; otherwise a ``ValueError`` says which
    setting asked for it and what to set instead.
    """
    env = os.environ.get("LSMOOTH_DEVICE")
    choice = prefer if prefer not in (None, "") else env
    if choice not in (None, ""):
        origin = f"device={prefer!r}" if prefer not in (None, "") else f"LSMOOTH_DEVICE={env!r}"
        fix = ("unset LSMOOTH_DEVICE (the library then picks CUDA, MPS or the CPU) or set it to 'cpu'"
               if prefer in (None, "") else "pass device='cpu', or None to let the library choose")
        if not isinstance(choice, (str, torch.device)):
            raise ValueError(f"{origin}: a device must be one of {DEVICE_FORMS}; got {type(choice).__name__}")
        try:
            dev = torch.device(choice.strip() if isinstance(choice, str) else choice)
        except (RuntimeError, ValueError):
            dev = None
        if dev is None or dev.type not in ("cpu", "cuda", "mps"):
            raise ValueError(f"{origin} is not a device this library runs on; use one of {DEVICE_FORMS}")
        if dev.type == "cuda":
            n = torch.cuda.device_count() if torch.cuda.is_available() else 0
            if n == 0:
                raise ValueError(f"{origin} asks for CUDA, but this machine has no usable CUDA GPU "
                                 f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'none'}); {fix}")
            if dev.index is not None and dev.index >= n:
                raise ValueError(f"{origin} asks for GPU {dev.index}, but this machine has {n} (cuda:0 to "
                                 f"cuda:{n - 1}); {fix}")
        if dev.type == "mps" and not (getattr(torch.backends, "mps", None) is not None
                                      and torch.backends.mps.is_available()):
            raise ValueError(f"{origin} asks for Apple's MPS, which this machine does not have; {fix}")
        return dev
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

