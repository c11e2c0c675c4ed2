"""The one way to load data: MNIST, CIFAR-10 and CIFAR-100 as uint8 tensors (chapter 2, appendix B), and the one
entry point for every dataset's splits and batches (Multi30k's text is :mod:`lsmooth_lib.text`'s, dispatched to
from :func:`load_split` and :func:`batches`).

Where the images come from:

* ``LSMOOTH_DATA`` names a folder of offline copies (the layout of ``shared/data``: ``MNIST/raw/``
  IDX files, ``cifar10/*.npz`` and ``cifar100/*.npz`` JPEG copies) -> read from there, never online;
* otherwise torchvision downloads the official files into the cache (``LSMOOTH_CACHE``,
  default ``~/.cache/lsmooth``), unless ``LSMOOTH_OFFLINE=1`` forbids the network.

Decoded images are cached once as ``.npy`` (N, C, H, W) uint8; everything after that is tensor
work: a fixed seeded train/validation split of the official training set (the validation part
is for temperature fitting in chapter 3), and batched augmentation (random crop, flip) on the
device that trains, not per-image PIL work in worker processes.

Every file is checked before it is used (the book's numbers come from these arrays, so a damaged copy must
fail loudly, never decode into a silently different dataset):

* each offline file against the size and sha256 recorded in :mod:`lsmooth_lib.files` (:data:`OFFLINE_FILES`,
  computed from ``shared/data``, whose README lists the same files' md5s), MNIST's IDX files also by their own
  header (magic number, dimensions, size; read by :func:`read_idx`, not torchvision), and the decoded labels of every
  image dataset against the official lists' sha256 (:data:`LABELS_SHA256`) -- a bad file raises
  :class:`DataIntegrityError`, which names the file and says how to restore it;
* the decoded cache is keyed by what it was computed from (the source files' paths and sha256), records the
  sha256 of its arrays and is checked against them (and the labels against :data:`LABELS_SHA256`) on every
  load; a damaged or stale cache is rebuilt;
* writes are atomic with unique temporary names (:func:`atomic_write`), and decoding holds a per-file lock
  (:func:`file_lock`), so two processes filling one fresh cache never crash: one decodes, the other waits and
  reuses its result.

Hashing costs little next to decoding: about 25 ms per 30 MB source file and 0.1 s for the 150 MB decoded
CIFAR training array, on every :func:`load_arrays` call.

The datasets' facts, the folders and the file primitives (:data:`DATASETS`, :func:`dataset_info`,
:func:`cache_dir`, :func:`atomic_write`, :func:`file_lock`, the errors, ...) live in :mod:`lsmooth_lib.files`, which
this module and :mod:`lsmooth_lib.text` share; they are imported here, so ``data.dataset_info`` etc. work as before.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import checks
from .files import (CACHE_ENV, DATA_ENV, DATASETS, OFFLINE_ENV, OFFLINE_FILES, SPLITS, CacheError,  # noqa: F401
                    DataIntegrityError, DataUnavailableError, _check_copy, _close, _ensure_dir, _offline_root, _restore,
                    atomic_write, cache_dir, dataset_info, file_lock, sha256_bytes)
from .text import load_text_split, text_batches

SPLIT_SEED = 0  # the train/validation split is fixed for the whole book, independent of training seeds

# sha256 of the official labels of each image dataset's train and test sets, as int64 little-endian in official
# order.  The offline copies' labels equal the official lists, so these check a torchvision download too.
LABELS_SHA256 = {
    ("mnist", "train"): "e474323ac02fc156161b0bbb1f8c9cfeb327a74bcd9f9680a8385269a24f566c",
    ("mnist", "test"): "2fd8de6bdb8d11780b4b96dc57847bcfe6953f7c32aa48bfcd8237c3b7847243",
    ("cifar10", "train"): "f5cfe00b0f00968c0cc5ff3b1d2de51b10e33efa277c2986f4e0fa63e58c9f4f",
    ("cifar10", "test"): "cbb7365de8ed11f05cc4c3a1e7f78144127c5e851efd83762fb18202461230bb",
    ("cifar100", "train"): "8bf4935e7c77a3096270043c6f3b221b6ecb9c63d1a08608e9af66cff17e977a",
    ("cifar100", "test"): "80031c23f8300724c6fbc588e4bccbe41c6392041782148727bb497b0132c4ad",
}
MNIST_CLASSES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
CACHE_FORMAT = 2  # decoded-cache layout; caches of other formats are ignored (and rebuilt beside them)


def labels_sha256(labels) -> str:
    """sha256 of class labels as int64 little-endian (the form :data:`LABELS_SHA256` records)."""
    return sha256_bytes(np.ascontiguousarray(np.asarray(labels), dtype="<i8"))


def _check_labels(name: str, split: str, labels: np.ndarray, source, how: str) -> None:
    expected = LABELS_SHA256[(name, split)]
    digest = labels_sha256(labels)
    if digest != expected:
        raise DataIntegrityError(f"the {DATASETS[name]['title']} {split} labels read from {source} are not the official "
                                 f"ones (sha256 {digest[:16]}..., expected {expected[:16]}...): the copy is damaged "
                                 f"or another version; {how}")


def _missing(info: dict, split: str, root: Path, path: Path) -> DataUnavailableError:
    return DataUnavailableError(
        f"{info['title']} ({split}) is missing from the offline folder {root} ({DATA_ENV}): "
        f"expected {path}. Copy the dataset there (layout: shared/data/README.md), point {DATA_ENV} "
        f"at a folder that has it, or unset {DATA_ENV} to download it with torchvision.")


IDX_MAGIC = {2049: ("labels", 1), 2051: ("images", 3)}  # unsigned-byte IDX files: 0x0000 08 <ndim>


def read_idx(path, raw: bytes | None = None, *, magic: int, shape=()) -> np.ndarray:
    """The uint8 array of an IDX file (MNIST's format), checked: magic number (2049 labels, 2051 images), header,
    trailing dimensions ``shape`` and exact size; a bad file raises :class:`DataIntegrityError` naming it."""
    path = Path(path)
    raw = path.read_bytes() if raw is None else raw
    kind, ndim = IDX_MAGIC[magic]
    header = 4 + 4 * ndim
    restore = _restore(path.name)
    if len(raw) < header:
        raise DataIntegrityError(f"{path} is not an IDX {kind} file: it has {len(raw)} bytes, fewer than the "
                                 f"{header}-byte header; {restore}")
    found = struct.unpack(">I", raw[:4])[0]
    if found != magic:
        raise DataIntegrityError(f"{path} is not an IDX {kind} file: it starts with the magic number {found} "
                                 f"(0x{found:08x}) instead of {magic} (0x{magic:08x}); {restore}")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    if tuple(dims[1:]) != tuple(shape):
        raise DataIntegrityError(f"{path}: the IDX header gives {kind} of shape {dims[1:]}, expected {tuple(shape)}; "
                                 f"{restore}")
    size = header + int(np.prod(dims))
    if len(raw) != size:
        what = "truncated" if len(raw) < size else "longer than its header says"
        raise DataIntegrityError(f"{path} is {what}: its header announces {dims[0]:,} {kind} ({size:,} bytes) but the "
                                 f"file has {len(raw):,} bytes; {restore}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _offline_sources(name: str, split: str, root: Path) -> list:
    """``[(rel, path, raw bytes, sha256)]`` of the offline files of one official split, each checked: present,
    format (IDX header), size and sha256 -- in that order, so that the error says the most specific thing."""
    info = DATASETS[name]
    rels = [info["offline"][split == "test"]]
    if "offline_labels" in info:
        rels.append(info["offline_labels"][split == "test"])
    out = []
    for rel in rels:
        path = root / rel
        if not path.is_file():
            raise _missing(info, split, root, path)
        raw = path.read_bytes()
        if name == "mnist":
            magic = 2049 if "labels" in rel else 2051
            read_idx(path, raw, magic=magic, shape=() if magic == 2049 else (28, 28))
        out.append((rel, path, raw, _check_copy(path, rel, raw, info["title"])))
    return out


def _decode_offline(name: str, split: str, sources: list):
    """Images (N, C, H, W), labels, classes and provenance from verified offline files (see _offline_sources)."""
    info = DATASETS[name]
    (rel, path, raw, sha), *rest = sources
    how = _restore(rel)
    if name == "mnist":
        _, path_y, raw_y, sha_y = rest[0]
        images = read_idx(path, raw, magic=2051, shape=(28, 28))
        labels = read_idx(path_y, raw_y, magic=2049).astype(np.int64)
        if len(images) != len(labels):
            raise DataIntegrityError(f"{path} has {len(images)} images but {path_y} {len(labels)} labels; {how}")
        _check_labels(name, split, labels, path_y, how)
        return (images[:, None].copy(), labels, list(MNIST_CLASSES),
                dict(source="offline copy (IDX, byte-exact)", path=str(path), lossless=True,
                     sha256={path.name: sha, path_y.name: sha_y}))
    from PIL import Image
    try:
        z = np.load(io.BytesIO(raw), allow_pickle=False)
        buf, off = z["jpeg_bytes"], z["jpeg_offsets"]
        labels = z["labels"].astype(np.int64)
        classes = [str(c) for c in z["class_names"]]
        reference_md5 = str(z["decoded_nhwc_md5"])
    except Exception as err:  # noqa: BLE001 - BadZipFile, EOFError, KeyError, ValueError ... (after the hash check:
        # only a numpy that cannot read this npz gets here)
        raise DataIntegrityError(f"{path} cannot be read as the {info['title']} npz copy ({type(err).__name__}: "
                                 f"{err}); {how}") from None
    if len(off) != len(labels) + 1 or len(classes) != info["num_classes"]:
        raise DataIntegrityError(f"{path} holds {len(off) - 1} images, {len(labels)} labels and {len(classes)} class "
                                 f"names; {how}")
    _check_labels(name, split, labels, path, how)
    images = np.empty((len(labels), 32, 32, 3), dtype=np.uint8)
    for i in range(len(labels)):
        try:
            images[i] = np.asarray(Image.open(io.BytesIO(buf[off[i]:off[i + 1]].tobytes())).convert("RGB"))
        except Exception as err:  # noqa: BLE001 - PIL raises OSError, ValueError, ...
            raise DataIntegrityError(f"{path}: JPEG {i} cannot be decoded ({type(err).__name__}: {err}); {how}") from None
    md5_ok = hashlib.md5(images.tobytes()).hexdigest() == reference_md5
    if not md5_ok:  # the file itself is verified (sha256 above): the difference is this Pillow/libjpeg build
        warnings.warn(f"{path}: the file is the verified copy, but this Pillow/libjpeg build decodes a few pixels "
                      f"differently from the reference decode (harmless, about one grey level)")
    return (images.transpose(0, 3, 1, 2), labels, classes,
            dict(source="offline copy (JPEG q90 4:4:4, ~36 dB PSNR; not the lossless originals)", path=str(path),
                 lossless=False, reference_decode=md5_ok, sha256={path.name: sha}))


def _download(name: str, split: str):
    info = DATASETS[name]
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
        raise DataUnavailableError(
            f"{info['title']} is not available offline: {OFFLINE_ENV} forbids downloads and {DATA_ENV} is not set. "
            f"Set {DATA_ENV} to a folder of offline copies (e.g. shared/data, layout in its README).")
    import torchvision.datasets as tvd
    cls = {"mnist": tvd.MNIST, "cifar10": tvd.CIFAR10, "cifar100": tvd.CIFAR100}[name]
    root = _ensure_dir(cache_dir() / "torchvision")
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
    labels = np.asarray(ds.targets, dtype=np.int64)
    _check_labels(name, split, labels, root, f"delete {root} to download the files again")
    classes = [c.split(" - ")[-1] for c in ds.classes] if name == "mnist" else list(ds.classes)
    return (data, labels, classes, dict(source="torchvision download (official files)", path=str(root), lossless=True))


def _cache_stem(name: str, split: str, source: dict) -> Path:
    key = sha256_bytes(json.dumps(source, sort_keys=True).encode())[:16]
    tag = "offline" if source.get("kind") == "offline" else "torchvision"
    return cache_dir() / "decoded" / f"{name}_{split}_{tag}_{key}"


def _read_cache(stem: Path, name: str, split: str, source: dict):
    """The cached arrays if the cache was built from ``source`` and is intact (hashes), else ``None``."""
    try:
        meta = json.loads(stem.with_suffix(".json").read_text())
        if meta.get("format") != CACHE_FORMAT or meta.get("source") != source:
            return None
        images = np.load(f"{stem}_x.npy", allow_pickle=False)
        labels = np.load(f"{stem}_y.npy", allow_pickle=False)
        if (images.dtype != np.uint8 or list(images.shape) != meta["x_shape"] or labels.dtype != np.int64
                or labels.shape != (meta["n"],)):
            return None
        if sha256_bytes(images) != meta["x_sha256"] or labels_sha256(labels) != LABELS_SHA256[(name, split)]:
            return None
        return images, labels, meta["classes"], meta["provenance"]
    except (OSError, ValueError, KeyError, TypeError, EOFError):  # missing, truncated, not JSON ... -> rebuilt
        return None


def load_arrays(name: str, split: str = "train"):
    """Official ``train`` or ``test`` images ``(N, C, H, W)`` uint8, labels int64, class names, provenance.

    The source files are verified on every call (size, format, sha256; see the module's notes), and the decoded
    arrays are cached as ``.npy`` under :func:`cache_dir`, keyed by those files' paths and hashes; later calls
    load in about a second.  Two processes that decode the same split into one cache take turns (a lock per
    split): the second reuses the first one's result.
    """
    info = dataset_info(name)
    if info.get("text"):
        raise ValueError(f"{info['title']} is text, not images; use load_split({name!r}, ...) or "
                         f"lsmooth_lib.text.load_text({name!r}, ...)")
    if split not in ("train", "test"):
        raise ValueError(f"official split must be 'train' or 'test'; got {split!r}")
    root = os.environ.get(DATA_ENV)
    if root:
        root = _offline_root(root)
        sources = _offline_sources(name, split, root)
        source = dict(kind="offline", files={str(path.resolve()): sha for _, path, _, sha in sources})
    else:
        sources = None
        source = dict(kind="torchvision", root=str((cache_dir() / "torchvision").resolve()))
    stem = _cache_stem(name, split, source)
    cached = _read_cache(stem, name, split, source)
    if cached is None:
        _ensure_dir(stem.parent)
        with file_lock(stem.with_suffix(".lock")):
            cached = _read_cache(stem, name, split, source)  # another process may have decoded it meanwhile
            if cached is None:
                images, labels, classes, prov = (_decode_offline(name, split, sources) if sources
                                                 else _download(name, split))
                images = np.ascontiguousarray(images)
                try:
                    atomic_write(f"{stem}_x.npy", lambda fh: np.save(fh, images))
                    atomic_write(f"{stem}_y.npy", lambda fh: np.save(fh, labels))
                    meta = dict(format=CACHE_FORMAT, source=source, n=len(labels), x_shape=list(images.shape),
                                x_sha256=sha256_bytes(images), classes=classes, provenance=prov)
                    atomic_write(stem.with_suffix(".json"), json.dumps(meta, indent=1).encode())  # written last
                except OSError as err:
                    raise CacheError(f"cannot write the decoded {info['title']} arrays to {stem.parent} "
                                     f"({type(err).__name__}: {err.strerror or err}); set {CACHE_ENV} to a writable "
                                     f"folder") from None
                cached = images, labels, classes, prov
    images, labels, classes, prov = cached
    return torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels), classes, prov


@dataclass
class Split:
    """Images (uint8, N x C x H x W), labels and class names of one split of a dataset."""
    dataset: str
    split: str
    images: torch.Tensor
    labels: torch.Tensor
    classes: list
    provenance: dict = field(default_factory=dict)

    def __post_init__(self):
        # structure always; the label range on the CPU (on an accelerator it would cost a synchronisation)
        dataset_info(self.dataset)
        if not isinstance(self.images, torch.Tensor) or self.images.ndim != 4 or self.images.dtype != torch.uint8:
            raise TypeError(f"a Split's images must be a uint8 tensor (N, C, H, W); got {checks.describe(self.images)}")
        if isinstance(self.classes, str) or not self.classes or not all(isinstance(c, str) for c in self.classes):
            raise TypeError(f"a Split's classes must be a non-empty list of class names; got {checks.describe(self.classes)}")
        if not isinstance(self.labels, torch.Tensor) or self.labels.ndim != 1 or self.labels.dtype == torch.bool \
                or self.labels.is_floating_point() or self.labels.is_complex():
            raise TypeError(f"a Split's labels must be a 1-D integer tensor; got {checks.describe(self.labels)}")
        if len(self.labels) != len(self.images):
            raise ValueError(f"a Split needs one label per image: {len(self.images)} images but {len(self.labels)} labels")
        if self.labels.dtype != torch.long:
            self.labels = self.labels.long()
        if self.labels.device.type == "cpu" and len(self.labels):
            checks.values(labels={"labels": (self.labels, len(self.classes))})

    def __len__(self):
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def class_index(self, name: str) -> int:
        """Index of a class by name, with a clear error for unknown names."""
        if not isinstance(name, str):
            raise TypeError(f"a class name must be a string; got {checks.describe(name)} (for indices use class_id)")
        if name in self.classes:
            return self.classes.index(name)
        raise ValueError(f"unknown class {name!r} in {DATASETS[self.dataset]['title']}.{_close(name, self.classes)} "
                         f"Classes: {', '.join(self.classes)}")

    def class_id(self, c) -> int:
        """Index of a class given by name or by index: names must exist, indices lie in ``[0, K)`` (a negative
        index is refused -- ``-1`` would silently mean the last class)."""
        if isinstance(c, str):
            return self.class_index(c)
        return checks.index("class index", c, self.num_classes,
                            what=f"classes in {DATASETS[self.dataset]['title']}: {', '.join(self.classes[:10])}"
                                 f"{', ...' if self.num_classes > 10 else ''}")

    def subset(self, index) -> "Split":
        """The examples at the positions ``index`` (a list or 1-D tensor of positions in ``[0, N)``, or a boolean
        mask with one entry per example), in that order."""
        idx = checks.as_tensor("index", index)
        if idx.numel() == 0 and idx.ndim == 1:
            idx = idx.long()
        if idx.dtype == torch.bool:
            if idx.shape != (len(self),):
                raise ValueError(f"a boolean mask must have one entry per example ({len(self)}); got {checks.describe(idx)}")
            idx = torch.nonzero(idx).flatten()
        if idx.is_floating_point() or idx.is_complex() or idx.ndim != 1:
            raise TypeError(f"index must be a 1-D list of integer positions (or a boolean mask); got {checks.describe(idx)}")
        if len(idx) and (int(idx.min()) < 0 or int(idx.max()) >= len(self)):
            raise ValueError(f"positions must lie in [0, {len(self) - 1}] (the split has {len(self)} examples; negative "
                             f"positions are not accepted); got values from {int(idx.min())} to {int(idx.max())}")
        idx = idx.long()
        return Split(self.dataset, self.split, self.images[idx.to(self.images.device)],
                     self.labels[idx.to(self.labels.device)], self.classes, self.provenance)

    def per_class(self, classes, n: int) -> "Split":
        """The first ``n`` examples of each named (or indexed) class, in dataset order (chapter 2); a class with
        fewer examples gives what it has."""
        n = checks.count("n", n, hint=" (examples per class)")
        if isinstance(classes, (str, int)) or not hasattr(classes, "__iter__"):
            raise TypeError(f"classes must be a list of class names or indices, e.g. ['cat', 'dog']; got {classes!r}")
        ids = [self.class_id(c) for c in classes]
        if len(set(ids)) != len(ids):
            raise ValueError(f"classes names a class twice: {list(classes)} are the classes {ids}")
        if not ids:
            raise ValueError("classes is empty; name at least one class")
        idx = [torch.nonzero(self.labels == k).flatten()[:n].cpu() for k in ids]
        return self.subset(torch.cat(idx))


def load_split(name: str, split: str = "train", limit: int | None = None) -> Split:
    """One split: ``train`` and ``val`` partition the official training set with a fixed seed
    (``val_size`` examples go to ``val``), ``test`` is the official test set.

    ``limit`` keeps the first ``limit`` examples (for smoke tests).
    """
    info = dataset_info(name)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}")
    if limit is not None:
        limit = checks.count("limit", limit, hint=" (the number of examples to keep), or None for all")
    if info.get("text"):
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
    if getattr(split, "is_text", False):
        raise ValueError("label noise is for image classification splits, not translation")
    if not isinstance(split, Split):
        raise TypeError(f"with_label_noise needs a Split (load_split(...)); got {checks.describe(split)}")
    rate = checks.in_range("the label-noise rate", rate, 0.0, 1.0, hi_open=True)
    seed = checks.count("seed", seed, minimum=0)
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
    C = len(info["mean"])
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != C:
        raise ValueError(f"images must be a tensor (N, {C}, H, W) for {info['title']}; got {checks.describe(x)}")
    if x.dtype != torch.uint8:
        raise TypeError(f"images must be uint8 (0-255, as the splits hold them); got {checks.describe(x)} -- "
                        f"normalising float images would scale them a second time")
    mean = torch.tensor(info["mean"], device=x.device).view(1, -1, 1, 1)
    std = torch.tensor(info["std"], device=x.device).view(1, -1, 1, 1)
    return (x.float() / 255 - mean) / std


def random_crop_flip(x: torch.Tensor, size: int, pad: int = 0, flip: bool = False,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Batched augmentation on tensors: zero-pad by ``pad``, crop a random ``size`` x ``size`` window
    per image, and mirror half of the images left-right if ``flip``."""
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise ValueError(f"x must be a batch of images (B, C, H, W); got {checks.describe(x)}")
    pad = checks.count("pad", pad, minimum=0)
    B, C, H, W = x.shape
    size = checks.count("size", size)
    if size > min(H, W) + 2 * pad:
        raise ValueError(f"the crop size {size} is larger than the padded images ({H} x {W} + 2 x {pad}); use a "
                         f"size <= {min(H, W) + 2 * pad} or more padding")
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
    if not isinstance(x, torch.Tensor) or x.ndim < 2:
        raise ValueError(f"x must be images (..., H, W); got {checks.describe(x)}")
    H, W = x.shape[-2:]
    size = checks.count("size", size)
    if size > min(H, W):
        raise ValueError(f"the crop size {size} is larger than the images ({H} x {W}); a centre crop can only shrink "
                         f"them (use a size <= {min(H, W)})")
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
    (:func:`lsmooth_lib.text.text_batches`).  The arguments are checked when it is called, not at the
    first batch.
    """
    batch_size = checks.count("batch_size", batch_size)
    if getattr(split, "is_text", False):
        inner = text_batches(split, batch_size, shuffle=shuffle, generator=generator, device=device, drop_last=drop_last)
        # a text batch's targets are tokens, not examples
        return ((x, y) + ((None,) if with_index else ()) for x, y in inner)
    if not isinstance(split, Split):
        raise TypeError(f"batches needs a Split (load_split(...)); got {checks.describe(split)}")
    if augment is not None and not isinstance(augment, dict):
        raise TypeError(f"augment must be a dict such as {{'pad': 4, 'flip': True}} or None; got {augment!r}")
    unknown = set(augment or {}) - {"pad", "flip"}
    if unknown:
        raise ValueError(f"unknown augmentation keys {sorted(unknown)}; known: 'pad' (pixels of zero padding before the "
                         f"random crop) and 'flip' (mirror half of the images)")
    pad = checks.count("augment['pad']", (augment or {}).get("pad", 0), minimum=0)
    H, W = split.images.shape[-2:]
    if input_size is not None:
        input_size = checks.count("input_size", input_size)
        room = min(H, W) + (2 * pad if augment else 0)
        if input_size > room:
            raise ValueError(f"input_size {input_size} is larger than the {H} x {W} images"
                             f"{f' padded by {pad}' if augment else ''}; the model must take inputs of at most {room} pixels")
    return _image_batches(split, batch_size, input_size, augment, shuffle, generator, device, drop_last, with_index)


def _image_batches(split, batch_size, input_size, augment, shuffle, generator, device, drop_last, with_index):
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
