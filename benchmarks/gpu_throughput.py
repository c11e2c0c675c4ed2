"""Training throughput of the GPU presets' models: the fast path against a torchvision DataLoader recipe.

    python benchmarks/gpu_throughput.py [--device cuda] [--steps 40] [--models resnet56 alexnet] [--workers 0 8]
    S=$(python benchmarks/gpu_throughput.py --device cuda --suggest-scale)   # the runner's --est-scale

Each row trains the same model with the same optimiser step (SGD + Nesterov, label-smoothed cross-entropy) on
the same decoded training images; only the input pipeline and the arithmetic differ:

* ``fast``: what ``train.fit`` does on CUDA -- the uint8 split held on the device, random crop + flip there in
  batches (``data.batches``), channels_last, bf16 autocast (fp16 + GradScaler without bf16), running loss on
  the device;
* ``device-fp32``: the same on-device data, fp32 and the default memory format (``fit(..., fast=False)``);
* ``loader-wN``: a plain torchvision recipe -- ``DataLoader`` over PIL images with ``RandomCrop(size,
  padding)``, ``RandomHorizontalFlip``, ``ToTensor``, ``Normalize`` and ``N`` worker processes, fp32.

Images/s are counted over ``--steps`` steps after ``--warmup`` steps (synchronised), and the fast path's ratio
to every other row is printed.  It runs for seconds: 40 steps of ResNet-56 at batch 512 are ~20k images.
``--suggest-scale`` prints (on stdout, everything else on stderr) the ``--est-scale`` that the measured
ResNet-56 rate suggests for the GPU presets' ``est_gpu_s`` (which assume ``runner.ASSUMED_RESNET56_IMG_S``).
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as TV

from lsmooth_lib import data as D
from lsmooth_lib import infer
from lsmooth_lib import runner as R
from lsmooth_lib import train as T
from lsmooth_lib.losses import smoothed_cross_entropy
from lsmooth_lib.models import build_model

# model -> (input size, augmentation of its GPU preset, batch size of its GPU preset)
MODELS = {"resnet56": (32, {"pad": 4, "flip": True}, 512), "alexnet": (24, {"pad": 0, "flip": True}, 128)}


class PilImages(Dataset):
    """One PIL image per item, transformed in the worker: the usual torchvision recipe."""

    def __init__(self, split: D.Split, transform):
        self.x = split.images.permute(0, 2, 3, 1).numpy()
        self.y = split.labels.numpy()
        self.transform = transform

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.x[i])), int(self.y[i])


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_rate(model_name, batches, device, num_classes, steps, warmup, fast, kwargs) -> float:
    """Images/s of ``steps`` training steps (after ``warmup``) on the batches of the iterator ``batches``."""
    torch.manual_seed(0)
    model = build_model(model_name, num_classes, **kwargs).to(device)
    if fast:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)
    autocast, scaler = T._autocast(device, enabled=fast)
    model.train()
    total = torch.zeros((), device=device)
    seen, t0 = 0, None
    for i, (x, y) in enumerate(batches):
        if i == warmup:
            sync(device)
            t0, seen = time.perf_counter(), 0
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if fast:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast:
            logits = model(x)
        loss = smoothed_cross_entropy(logits.float(), y, 0.1)
        opt.zero_grad(set_to_none=True)
        if scaler:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        total += loss.detach()
        seen += len(y)
        if i + 1 == warmup + steps:
            break
    sync(device)
    if t0 is None or not torch.isfinite(total):
        raise RuntimeError(f"{model_name}: too few batches for {warmup} + {steps} steps, or a non-finite loss")
    return seen / (time.perf_counter() - t0)


def endless(make):
    while True:
        yield from make()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default=None, help="cuda, cpu, ... (default: the library's pick_device)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per row (default 40 on a GPU, 3 on the CPU)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 5 on a GPU, 1 on the CPU)")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--batch-size", type=int, default=None, help="default: the GPU preset's (512 / 128); 32 on the CPU")
    p.add_argument("--workers", type=int, nargs="+", default=None, help="DataLoader workers (default 0 8; 0 on the CPU)")
    p.add_argument("--dataset", default=None, help="cifar100 or cifar10 (default: the first whose training split is here)")
    p.add_argument("--suggest-scale", action="store_true", help="print only the suggested --est-scale on stdout")
    args = p.parse_args(argv)
    out = sys.stderr if args.suggest_scale else sys.stdout
    say = lambda *a: print(*a, file=out, flush=True)  # noqa: E731
    device = infer.pick_device(args.device)
    gpu = device.type == "cuda"
    steps = args.steps or (40 if gpu else 3)
    warmup = args.warmup if args.warmup is not None else (5 if gpu else 1)
    workers = args.workers if args.workers is not None else ([0, 8] if gpu else [0])
    say(f"torch {torch.__version__}, CUDA {torch.version.cuda or '-'}, cuDNN "
        f"{torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else '-'}, python "
        f"{platform.python_version()}; device: {infer.hardware(device)}; precision of the fast path: "
        f"{T.precision(device, True)}")
    split = None
    for ds in ([args.dataset] if args.dataset else ["cifar100", "cifar10"]):
        try:
            t = time.perf_counter()
            split = D.load_split(ds, "train")
            say(f"{ds}: {len(split)} training images ready in {time.perf_counter() - t:.1f} s")
            break
        except D.DataUnavailableError as err:
            say(f"{ds}: {err}")
    if split is None:
        return 2
    K = split.num_classes
    mean, std = D.DATASETS[split.dataset]["mean"], D.DATASETS[split.dataset]["std"]
    results = dict(torch=torch.__version__, cuda=torch.version.cuda, device=infer.hardware(device), steps=steps)
    on_device = T._on_device(split, device)
    for name in args.models:
        size, aug, preset_batch = MODELS[name]
        batch = args.batch_size or (preset_batch if gpu else 32)
        kwargs = {"lrn": True} if name == "alexnet" else {}
        gen = torch.Generator().manual_seed(0)
        tensor_batches = lambda: D.batches(on_device, batch, input_size=size, augment=aug, shuffle=True,  # noqa: E731
                                           generator=gen, device=device, drop_last=True)
        row = {"batch": batch}
        row["fast"] = train_rate(name, endless(tensor_batches), device, K, steps, warmup, True, kwargs)
        row["device-fp32"] = train_rate(name, endless(tensor_batches), device, K, steps, warmup, False, kwargs)
        tf = TV.Compose([TV.RandomCrop(size, padding=aug["pad"]), TV.RandomHorizontalFlip(), TV.ToTensor(),
                         TV.Normalize(mean, std)])
        for w in workers:
            loader = DataLoader(PilImages(split, tf), batch_size=batch, shuffle=True, num_workers=w, drop_last=True,
                                pin_memory=gpu, persistent_workers=w > 0)
            row[f"loader-w{w}"] = train_rate(name, endless(lambda: iter(loader)), device, K, steps, warmup, False, kwargs)
            del loader
        rates = {k: v for k, v in row.items() if k != "batch"}
        say(f"{name} (batch {batch}): " + ", ".join(f"{k} {v:,.0f} img/s" for k, v in rates.items()))
        say(f"{name}: fast path / " + ", ".join(f"{k} = {row['fast'] / v:.2f}x" for k, v in rates.items() if k != "fast"))
        results[name] = {k: round(v, 1) for k, v in row.items()}
    scale = None
    if "resnet56" in results and gpu:
        measured = results["resnet56"]["fast"]
        scale = min(2.5, max(0.4, R.ASSUMED_RESNET56_IMG_S / measured))
        say(f"ResNet-56 fast path: {measured:,.0f} img/s against the {R.ASSUMED_RESNET56_IMG_S:,} img/s the GPU presets' "
            f"est_gpu_s assume: suggested --est-scale {scale:.2f}")
    results["suggested_est_scale"] = scale
    say(json.dumps(results))
    if args.suggest_scale:
        print(f"{scale:.2f}" if scale else "1")
    return 0


if __name__ == "__main__":
    sys.exit(main())
