"""Distillation: the teacher run on every student batch vs its logits computed once and looked up (chapter 5).

    python benchmarks/distillation.py [--teacher cpu-resnet20-cifar10-a0-s0] [--batches 20] [--rounds 3]

The CIFAR-10 students of Figure 5 train on un-augmented images, so the teacher's logits never change and
``train.fit`` computes them once.  This measures, side by side in one run (alternating rounds, so machine noise
hits both), the time of one student training step (AlexNet, batch 128, the distillation loss) with the teacher's
forward pass on the batch and with the cached lookup, plus the one-off cost of the cache (a forward pass over the
45,000 training images).  Reported as steps/s, their ratio, and the break-even point in epochs.
"""
from __future__ import annotations

import argparse
import time

import torch

from lsmooth_lib import data as D, zoo
from lsmooth_lib.infer import predict
from lsmooth_lib.kd import distillation_loss
from lsmooth_lib.models import build_model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--teacher", default="cpu-resnet20-cifar10-a0-s0")
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    torch.manual_seed(0)
    teacher, _ = zoo.load(args.teacher, device="cpu")
    train = D.load_split("cifar10", "train")
    t0 = time.perf_counter()
    cache = predict(teacher, train, 1000)
    cache_s = time.perf_counter() - t0
    student = build_model("alexnet", 10)
    opt = torch.optim.SGD(student.parameters(), lr=0.01, momentum=0.9)
    gen = torch.Generator().manual_seed(0)

    def steps(cached: bool) -> float:
        student.train()
        it = D.batches(train, 128, input_size=24, shuffle=True, generator=gen, drop_last=True, with_index=True)
        t = time.perf_counter()
        for _ in range(args.batches):
            x, y, idx = next(it)
            with torch.no_grad():
                z_t = cache[idx] if cached else teacher(x)
            loss = distillation_loss(student(x), z_t, y, beta=1.0, temperature=4.0, student_temperature=1.0)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return args.batches / (time.perf_counter() - t)

    steps(True), steps(False)  # warm-up
    live, cached = [], []
    for _ in range(args.rounds):
        live.append(steps(False))
        cached.append(steps(True))
    live_s, cached_s = max(live), max(cached)  # the best round of each: least disturbed by other processes
    per_epoch = len(train) // 128
    saved_per_epoch = per_epoch / live_s - per_epoch / cached_s
    print(f"threads {torch.get_num_threads()}, teacher {args.teacher}, student AlexNet, batch 128")
    print(f"teacher run on every batch: {live_s:6.2f} steps/s  ({per_epoch / live_s:6.1f} s per epoch)")
    print(f"cached teacher logits:      {cached_s:6.2f} steps/s  ({per_epoch / cached_s:6.1f} s per epoch)")
    print(f"speed-up {cached_s / live_s:.2f}x; the cache costs {cache_s:.1f} s once "
          f"(break-even after {cache_s / max(saved_per_epoch, 1e-9):.2f} epochs)")


if __name__ == "__main__":
    main()
