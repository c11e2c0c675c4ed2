"""The one way to load data: MNIST, CIFAR-10 and CIFAR-100 as uint8 tensors (chapter 2, appendix B).

Where the images come from:

* ``LSMOOTH_DATA`` names a folder of offline copies (the layout of ``shared/data``: ``MNIST/raw/``
  IDX files, ``cifar10/*.npz`` and ``cifar100/*.npz`` JPEG copies) -> read from there, never online;
* otherwise torchvision downloads the official files into the cache (``LSMOOTH_CACHE``,
  default ``~/.cache/lsmooth``), unless ``LSMOOTH_OFFLINE=1`` forbids the network.

Decoded images are cached once as ``.npy`` (N, C, H, W) uint8; everything after that is tensor
work: a fixed seeded train/validation split of the official training set (the validation part
is for temperature fitting in chapter 3), and batched augmentation (random crop, flip) on the
device that trains, not per-image PIL work in worker processes.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

DATA_ENV = "LSMOOTH_DATA"
OFFLINE_ENV = "LSMOOTH_OFFLINE"
CACHE_ENV = "LSMOOTH_CACHE"
SPLIT_SEED = 0  # the train/validation split is fixed for the whole book, independent of training seeds

DATASETS = {
    "mnist": dict(title="MNIST", num_classes=10, val_size=5000,
                  mean=(0.1307,), std=(0.3081,),
                  offline=("MNIST/raw/train-images-idx3-ubyte", "MNIST/raw/t10k-images-idx3-ubyte")),
    "cifar10": dict(title="CIFAR-10", num_classes=10, val_size=5000,
                    mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616),
                    offline=("cifar10/cifar10_train_jpeg.npz", "cifar10/cifar10_test_jpeg.npz")),
    "cifar100": dict(title="CIFAR-100", num_classes=100, val_size=5000,
                     mean=(0.5071, 0.4865, 0.4409), std=(0.2673, 0.2564, 0.2762),
                     offline=("cifar100/cifar100_train_jpeg.npz", "cifar100/cifar100_test_jpeg.npz")),
    # text: English -> German sentence pairs; "classes" are the shared subword vocabulary (chapter 4)
    "multi30k": dict(title="Multi30k (task 1, en-de)", num_classes=5000, text=True,
                     files={"train": "train", "val": "val", "test": "test_2016_flickr"},
                     url="https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/{file}.{lang}.gz"),
}
SPLITS = ("train", "val", "test")


class DataUnavailableError(FileNotFoundError):
    """A dataset is neither in the offline folder nor downloadable; the message says what to do."""


def _close(name: str, options) -> str:
    import difflib
    near = difflib.get_close_matches(str(name), list(options), n=3, cutoff=0.5)
    return f" Did you mean {', '.join(near)}?" if near else ""


def dataset_info(name: str) -> dict:
    """Static facts about a dataset: title, number of classes, normalisation constants."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}.{_close(name, DATASETS)}")
    return DATASETS[name]


def cache_dir() -> Path:
    """Where decoded arrays (and torchvision downloads) are cached."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "lsmooth")


def _read_offline(name: str, split: str, root: Path):
    info = DATASETS[name]
    path = root / info["offline"][split == "test"]
    if not path.exists():
        raise DataUnavailableError(
            f"{info['title']} ({split}) is missing from the offline folder {root} ({DATA_ENV}): "
            f"expected {path}. Copy the dataset there (layout: shared/data/README.md), point {DATA_ENV} "
            f"at a folder that has it, or unset {DATA_ENV} to download it with torchvision.")
    if name == "mnist":
        from torchvision.datasets import MNIST
        ds = MNIST(root=str(root), train=split != "test", download=False)
        return (ds.data.numpy()[:, None], ds.targets.numpy().astype(np.int64), [c.split(" - ")[-1] for c in ds.classes],
                dict(source="offline copy (IDX, byte-exact)", path=str(path), lossless=True))
    from PIL import Image
    z = np.load(path, allow_pickle=False)
    buf, off = z["jpeg_bytes"], z["jpeg_offsets"]
    images = np.stack([np.asarray(Image.open(io.BytesIO(buf[off[i]:off[i + 1]].tobytes())).convert("RGB"))
                       for i in range(len(off) - 1)])
    md5_ok = hashlib.md5(images.tobytes()).hexdigest() == str(z["decoded_nhwc_md5"])
    if not md5_ok:
        warnings.warn(f"{path}: this JPEG decoder rounds a few pixels differently from the reference decode")
    return (images.transpose(0, 3, 1, 2), z["labels"].astype(np.int64), [str(c) for c in z["class_names"]],
            dict(source="offline copy (JPEG q90 4:4:4, ~36 dB PSNR; not the lossless originals)", path=str(path),
                 lossless=False, reference_decode=md5_ok))


def _download(name: str, split: str):
    info = DATASETS[name]
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
        raise DataUnavailableError(
            f"{info['title']} is not available offline: {OFFLINE_ENV} forbids downloads and {DATA_ENV} is not set. "
            f"Set {DATA_ENV} to a folder of offline copies (e.g. shared/data, layout in its README).")
    import torchvision.datasets as tvd
    cls = {"mnist": tvd.MNIST, "cifar10": tvd.CIFAR10, "cifar100": tvd.CIFAR100}[name]
    root = cache_dir() / "torchvision"
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(30)  # a dead network fails in seconds instead of hanging
    try:
        ds = cls(root=str(root), train=split != "test", download=True)
    except Exception as err:  # torchvision raises URLError, RuntimeError, OSError ... depending on the failure
        raise DataUnavailableError(
            f"could not download {info['title']} with torchvision ({type(err).__name__}: {err}). "
            f"Connect to the internet, or set {DATA_ENV} to a folder of offline copies "
            f"(layout: shared/data/README.md).") from None
    finally:
        socket.setdefaulttimeout(old)
    data = np.asarray(ds.data)
    data = data[:, None] if data.ndim == 3 else data.transpose(0, 3, 1, 2)
    return (data, np.asarray(ds.targets, dtype=np.int64), list(ds.classes),
            dict(source="torchvision download (official files)", path=str(root), lossless=True))


def load_arrays(name: str, split: str = "train"):
    """Official ``train`` or ``test`` images ``(N, C, H, W)`` uint8, labels int64, class names, provenance.

    Decoded once and cached as ``.npy`` under :func:`cache_dir`; later calls load in well under a second.
    """
    dataset_info(name)
    if split not in ("train", "test"):
        raise ValueError(f"official split must be 'train' or 'test'; got {split!r}")
    root = os.environ.get(DATA_ENV)
    tag = "offline" if root else "torchvision"
    stem = cache_dir() / "decoded" / f"{name}_{split}_{tag}"
    meta_path = stem.with_suffix(".json")
    if meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
            images = np.load(f"{stem}_x.npy")
            labels = np.load(f"{stem}_y.npy")
            if len(images) == len(labels) == meta["n"]:
                return torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels), meta["classes"], meta["provenance"]
        except (OSError, ValueError, KeyError, EOFError):  # np.load raises EOFError on an empty file
            pass  # a damaged cache is rebuilt below
    images, labels, classes, prov = _read_offline(name, split, Path(root)) if root else _download(name, split)
    stem.parent.mkdir(parents=True, exist_ok=True)
    for suffix, arr in (("_x.npy", images), ("_y.npy", labels)):
        tmp = Path(f"{stem}{suffix}.tmp")
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(arr))
        os.replace(tmp, f"{stem}{suffix}")
    meta_path.write_text(json.dumps(dict(n=len(labels), classes=classes, provenance=prov)))
    return torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels), classes, prov


def load_text(name: str, split: str = "train") -> tuple[list, list, dict]:
    """English and German sentences of one split of Multi30k (chapter 4), and their provenance.

    ``LSMOOTH_DATA/multi30k/{file}.{en,de}`` when ``LSMOOTH_DATA`` is set; otherwise the release's
    gzipped files are downloaded from the dataset's GitHub repository into the cache (once).
    """
    info = dataset_info(name)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}")
    file = info["files"][split]
    root = os.environ.get(DATA_ENV)
    if root:
        folder = Path(root) / name
        prov = dict(source="offline copy (byte-identical to the release)", path=str(folder), lossless=True)
    else:
        folder = cache_dir() / name
        prov = dict(source="download from github.com/multi30k/dataset", path=str(folder), lossless=True)
    lines = {}
    for lang in ("en", "de"):
        path = folder / f"{file}.{lang}"
        if not path.exists():
            if root:
                raise DataUnavailableError(
                    f"{info['title']} ({split}) is missing from the offline folder {root} ({DATA_ENV}): expected "
                    f"{path}. Copy the dataset there (layout: shared/data/README.md), point {DATA_ENV} at a folder "
                    f"that has it, or unset {DATA_ENV} to download it.")
            _download_text(info["url"].format(file=file, lang=lang), path, info["title"])
        lines[lang] = path.read_text(encoding="utf-8").splitlines()
    if len(lines["en"]) != len(lines["de"]):
        raise DataUnavailableError(f"{folder}: {file}.en and {file}.de have different line counts "
                                   f"({len(lines['en'])} vs {len(lines['de'])}); the copy is damaged. Delete it and reload.")
    return lines["en"], lines["de"], prov


def _download_text(url: str, path: Path, title: str) -> None:
    import gzip
    import urllib.request
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
        raise DataUnavailableError(f"{title} is not available offline: {OFFLINE_ENV} forbids downloads and {DATA_ENV} "
                                   f"is not set. Set {DATA_ENV} to a folder of offline copies (layout: shared/data/README.md).")
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            text = gzip.decompress(resp.read())
    except Exception as err:  # URLError, timeout, BadGzipFile ...
        raise DataUnavailableError(f"could not download {title} from {url} ({type(err).__name__}: {err}). Connect to "
                                   f"the internet, or set {DATA_ENV} to a folder of offline copies.") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(text)
    os.replace(tmp, path)


@dataclass
class Split:
    """Images (uint8, N x C x H x W), labels and class names of one split of a dataset."""
    dataset: str
    split: str
    images: torch.Tensor
    labels: torch.Tensor
    classes: list
    provenance: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def class_index(self, name: str) -> int:
        """Index of a class by name, with a clear error for unknown names."""
        if name in self.classes:
            return self.classes.index(name)
        raise ValueError(f"unknown class {name!r} in {DATASETS[self.dataset]['title']}.{_close(name, self.classes)} "
                         f"Classes: {', '.join(self.classes)}")

    def subset(self, index) -> "Split":
        index = torch.as_tensor(index, dtype=torch.long)
        return Split(self.dataset, self.split, self.images[index], self.labels[index], self.classes, self.provenance)

    def per_class(self, classes, n: int) -> "Split":
        """The first ``n`` examples of each named (or indexed) class, in dataset order (chapter 2)."""
        idx = []
        for c in classes:
            k = self.class_index(c) if isinstance(c, str) else int(c)
            found = torch.nonzero(self.labels == k).flatten()[:n]
            idx.append(found)
        return self.subset(torch.cat(idx))


def load_split(name: str, split: str = "train", limit: int | None = None) -> Split:
    """One split: ``train`` and ``val`` partition the official training set with a fixed seed
    (``val_size`` examples go to ``val``), ``test`` is the official test set.

    ``limit`` keeps the first ``limit`` examples (for smoke tests).
    """
    info = dataset_info(name)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}")
    if info.get("text"):
        from .translation import load_text_split
        return load_text_split(name, split, limit)
    images, labels, classes, prov = load_arrays(name, "test" if split == "test" else "train")
    if split != "test":
        perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(SPLIT_SEED))
        idx = perm[:info["val_size"]] if split == "val" else perm[info["val_size"]:]
        idx = idx.sort().values
        images, labels = images[idx], labels[idx]
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return Split(name, split, images, labels, classes, prov)


def with_label_noise(split: Split, rate: float, seed: int = 0) -> Split:
    """A copy of ``split`` in which a fraction ``rate`` of the labels (exactly ``round(rate * N)`` examples, drawn
    with ``seed``) is replaced by a different class drawn uniformly: symmetric label noise (chapter 6)."""
    if not 0.0 <= float(rate) < 1.0:
        raise ValueError(f"the label-noise rate must lie in [0, 1); got {rate!r}")
    if getattr(split, "is_text", False):
        raise ValueError("label noise is for image classification splits, not translation")
    gen = torch.Generator().manual_seed(seed)
    n, K = len(split), split.num_classes
    flip = torch.randperm(n, generator=gen)[:round(float(rate) * n)]
    labels = split.labels.clone()
    shift = torch.randint(1, K, (len(flip),), generator=gen)  # 1..K-1: never the original class
    labels[flip] = (labels[flip] + shift) % K
    return Split(split.dataset, split.split, split.images, labels, split.classes, split.provenance)


def normalize(x: torch.Tensor, dataset: str) -> torch.Tensor:
    """uint8 images -> float, scaled to [0, 1] and standardised with the dataset's channel statistics."""
    info = dataset_info(dataset)
    mean = torch.tensor(info["mean"], device=x.device).view(1, -1, 1, 1)
    std = torch.tensor(info["std"], device=x.device).view(1, -1, 1, 1)
    return (x.float() / 255 - mean) / std


def random_crop_flip(x: torch.Tensor, size: int, pad: int = 0, flip: bool = False,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Batched augmentation on tensors: zero-pad by ``pad``, crop a random ``size`` x ``size`` window
    per image, and mirror half of the images left-right if ``flip``."""
    B, C, H, W = x.shape
    if pad:
        x = F.pad(x, (pad, pad, pad, pad))
    H, W = H + 2 * pad, W + 2 * pad
    dev = x.device
    oy = torch.randint(0, H - size + 1, (B,), generator=generator, device="cpu").to(dev)
    ox = torch.randint(0, W - size + 1, (B,), generator=generator, device="cpu").to(dev)
    ar = torch.arange(size, device=dev)
    rows = (oy[:, None] + ar)[:, :, None]                    # B, size, 1
    cols = (ox[:, None] + ar)[:, None, :]                    # B, 1, size
    out = x[torch.arange(B, device=dev)[:, None, None], :, rows, cols]   # B, size, size, C
    out = out.permute(0, 3, 1, 2)
    if flip:
        m = (torch.rand(B, generator=generator) < 0.5).to(dev)
        out = torch.where(m[:, None, None, None], out.flip(3), out)
    return out.contiguous()


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """The central ``size`` x ``size`` window of each image (evaluation view of a cropping model)."""
    H, W = x.shape[-2:]
    top, left = (H - size) // 2, (W - size) // 2
    return x[..., top:top + size, left:left + size]


def batches(split: Split, batch_size: int, *, input_size: int | None = None, augment: dict | None = None,
            shuffle: bool = False, generator: torch.Generator | None = None, device="cpu", drop_last: bool = False,
            with_index: bool = False):
    """Iterate over ``(x, y)`` batches: normalised float images on ``device`` and their labels
    (``(x, y, index)`` with ``with_index=True``: the examples' positions in ``split``; ``None`` for text).

    ``augment`` (``{"pad": 4, "flip": True}`` etc.) applies :func:`random_crop_flip` to the model's
    ``input_size``; without it, images larger than ``input_size`` are centre-cropped.
    A text split (chapter 4) yields ``((src, tgt_in), tgt_out)`` batches instead
    (:func:`lsmooth_lib.translation.text_batches`).
    """
    if getattr(split, "is_text", False):
        from .translation import text_batches
        for x, y in text_batches(split, batch_size, shuffle=shuffle, generator=generator, device=device,
                                 drop_last=drop_last):
            yield (x, y) + ((None,) if with_index else ())  # a text batch's targets are tokens, not examples
        return
    images = split.images.to(device)
    labels = split.labels.to(device)
    n = len(labels)
    size = input_size or images.shape[-1]
    order = torch.randperm(n, generator=generator).to(device) if shuffle else torch.arange(n, device=device)
    stop = n - n % batch_size if drop_last and n >= batch_size else n
    for i in range(0, stop, batch_size):
        idx = order[i:i + batch_size]
        x = images[idx]
        if augment:
            x = random_crop_flip(x, size, augment.get("pad", 0), augment.get("flip", False), generator)
        elif x.shape[-1] != size:
            x = center_crop(x, size)
        yield (normalize(x, split.dataset), labels[idx]) + ((idx,) if with_index else ())
