"""lsmooth_lib.data: splits of the offline datasets, augmentation, batching, and clear failures."""
import hashlib
import os
import socket
import time
from collections import Counter

import numpy as np
import pytest
import torch

from lsmooth_lib import data as D

needs = pytest.mark.data


def _hashes(images: torch.Tensor) -> list[bytes]:
    flat = images.reshape(len(images), -1).numpy()
    return [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in flat]


# ---------------------------------------------------------------- sizes, dtypes, layout
@needs
@pytest.mark.parametrize("name,shape,sizes,K", [
    ("cifar10", (3, 32, 32), (45000, 5000, 10000), 10),
    ("mnist", (1, 28, 28), (55000, 5000, 10000), 10),
    ("cifar100", (3, 32, 32), (45000, 5000, 10000), 100),
])
def test_split_sizes_dtypes_shapes(name, shape, sizes, K):
    for split, n in zip(D.SPLITS, sizes):
        s = D.load_split(name, split)
        assert (s.dataset, s.split) == (name, split)
        assert len(s) == n
        assert s.images.dtype == torch.uint8 and s.labels.dtype == torch.int64
        assert tuple(s.images.shape) == (n, *shape)
        assert s.num_classes == K == D.dataset_info(name)["num_classes"]
        assert int(s.labels.min()) == 0 and int(s.labels.max()) == K - 1
        assert s.provenance["path"].startswith(os.environ["LSMOOTH_DATA"])


@needs
def test_cifar10_official_test_order_and_names():
    test = D.load_split("cifar10", "test")
    assert test.labels[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]
    assert test.classes == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    assert Counter(test.labels.tolist()) == {k: 1000 for k in range(10)}
    assert test.provenance["lossless"] is False  # the JPEG copy says so


@needs
def test_mnist_official_test_order_and_pixels():
    test = D.load_split("mnist", "test")
    assert test.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert test.provenance["lossless"] is True
    # README: test pixel mean 0.1325 on the 0-1 scale
    assert float(test.images.float().mean() / 255) == pytest.approx(0.1325, abs=5e-4)


@needs
def test_cifar100_classes():
    test = D.load_split("cifar100", "test")
    assert test.labels[:10].tolist() == [49, 33, 72, 51, 71, 92, 15, 14, 23, 0]
    assert test.class_index("beaver") == 4 and test.class_index("otter") == 55 and test.class_index("seal") == 72


@needs
def test_limit_keeps_the_first_examples():
    full = D.load_split("cifar10", "val")
    part = D.load_split("cifar10", "val", limit=100)
    assert len(part) == 100
    assert torch.equal(part.images, full.images[:100]) and torch.equal(part.labels, full.labels[:100])


# ---------------------------------------------------------------- the train/validation split
@needs
@pytest.mark.parametrize("name", ["cifar10", "mnist"])
def test_train_and_val_partition_the_official_training_set(name):
    images, labels, _, _ = D.load_arrays(name, "train")
    train, val = D.load_split(name, "train"), D.load_split(name, "val")
    # labels: per-class counts add up
    assert Counter(train.labels.tolist()) + Counter(val.labels.tolist()) == Counter(labels.tolist())
    # images: every official example lands in exactly one part, in official order
    index = {}
    for i, h in enumerate(_hashes(images)):
        index.setdefault(h, []).append(i)
    unique = {h: ix[0] for h, ix in index.items() if len(ix) == 1}  # exact duplicates are ambiguous
    assert len(unique) > len(labels) - 100
    taken = []
    for part in (train, val):
        keys = _hashes(part.images)
        known = torch.tensor([h in unique for h in keys])
        pos = [unique[h] for h in keys if h in unique]
        assert len(pos) > len(part) - 100
        assert pos == sorted(pos), "a split must keep the official order"
        assert torch.equal(labels[torch.tensor(pos)], part.labels[known]), "images and labels must stay paired"
        taken += pos
    assert len(taken) == len(set(taken)), "train and val overlap"
    assert set(taken) == set(unique.values()), "some official examples are in neither part"


@needs
def test_split_is_deterministic_and_independent_of_the_global_seed():
    torch.manual_seed(1)
    a = D.load_split("cifar10", "val")
    torch.manual_seed(2)
    torch.rand(10)
    b = D.load_split("cifar10", "val")
    assert torch.equal(a.labels, b.labels) and torch.equal(a.images, b.images)
    # the val part is not simply the first or the last 5000 official images
    official = D.load_arrays("cifar10", "train")[1]
    assert not torch.equal(a.labels, official[:5000]) and not torch.equal(a.labels, official[-5000:])
    # and it is roughly class-balanced, as a random subset is
    counts = torch.bincount(a.labels, minlength=10)
    assert int(counts.min()) > 400 and int(counts.max()) < 600


@needs
def test_cache_is_reused_and_a_damaged_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("LSMOOTH_CACHE", str(tmp_path))
    x1, y1, c1, _ = D.load_arrays("mnist", "test")
    metas = list((tmp_path / "decoded").glob("mnist_test_offline_*.json"))  # keyed by the source's path and sha256
    assert len(metas) == 1
    stem = metas[0].with_suffix("")
    assert (stem.parent / f"{stem.name}_x.npy").exists() and stem.with_suffix(".json").exists()
    assert c1 == ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    for damage in (b"", b"\x93NUMPY garbage"):  # empty file, then a truncated header
        (stem.parent / f"{stem.name}_x.npy").write_bytes(damage)
        x2, y2, c2, _ = D.load_arrays("mnist", "test")
        assert torch.equal(x1, x2) and torch.equal(y1, y2) and c1 == c2
    stem.with_suffix(".json").write_text("{not json")
    x3, _, _, _ = D.load_arrays("mnist", "test")
    assert torch.equal(x1, x3)


# ---------------------------------------------------------------- classes
@needs
def test_class_index_and_per_class():
    test = D.load_split("cifar10", "test")
    assert test.class_index("cat") == 3
    with pytest.raises(ValueError, match=r"unknown class 'airplan'.*Did you mean airplane\?.*Classes: airplane, "
                                         r"automobile, bird, cat, deer, dog, frog, horse, ship, truck"):
        test.class_index("airplan")
    sub = test.per_class(["cat", 8, "frog"], 4)
    assert sub.labels.tolist() == [3] * 4 + [8] * 4 + [6] * 4
    first = lambda k: torch.nonzero(test.labels == k).flatten()[:4]  # noqa: E731
    expected = torch.cat([first(3), first(8), first(6)])
    assert expected[:2].tolist() == [0, 8] and expected[4:6].tolist() == [1, 2]  # README: 3 8 8 0 6 6 1 6 3 1
    assert torch.equal(sub.images, test.images[expected])
    assert sub.classes == test.classes and sub.dataset == "cifar10"


# ---------------------------------------------------------------- augmentation
def _windows(padded: torch.Tensor, size: int):
    """All (oy, ox) offsets at which a size x size window of ``padded`` (C, H, W) is taken."""
    H, W = padded.shape[-2:]
    return {(oy, ox): padded[:, oy:oy + size, ox:ox + size] for oy in range(H - size + 1) for ox in range(W - size + 1)}


@pytest.mark.parametrize("B,C,H,size,pad", [(300, 3, 32, 32, 4), (200, 3, 32, 24, 0), (200, 1, 28, 28, 2)])
def test_random_crop_is_an_exact_window_of_the_padded_image(B, C, H, size, pad):
    g = torch.Generator().manual_seed(0)
    x = torch.randint(1, 256, (B, C, H, H), generator=g, dtype=torch.uint8)  # no zeros: padding is visible
    out = D.random_crop_flip(x, size, pad=pad, generator=torch.Generator().manual_seed(1))
    assert out.shape == (B, C, size, size) and out.dtype == x.dtype
    padded = torch.nn.functional.pad(x, (pad,) * 4)
    seen = set()
    for b in range(B):
        hits = [off for off, w in _windows(padded[b], size).items() if torch.equal(w, out[b])]
        assert len(hits) == 1, f"crop {b} is not a window of the padded image"
        seen.add(hits[0])
    n_off = H + 2 * pad - size + 1
    ys, xs = {o[0] for o in seen}, {o[1] for o in seen}
    assert ys == set(range(n_off)) and xs == set(range(n_off)), "every offset, extremes included, must occur"


def test_flip_mirrors_half_of_the_crops():
    x = torch.randint(0, 256, (200, 3, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    plain = D.random_crop_flip(x, 28, pad=2, flip=False, generator=torch.Generator().manual_seed(5))
    flipped = D.random_crop_flip(x, 28, pad=2, flip=True, generator=torch.Generator().manual_seed(5))
    same = [torch.equal(p, f) for p, f in zip(plain, flipped)]
    mirrored = [torch.equal(p.flip(-1), f) for p, f in zip(plain, flipped)]
    assert all(s != m for s, m in zip(same, mirrored)), "each image is either kept or mirrored left-right"
    assert 60 < sum(mirrored) < 140
    # no augmentation at all: identity
    assert torch.equal(D.random_crop_flip(x, 32), x)


def test_random_crop_follows_the_generator():
    x = torch.randint(0, 256, (16, 3, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    a = D.random_crop_flip(x, 32, 4, True, torch.Generator().manual_seed(3))
    b = D.random_crop_flip(x, 32, 4, True, torch.Generator().manual_seed(3))
    c = D.random_crop_flip(x, 32, 4, True, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_center_crop():
    x = torch.arange(2 * 3 * 32 * 32).reshape(2, 3, 32, 32)
    assert torch.equal(D.center_crop(x, 24), x[..., 4:28, 4:28])
    assert torch.equal(D.center_crop(x, 32), x)
    y = torch.arange(25).reshape(1, 1, 5, 5)
    assert D.center_crop(y, 1).item() == 12


# ---------------------------------------------------------------- batches
@needs
def test_batches_normalise_cifar():
    val = D.load_split("cifar10", "val", limit=2000)
    x, y = next(D.batches(val, 2000))
    assert x.dtype == torch.float32 and x.shape == (2000, 3, 32, 32)
    mean, std = x.mean((0, 2, 3)), x.std((0, 2, 3))
    assert mean.abs().max() < 0.05, mean
    assert (std - 1).abs().max() < 0.05, std
    torch.testing.assert_close(x, D.normalize(val.images, "cifar10"))
    assert torch.equal(y, val.labels)


def _toy_split(n, C=3, H=32, name="cifar10"):
    images = torch.arange(n, dtype=torch.uint8)[:, None, None, None].expand(n, C, H, H).contiguous()
    return D.Split(name, "train", images, torch.arange(n) % 10, [str(i) for i in range(10)])


def test_batches_cover_every_example_once_in_order():
    s = _toy_split(100)
    got = list(D.batches(s, 32))
    assert [len(y) for _, y in got] == [32, 32, 32, 4]
    assert torch.equal(torch.cat([y for _, y in got]), s.labels)
    xs = torch.cat([x for x, _ in got])
    torch.testing.assert_close(xs, D.normalize(s.images, "cifar10"))


def test_batches_drop_last_and_shuffle():
    s = _toy_split(100)
    got = list(D.batches(s, 32, drop_last=True, shuffle=True, generator=torch.Generator().manual_seed(0)))
    assert [len(y) for _, y in got] == [32, 32, 32]
    # shuffled: 96 distinct examples, not in dataset order
    ids = torch.cat([torch.round(x[:, 0, 0, 0] * 0.2470 * 255 + 0.4914 * 255) for x, _ in got]).long()
    assert len(set(ids.tolist())) == 96 and ids.tolist() != sorted(ids.tolist())
    assert torch.equal(torch.cat([y for _, y in got]), ids % 10), "images and labels stay paired"
    full = list(D.batches(s, 32, shuffle=True, generator=torch.Generator().manual_seed(0)))
    assert sorted(torch.cat([y for _, y in full]).tolist()) == sorted(s.labels.tolist())


def test_batches_crop_to_input_size():
    s = _toy_split(10)
    x, _ = next(D.batches(s, 10, input_size=24))
    assert x.shape == (10, 3, 24, 24)
    x, _ = next(D.batches(s, 10, input_size=24, augment={"pad": 0, "flip": True},
                          generator=torch.Generator().manual_seed(0)))
    assert x.shape == (10, 3, 24, 24)
    x, _ = next(D.batches(s, 10, augment={"pad": 4}, generator=torch.Generator().manual_seed(0)))
    assert x.shape == (10, 3, 32, 32)


# ---------------------------------------------------------------- failures
def test_unknown_dataset_and_split():
    with pytest.raises(ValueError, match=r"unknown dataset 'cifar-10'.*Did you mean cifar10"):
        D.load_split("cifar-10")
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'; known: mnist, cifar10, cifar100"):
        D.dataset_info("imagenet")
    with pytest.raises(ValueError, match="split must be one of"):
        D.load_split("mnist", "validation")
    with pytest.raises(ValueError, match="official split"):
        D.load_arrays("mnist", "val")


@pytest.mark.parametrize("name,title", [("cifar10", "CIFAR-10"), ("mnist", "MNIST"), ("cifar100", "CIFAR-100")])
def test_offline_folder_without_the_dataset(tmp_path, monkeypatch, name, title):
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("LSMOOTH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("LSMOOTH_CACHE", str(tmp_path / "cache"))
    with pytest.raises(D.DataUnavailableError, match=rf"{title} \(train\) is missing from the offline folder "
                                                     rf".*LSMOOTH_DATA") as err:
        D.load_split(name, "val")
    assert str(tmp_path / "data") in str(err.value)
    assert isinstance(err.value, FileNotFoundError)


def test_offline_mode_without_data_fails_fast_without_network(tmp_path, monkeypatch):
    monkeypatch.delenv("LSMOOTH_DATA", raising=False)
    monkeypatch.setenv("LSMOOTH_OFFLINE", "1")
    monkeypatch.setenv("LSMOOTH_CACHE", str(tmp_path))
    attempts = []

    def no_network(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    t0 = time.perf_counter()
    with pytest.raises(D.DataUnavailableError, match=r"CIFAR-100 is not available offline: LSMOOTH_OFFLINE "
                                                     r"forbids downloads and LSMOOTH_DATA is not set"):
        D.load_split("cifar100", "test")
    assert time.perf_counter() - t0 < 5
    assert attempts == []
    assert not (tmp_path / "torchvision").exists()


def test_normalize_uses_dataset_statistics():
    x = torch.full((1, 1, 2, 2), 255, dtype=torch.uint8)
    assert torch.allclose(D.normalize(x, "mnist"), torch.full((1, 1, 2, 2), (1 - 0.1307) / 0.3081))
    x3 = torch.zeros(1, 3, 1, 1, dtype=torch.uint8)
    expected = -torch.tensor([0.5071, 0.4865, 0.4409]) / torch.tensor([0.2673, 0.2564, 0.2762])
    assert torch.allclose(D.normalize(x3, "cifar100").flatten(), expected)
    assert np.isfinite(D.normalize(x3, "cifar10").numpy()).all()
