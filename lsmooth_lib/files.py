"""The library's files: the datasets' facts, where their copies, the cache and the zoo live, and how every file is
read and written safely (what :mod:`lsmooth_lib.data` (images) and :mod:`lsmooth_lib.text` (sentences) share).

* :data:`DATASETS` -- static facts of each dataset (title, classes, normalisation, offline file names);
  :func:`dataset_info` looks one up with a clear error;
* :data:`OFFLINE_FILES` -- the size and sha256 of every file read from an offline copy (``LSMOOTH_DATA``),
  checked by :func:`_check_copy` before the file is used;
* the folders: ``LSMOOTH_DATA`` (offline copies), :func:`cache_dir` (``LSMOOTH_CACHE``: decoded arrays,
  downloads), :func:`zoo_dir` (``LSMOOTH_ZOO``: the trained models and the tokenizer they saw);
* :func:`atomic_write` (unique temporary name, then a rename) and :func:`file_lock` (one process fills a cache
  file, the others wait and reuse it);
* the errors every loader raises: :class:`DataUnavailableError`, :class:`DataIntegrityError`, :class:`CacheError`.

It imports no other module of the library: everything that touches a file can import it without a cycle.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

DATA_ENV = "LSMOOTH_DATA"
OFFLINE_ENV = "LSMOOTH_OFFLINE"
CACHE_ENV = "LSMOOTH_CACHE"
ZOO_ENV = "LSMOOTH_ZOO"

DATASETS = {
    "mnist": dict(title="MNIST", num_classes=10, val_size=5000,
                  mean=(0.1307,), std=(0.3081,),
                  offline=("MNIST/raw/train-images-idx3-ubyte", "MNIST/raw/t10k-images-idx3-ubyte"),
                  offline_labels=("MNIST/raw/train-labels-idx1-ubyte", "MNIST/raw/t10k-labels-idx1-ubyte")),
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

# (bytes, sha256) of every file the library reads from an offline copy, by its path under LSMOOTH_DATA.
# Computed from shared/data (its README lists the md5 of the same files; MNIST and Multi30k are byte-exact
# copies of the official releases, so a downloaded Multi30k file is checked against the same hashes).
OFFLINE_FILES = {
    "MNIST/raw/train-images-idx3-ubyte": (47040016, "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    "MNIST/raw/train-labels-idx1-ubyte": (60008, "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    "MNIST/raw/t10k-images-idx3-ubyte": (7840016, "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "MNIST/raw/t10k-labels-idx1-ubyte": (10008, "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    "cifar10/cifar10_train_jpeg.npz": (30814944, "b6c05d55d49467ce8b356a29f0a367b8ef95c7952b1ca05fa56ee33a08245c5b"),
    "cifar10/cifar10_test_jpeg.npz": (6167759, "5674e6667370dad6fb7908f6cd8cf78742cc081547aa9b6f8e3f2c09a7a96598"),
    "cifar100/cifar100_train_jpeg.npz": (31332665, "ac401016758dc80b6b73c2bd35d6b8e86119181fb938e27a61c6bc993e4a1e44"),
    "cifar100/cifar100_test_jpeg.npz": (6305837, "729302bacab668d5aed6dc059afee2b4d4c8b7a3fb866999b103a442f9f7625b"),
    "multi30k/train.en": (1801238, "460a15fbd157e34a7a9957ee388c1ca247fe47af3ef25fb50442af6c274e0fc6"),
    "multi30k/train.de": (2110398, "2c2b73fd2b548fbcde3a875e0a78d6ee94d498bfdee6bd3eae3945779e9ddf72"),
    "multi30k/val.en": (63297, "1f2a23d992769b5b3d209b0a10dd0b77c08cceb1f20dfb97ed0aafa49d107227"),
    "multi30k/val.de": (75981, "660e09eb7e1da2f856ea13ee5ad3cf6d36b3d5b0b733c857e94c5747a3dfc660"),
    "multi30k/test_2016_flickr.en": (62076, "399a4382932c1aadd3ceb9bef1008d388a64c76d4ae4e9d4728c6f4301cac182"),
    "multi30k/test_2016_flickr.de": (70649, "4be6b5b3236b79c25475c6bb829800a7ce559e9ba7a1f6c2394fe4d40be46d16"),
}


class DataUnavailableError(FileNotFoundError):
    """A dataset is neither in the offline folder nor downloadable; the message says what to do."""


class DataIntegrityError(ValueError):
    """A dataset file is there but is not the copy the library expects (truncated, altered, another version).

    The message names the file and says how to restore it.  Deliberately *not* a :class:`DataUnavailableError`:
    callers that treat a missing split as "not on this machine" must never mistake a damaged copy for one.
    """


class CacheError(NotADirectoryError, ValueError):
    """The cache folder (``LSMOOTH_CACHE``) cannot be used: it names a file, or cannot be created or written."""


def _close(name: str, options) -> str:
    import difflib
    near = difflib.get_close_matches(str(name), list(options), n=3, cutoff=0.5)
    return f" Did you mean {', '.join(near)}?" if near else ""


def dataset_info(name: str) -> dict:
    """Static facts about a dataset: title, number of classes, normalisation constants."""
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}.{_close(name, DATASETS)}")
    return DATASETS[name]


def cache_dir() -> Path:
    """Where decoded arrays (and torchvision downloads) are cached: ``LSMOOTH_CACHE``, else ``~/.cache/lsmooth``.

    Raises :class:`CacheError` when that path, or a folder above it, is an existing file.
    """
    env = os.environ.get(CACHE_ENV)
    path = Path(env).expanduser() if env else Path.home() / ".cache" / "lsmooth"
    origin = f"{CACHE_ENV}={env}" if env else f"the default cache folder ({CACHE_ENV} is not set)"
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                where = "is a file" if p == path else f"lies under {p}, which is a file"
                raise CacheError(f"the cache folder {path} ({origin}) {where}, not a folder; set {CACHE_ENV} to a "
                                 f"folder (it is created if missing), or unset it to use ~/.cache/lsmooth")
            break
    return path


def _ensure_dir(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CacheError(f"cannot create the cache folder {folder} ({type(err).__name__}: {err.strerror or err}); "
                         f"set {CACHE_ENV} to a writable folder") from None
    return folder


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()


def atomic_write(path, data) -> None:
    """Write ``data`` (bytes, or a function that writes to a binary file object) to ``path`` atomically.

    The bytes go to a unique temporary file in the same folder (``tempfile.mkstemp``), which then replaces
    ``path`` (``os.replace``): readers see the old file or the new one, never half of one, and two processes
    writing the same file never share a temporary name.  The temporary file is removed if writing fails.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def file_lock(path):
    """Hold an exclusive lock on the file ``path`` (created if missing) for the duration of the ``with`` block.

    ``fcntl.flock`` on Linux and macOS: a second process asking for the same lock waits until the first one
    is done (and then typically finds its result).  Where ``fcntl`` is missing (Windows), or the lock file cannot
    be created or locked (a read-only folder, a file system without locks), the block runs unlocked; that is
    still safe, because every write is :func:`atomic_write` -- the work may merely be done twice.
    Yields whether the lock is held.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not Linux/macOS
        yield False
        return
    try:
        fh = open(path, "a+b")
    except OSError:
        yield False
        return
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def sha256_bytes(data) -> str:
    """sha256 (hex) of bytes or of a contiguous numpy array's memory."""
    if isinstance(data, np.ndarray):
        data = memoryview(np.ascontiguousarray(data)).cast("B")
    return hashlib.sha256(data).hexdigest()


def _restore(rel: str) -> str:
    return (f"restore {rel} from a good copy of the offline data (shared/data; its README lists the md5 of every "
            f"file), or point {DATA_ENV} at a folder that has one")


def _check_copy(path: Path, rel: str, raw: bytes, title: str) -> str:
    """Size, then sha256, of an offline file against :data:`OFFLINE_FILES`; returns the sha256."""
    size, expected = OFFLINE_FILES[rel]
    if len(raw) != size:
        what = "truncated" if len(raw) < size else "longer than the original"
        raise DataIntegrityError(f"{path} is damaged ({what}): it has {len(raw):,} bytes where the offline copy of "
                                 f"{title} has {size:,}; {_restore(rel)}")
    digest = sha256_bytes(raw)
    if digest != expected:
        raise DataIntegrityError(f"{path} is not the expected copy of {title}: its sha256 is {digest[:16]}..., the "
                                 f"library records {expected[:16]}... for {rel} (same size, altered bytes); "
                                 f"{_restore(rel)}")
    return digest


def _offline_root(root) -> Path:
    root = Path(root).expanduser()
    if root.exists() and not root.is_dir():
        raise DataUnavailableError(f"{DATA_ENV}={root} is a file, not a folder; set {DATA_ENV} to the folder of "
                                   f"offline copies (layout: shared/data/README.md), or unset it to download")
    return root


def zoo_dir() -> Path:
    """The zoo folder: ``LSMOOTH_ZOO``, else ``zoo/`` in the source checkout (:mod:`lsmooth_lib.zoo`; the
    tokenizer of chapter 4 lives there too, beside the models trained with it)."""
    env = os.environ.get(ZOO_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "zoo"
