"""Training throughput: the library's tensor pipeline vs a plain torchvision DataLoader + PIL transforms.

    python benchmarks/throughput.py [--models alexnet resnet20] [--batches 30] [--workers 0 2]

Both paths train the same model with the same optimiser step on the same decoded CIFAR-10 images;
only the input pipeline differs.  Measured side by side in one run, reported as images/s and as
ratios.  Also reports the one-off JPEG decode + cache time and the pipeline alone (no model).
Speed targets live here, not in timed tests (machines are noisy).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T

from lsmooth_lib import data as D
from lsmooth_lib.models import build_model
from lsmooth_lib.infer import pick_device

AUG = {"alexnet": dict(size=24, pad=0), "resnet20": dict(size=32, pad=4), "resnet56": dict(size=32, pad=4)}


class PilCifar(Dataset):
    """What a plain torchvision recipe does: one PIL image per item, transformed in the worker."""

    def __init__(self, split: D.Split, transform):
        self.x = split.images.permute(0, 2, 3, 1).numpy()
        self.y = split.labels.numpy()
        self.transform = transform

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.x[i])), int(self.y[i])


def time_decode() -> float:
    """Seconds to decode CIFAR-10 train+test from the offline JPEG copy and write the cache (cold)."""
    old = os.environ.get(D.CACHE_ENV)
    tmp = tempfile.mkdtemp()
    os.environ[D.CACHE_ENV] = tmp
    try:
        t0 = time.perf_counter()
        D.load_arrays("cifar10", "train")
        D.load_arrays("cifar10", "test")
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        D.load_arrays("cifar10", "train")
        D.load_arrays("cifar10", "test")
        warm = time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp)
        if old is None:
            os.environ.pop(D.CACHE_ENV)
        else:
            os.environ[D.CACHE_ENV] = old
    return cold, warm


def run(model_name: str, loader_iter, n_batches: int, device, train: bool = True) -> float:
    """Images per second over ``n_batches`` (after 3 warm-up batches)."""
    model = build_model(model_name, 10).to(device) if train else None
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9) if train else None
    seen, t0 = 0, None
    for i, (x, y) in enumerate(loader_iter):
        if i == 3:
            t0, seen = time.perf_counter(), 0
        x, y = x.to(device), y.to(device)
        if train:
            loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
        seen += len(y)
        if i == n_batches + 2:
            break
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - t0)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["alexnet", "resnet20"])
    p.add_argument("--batches", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    args = p.parse_args()
    device = pick_device()
    results = {"device": str(device), "threads": torch.get_num_threads()}
    cold, warm = time_decode()
    results["decode_cifar10_cold_s"], results["load_cifar10_cached_s"] = round(cold, 2), round(warm, 3)
    split = D.load_split("cifar10", "train")
    for name in args.models:
        a = AUG[name]
        gen = torch.Generator().manual_seed(0)
        tensor_iter = lambda: D.batches(split, args.batch_size, input_size=a["size"], augment={"pad": a["pad"], "flip": True},
                                        shuffle=True, generator=gen, device=device)
        tf = T.Compose([T.RandomCrop(a["size"], padding=a["pad"]), T.RandomHorizontalFlip(), T.ToTensor(),
                        T.Normalize(D.DATASETS["cifar10"]["mean"], D.DATASETS["cifar10"]["std"])])
        row = {}
        row["pipeline_only_tensor"] = run(name, tensor_iter(), 100, device, train=False)
        row["train_tensor"] = run(name, tensor_iter(), args.batches, device)
        for w in args.workers:
            dl = lambda: iter(DataLoader(PilCifar(split, tf), batch_size=args.batch_size, shuffle=True, num_workers=w))
            row[f"pipeline_only_pil_w{w}"] = run(name, dl(), 100, device, train=False)
            row[f"train_pil_w{w}"] = run(name, dl(), args.batches, device)
            row[f"ratio_train_w{w}"] = row["train_tensor"] / row[f"train_pil_w{w}"]
            row[f"ratio_pipeline_w{w}"] = row["pipeline_only_tensor"] / row[f"pipeline_only_pil_w{w}"]
        results[name] = {k: round(v, 2) for k, v in row.items()}
        print(name, json.dumps(results[name]), flush=True)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
