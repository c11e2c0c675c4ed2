"""No silent wrong answers: every bad input gets a clear error, every file is checked, concurrent jobs are safe.

One test per case a careful user tried (damaged dataset copies, bad class choices, bad sentences, devices that
are not there, nan logits, mismatched labels), plus the general rules: every public function checks types,
shapes and ranges at the door and refuses empty inputs instead of returning nan.  Damaged copies are built in
``tmp_path``; the shared data and the checkout's cache are never modified.
"""
import json
import math
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from lsmooth_lib import calibration as C
from lsmooth_lib import checks
from lsmooth_lib import data as D
from lsmooth_lib import distillation as KD
from lsmooth_lib import geometry as G
from lsmooth_lib import information as I
from lsmooth_lib import losses as L
from lsmooth_lib import text as TX
from lsmooth_lib import train as T
from lsmooth_lib import translation as TR
from lsmooth_lib.models import build_model

REPO = Path(__file__).resolve().parent.parent
needs = pytest.mark.data


# ================================================================ damaged dataset copies
def _copy(tmp_path, *rels) -> Path:
    """A fresh offline folder in tmp_path holding copies of ``rels``; LSMOOTH_DATA/LSMOOTH_CACHE are pointed there."""
    root = tmp_path / "data"
    for rel in rels:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(os.environ["LSMOOTH_DATA"]) / rel, root / rel)
    return root


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """``make(*rels)``: an offline folder of copies in tmp_path, with LSMOOTH_DATA and a fresh LSMOOTH_CACHE set."""
    def make(*rels):
        root = _copy(tmp_path, *rels)
        monkeypatch.setenv("LSMOOTH_DATA", str(root))
        monkeypatch.setenv("LSMOOTH_CACHE", str(tmp_path / "cache"))
        return root
    return make


CIFAR_TEST = "cifar10/cifar10_test_jpeg.npz"
MNIST_TEST = ("MNIST/raw/t10k-images-idx3-ubyte", "MNIST/raw/t10k-labels-idx1-ubyte")


@needs
def test_truncated_cifar_npz_names_the_file_and_how_to_restore_it(offline):
    root = offline(CIFAR_TEST)
    path = root / CIFAR_TEST
    path.write_bytes(path.read_bytes()[:1_000_000])
    with pytest.raises(D.DataIntegrityError, match=r"cifar10_test_jpeg\.npz is damaged \(truncated\): it has "
                                                   r"1,000,000 bytes where .* has 6,167,759; restore .*shared/data") as err:
        D.load_split("cifar10", "test")
    assert str(path) in str(err.value)
    assert not isinstance(err.value, D.DataUnavailableError)  # a damaged copy is not "missing on this machine"


def _rewrite_npz(path: Path, **changes) -> None:
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    for k, fn in changes.items():
        arrays[k] = fn(arrays[k].copy())
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _flip_jpeg_byte(buf):
    buf[1000] ^= 0xFF
    return buf


def _swap_labels(labels):
    i, j = 0, int(np.flatnonzero(labels != labels[0])[0])
    labels[[i, j]] = labels[[j, i]]
    return labels


@needs
def test_cifar_copy_with_a_flipped_jpeg_byte_and_swapped_labels_is_refused_not_blamed_on_the_decoder(offline):
    root = offline(CIFAR_TEST)
    _rewrite_npz(root / CIFAR_TEST, jpeg_bytes=_flip_jpeg_byte, labels=_swap_labels)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the old code warned that "this JPEG decoder rounds pixels differently"
        with pytest.raises(D.DataIntegrityError, match=r"cifar10_test_jpeg\.npz .*(sha256|bytes).*restore"):
            D.load_arrays("cifar10", "test")
    assert not (Path(os.environ["LSMOOTH_CACHE"]) / "decoded").exists() or not list(
        (Path(os.environ["LSMOOTH_CACHE"]) / "decoded").glob("*.npy")), "nothing may be cached from a bad copy"


@needs
def test_the_decoded_labels_are_checked_against_the_official_lists(offline, monkeypatch):
    # a copy whose file hash were somehow accepted (here: patched) is still stopped by the labels' own hash
    root = offline(CIFAR_TEST)
    path = root / CIFAR_TEST
    _rewrite_npz(path, labels=_swap_labels)
    raw = path.read_bytes()
    monkeypatch.setitem(D.OFFLINE_FILES, CIFAR_TEST, (len(raw), D.sha256_bytes(raw)))
    with pytest.raises(D.DataIntegrityError, match=r"CIFAR-10 test labels read from .*cifar10_test_jpeg\.npz are not "
                                                   r"the official ones"):
        D.load_arrays("cifar10", "test")


@needs
def test_truncated_mnist_idx_file(offline):
    root = offline(*MNIST_TEST)
    path = root / MNIST_TEST[0]
    path.write_bytes(path.read_bytes()[:100_016])
    with pytest.raises(D.DataIntegrityError, match=r"t10k-images-idx3-ubyte is truncated: its header announces "
                                                   r"10,000 images \(7,840,016 bytes\) but the file has 100,016"):
        D.load_split("mnist", "test")


@needs
def test_mnist_idx_file_with_a_changed_magic_byte(offline):
    root = offline(*MNIST_TEST)
    path = root / MNIST_TEST[1]
    raw = bytearray(path.read_bytes())
    raw[3] = 0x02  # 2049 -> 2050
    path.write_bytes(bytes(raw))
    with pytest.raises(D.DataIntegrityError, match=r"t10k-labels-idx1-ubyte is not an IDX labels file: it starts "
                                                   r"with the magic number 2050 .* instead of 2049"):
        D.load_split("mnist", "test")


@needs
def test_mnist_idx_file_with_an_altered_pixel_fails_the_hash(offline):
    root = offline(*MNIST_TEST)
    path = root / MNIST_TEST[0]
    raw = bytearray(path.read_bytes())
    raw[5000] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(D.DataIntegrityError, match=r"t10k-images-idx3-ubyte is not the expected copy of MNIST: "
                                                   r"its sha256 is"):
        D.load_arrays("mnist", "test")


@needs
def test_missing_mnist_labels_file_offline_says_what_to_do_not_download_true(offline):
    offline(MNIST_TEST[0])  # the images only
    with pytest.raises(D.DataUnavailableError, match=r"MNIST \(test\) is missing from the offline folder .*"
                                                     r"t10k-labels-idx1-ubyte") as err:
        D.load_split("mnist", "test")
    assert "download=True" not in str(err.value)


def test_lsmooth_cache_naming_a_file_is_a_clear_error(tmp_path, monkeypatch):
    f = tmp_path / "not_a_folder"
    f.write_text("x")
    for value in (f, f / "sub"):
        monkeypatch.setenv("LSMOOTH_CACHE", str(value))
        with pytest.raises(D.CacheError, match=r"LSMOOTH_CACHE=.*(is a file|which is a file), not a folder; set "
                                               r"LSMOOTH_CACHE to a folder") as err:
            D.cache_dir()
        assert isinstance(err.value, NotADirectoryError) and isinstance(err.value, ValueError)
    if D.DATA_ENV in os.environ:
        with pytest.raises(D.CacheError):
            D.load_arrays("mnist", "test")


def test_lsmooth_data_naming_a_file_is_a_clear_error(tmp_path, monkeypatch):
    f = tmp_path / "data.txt"
    f.write_text("x")
    monkeypatch.setenv("LSMOOTH_DATA", str(f))
    monkeypatch.setenv("LSMOOTH_CACHE", str(tmp_path / "cache"))
    with pytest.raises(D.DataUnavailableError, match=r"LSMOOTH_DATA=.*data\.txt is a file, not a folder"):
        D.load_arrays("cifar10", "test")


_DECODE = """
import hashlib, sys
from lsmooth_lib import data as D
decode = D._decode_offline
def counted(*args):
    print("DECODED", flush=True)
    return decode(*args)
D._decode_offline = counted
x, y, classes, prov = D.load_arrays("cifar10", "test")
print("HASH", hashlib.sha256(x.numpy().tobytes() + y.numpy().tobytes()).hexdigest(), flush=True)
"""


@needs
def test_two_processes_decoding_into_one_fresh_cache_both_succeed(tmp_path):
    env = {**os.environ, "LSMOOTH_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", _DECODE], cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-2000:]
    hashes = {line for out, _ in outs for line in out.splitlines() if line.startswith("HASH")}
    assert len(hashes) == 1, "both processes must get identical arrays"
    decodes = sum(out.count("DECODED") for out, _ in outs)
    assert decodes == 1, "one process decodes, the other waits for the lock and reuses the result"
    decoded = tmp_path / "cache" / "decoded"
    assert not [p for p in decoded.iterdir() if p.name.endswith(".tmp")], "no temporary file is left behind"
    x, y, _, _ = D.load_arrays("cifar10", "test")  # the shared cache is intact for a third reader


@needs
def test_cache_is_keyed_by_source_and_a_tampered_cache_is_never_served(offline, tmp_path, monkeypatch):
    offline(*MNIST_TEST)
    x1, y1, _, prov = D.load_arrays("mnist", "test")
    assert prov["path"].startswith(str(tmp_path / "data")) and prov["sha256"]
    decoded = tmp_path / "cache" / "decoded"
    meta_path, = decoded.glob("mnist_test_offline_*.json")
    stem = meta_path.with_suffix("")
    # a self-consistent but wrong cache (two labels swapped, its own hashes updated) is rebuilt, not served
    y_bad = _swap_labels(np.load(f"{stem}_y.npy"))
    np.save(f"{stem}_y.npy", y_bad)
    x2, y2, _, _ = D.load_arrays("mnist", "test")
    assert torch.equal(y2, y1) and torch.equal(x2, x1)
    # another folder with the same (good) files gets its own cache entry, with its own provenance
    other = tmp_path / "data2"
    shutil.copytree(tmp_path / "data", other)
    monkeypatch.setenv("LSMOOTH_DATA", str(other))
    _, y3, _, prov3 = D.load_arrays("mnist", "test")
    assert prov3["path"].startswith(str(other)) and torch.equal(y3, y1)
    assert len(list(decoded.glob("mnist_test_offline_*.json"))) == 2


@needs
def test_damaged_multi30k_file_is_refused(offline):
    root = offline("multi30k/val.en", "multi30k/val.de")
    path = root / "multi30k/val.de"
    text = path.read_bytes()
    path.write_bytes(text.replace(b"Hund", b"Katz", 1))
    with pytest.raises(D.DataIntegrityError, match=r"val\.de is not the expected Multi30k .* file multi30k/val\.de"):
        TX.load_text("multi30k", "val")


def test_load_arrays_of_a_text_dataset_says_what_to_use():
    with pytest.raises(ValueError, match=r"is text, not images; use load_split\('multi30k', \.\.\.\) or "
                                         r"lsmooth_lib\.text\.load_text"):
        D.load_arrays("multi30k", "train")


def test_atomic_write_uses_unique_temporary_names_and_cleans_up(tmp_path):
    target = tmp_path / "f.bin"
    D.atomic_write(target, b"abc")
    assert target.read_bytes() == b"abc"

    def fail(fh):
        fh.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        D.atomic_write(target, fail)
    assert target.read_bytes() == b"abc" and sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]
    with D.file_lock(tmp_path / "f.lock") as held:
        assert held in (True, False)


# ================================================================ classes, splits, batches
def _toy_split(n_per_class=7, K=10):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n_per_class * K, 3, 24, 24), generator=g, dtype=torch.uint8)
    return D.Split("cifar10", "val", images, torch.arange(K).repeat(n_per_class), [f"c{k}" for k in range(K)])


def test_project_classes_refuses_bad_indices_and_counts():
    torch.manual_seed(0)
    model = build_model("alexnet", 10).eval()
    split = _toy_split()
    with pytest.raises(ValueError, match=r"class index -1 is outside \[0, 9\] .*negative indices are not accepted"):
        G.project_classes(model, split, [0, 1, -1])
    with pytest.raises(ValueError, match=r"class index 10 is outside \[0, 9\]"):
        G.project_classes(model, split, [0, 1, 10])
    with pytest.raises(ValueError, match=r"n must be a whole number >= 1"):
        G.project_classes(model, split, [0, 1, 2], n=-1)
    with pytest.raises(TypeError, match=r"n must be a whole number"):
        G.project_classes(model, split, [0, 1, 2], n=2.5)
    with pytest.raises(ValueError, match=r"three different classes"):
        G.project_classes(model, split, ["c3", 3, 4])  # the same class by name and by index
    absent = split.subset(torch.nonzero(split.labels != 9).flatten())
    with pytest.raises(ValueError, match=r"no examples of 'c9'"):
        G.project_classes(model, absent, [0, 1, 9])
    assert len(G.project_classes(model, split, [0, 1, 2], n=3).labels) == 9  # and good input still works


def test_split_per_class_subset_and_limit_check_their_arguments():
    split = _toy_split()
    with pytest.raises(ValueError, match="n must be a whole number >= 1"):
        split.per_class([0], -1)
    with pytest.raises(ValueError, match="names a class twice"):
        split.per_class(["c1", 1], 2)
    with pytest.raises(ValueError, match=r"positions must lie in \[0, 69\]"):
        split.subset([0, 70])
    with pytest.raises(ValueError, match=r"positions must lie in \[0, 69\]"):
        split.subset([-1])
    with pytest.raises(TypeError, match="integer positions"):
        split.subset([0.5])
    mask = split.labels == 3  # a boolean mask selects, instead of being read as positions 0 and 1
    assert split.subset(mask).labels.tolist() == [3] * 7
    with pytest.raises(ValueError, match="one label per image"):
        D.Split("cifar10", "val", split.images, split.labels[:-1], split.classes)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\]"):
        D.Split("cifar10", "val", split.images[:1], torch.tensor([10]), split.classes)
    with pytest.raises(TypeError, match="labels must be a 1-D integer tensor"):
        D.Split("cifar10", "val", split.images[:1], torch.tensor([1.0]), split.classes)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="limit must be a whole number >= 1"):
            D.load_split("cifar10", "test", limit=bad)


def test_crops_batches_and_normalize_check_their_arguments():
    x = torch.zeros(2, 3, 32, 32, dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"crop size 40 is larger than the images \(32 x 32\)"):
        D.center_crop(x, 40)
    with pytest.raises(ValueError, match=r"crop size 40 is larger than the padded images"):
        D.random_crop_flip(x, 40, pad=2)
    with pytest.raises(ValueError, match="pad must be a whole number >= 0"):
        D.random_crop_flip(x, 24, pad=-1)
    with pytest.raises(TypeError, match="images must be uint8"):
        D.normalize(x.float(), "cifar10")
    with pytest.raises(ValueError, match=r"images must be a tensor \(N, 1, H, W\) for MNIST"):
        D.normalize(x, "mnist")
    split = _toy_split()
    with pytest.raises(ValueError, match="batch_size must be a whole number >= 1"):
        D.batches(split, 0)  # checked when called, not at the first batch
    with pytest.raises(ValueError, match=r"unknown augmentation keys \['crop'\]"):
        D.batches(split, 10, augment={"crop": 4})
    with pytest.raises(ValueError, match="input_size 32 is larger than the 24 x 24 images"):
        D.batches(split, 10, input_size=32)
    with pytest.raises(ValueError, match="label-noise rate"):
        D.with_label_noise(split, float("nan"))


# ================================================================ translation
def _tiny(K, seed=0):
    torch.manual_seed(seed)
    return build_model("transformer", K, d_model=16, heads=2, layers=1, d_ff=32, dropout=0.0).eval()


@pytest.fixture(scope="module")
def vocab_model():
    """A tiny untrained Transformer with the shared tokenizer's vocabulary (zoo/tokenizers, committed)."""
    return _tiny(TR.tokenizer().get_piece_size())


@pytest.mark.parametrize("sentences,error,match", [
    ([""], ValueError, r"sentences\[0\] is empty; there is nothing to translate"),
    (["A dog runs.", "   "], ValueError, r"sentences\[1\] is empty"),
    (["x" * 10_000], ValueError, r"sentences\[0\] has 10001 subword pieces; the model reads at most MAX_TOKENS = 128"),
    (["a\ud800b"], ValueError, r"sentences\[0\] is not valid Unicode text: surrogates not allowed '\\ud800' at "
                               r"position 1"),
    (["😀😀"], ValueError, r"has no piece the tokenizer knows"),
    ("A dog runs.", TypeError, r"sentences must be a list of strings, e.g. translate\(model, \[sentence\]\)"),
    ([b"A dog"], TypeError, r"sentences\[0\] must be a string"),
])
def test_translate_refuses_bad_sentences(vocab_model, sentences, error, match):
    with pytest.raises(error, match=match):
        TR.translate(vocab_model, sentences, beam=1, max_extra=2)


def test_translate_of_a_good_sentence_still_works(vocab_model):
    out = TR.translate(vocab_model, ["A dog runs."], beam=1, max_extra=2)
    assert len(out) == 1 and isinstance(out[0], str)
    with pytest.raises(ValueError, match="vocabulary of 40 pieces but the tokenizer 5000"):
        TR.translate(_tiny(40), ["A dog runs."])


@pytest.mark.parametrize("src,error,match", [
    ([[5, 99]], ValueError, r"src\[0\] holds ids outside the model's vocabulary of 40 pieces .*\[99\]"),
    ([[5, -3]], ValueError, r"outside the model's vocabulary"),
    ([[5, 0, 6]], ValueError, r"reserved markers \(0 pad, 2 begin, 3 end\): \[0\]"),
    ([[]], ValueError, r"src\[0\] is empty"),
    ([[5.0, 6.0]], TypeError, r"src\[0\] must be a list of integer piece ids"),
    (["a dog"], TypeError, r"use translate for text"),
    ([list(range(4, 40)) * 4], ValueError, r"has 144 pieces; the model reads at most MAX_TOKENS = 128"),
])
def test_beam_search_refuses_bad_sources(src, error, match):
    with pytest.raises(error, match=match):
        TR.beam_search(_tiny(40), src, beam=1, max_extra=2)


@pytest.mark.parametrize("kw,match", [(dict(temperature=float("nan")), "temperature"),
                                      (dict(temperature=float("inf")), "temperature"),
                                      (dict(beam=2.5), "beam"), (dict(max_extra=-1), "max_extra"),
                                      (dict(max_extra=600), "positions"), (dict(alpha=-1), "alpha")])
def test_beam_search_refuses_bad_settings(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        TR.beam_search(_tiny(40), [[5, 6]], **kw)


def test_bleu_refuses_empty_and_non_text_input():
    with pytest.raises(ValueError, match="BLEU of no sentences is undefined"):
        TR.bleu([], [])
    with pytest.raises(TypeError, match="hypotheses must be a list of sentences"):
        TR.bleu("ein Hund", "ein Hund")
    with pytest.raises(TypeError, match=r"hypotheses\[0\] is a list of 2 items; .*decode piece ids"):
        TR.bleu([[5, 6]], ["ein Hund"])
    with pytest.raises(ValueError, match="1 hypotheses but 2 references"):
        TR.bleu(["ein Hund"], ["ein Hund", "eine Katze"])
    sentence = "ein brauner Hund läuft über die grüne Wiese ."
    assert TR.bleu([sentence], [sentence]) == pytest.approx(100.0)


# ================================================================ devices
def test_cuda_requested_without_a_gpu_fails_before_any_data_is_loaded(monkeypatch):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    monkeypatch.setenv("LSMOOTH_DEVICE", "cuda")

    def no_data(*args, **kwargs):
        raise AssertionError("data were loaded before the device was checked")

    monkeypatch.setattr(D, "load_split", no_data)
    with pytest.raises(ValueError, match=r"LSMOOTH_DEVICE='cuda' asks for CUDA, but this machine has no usable CUDA "
                                         r"GPU .*unset LSMOOTH_DEVICE .* or set it to 'cpu'"):
        T.fit(dict(dataset="mnist", model="mlp800", epochs=1), progress=False)
    with pytest.raises(ValueError, match=r"device='cuda:1' asks for CUDA.*pass device='cpu'"):
        T.pick_device("cuda:1")


@pytest.mark.parametrize("name", ["gpu", "cuda:x", "meta", "tpu", "cpu cpu"])
def test_bogus_device_names_list_the_valid_forms(monkeypatch, name):
    monkeypatch.setenv("LSMOOTH_DEVICE", name)
    with pytest.raises(ValueError, match=rf"LSMOOTH_DEVICE='{name}' is not a device this library runs on; use one of "
                                         r"'cpu', 'cuda', 'cuda:N' \(N = 0, 1, ...\) or 'mps'"):
        T.pick_device()
    assert T.pick_device("cpu") == torch.device("cpu")  # an explicit argument wins over the variable


def test_device_choice_defaults_and_cpu():
    assert T.pick_device(torch.device("cpu")).type == "cpu"
    assert T.pick_device(" cpu ").type == "cpu"


# ================================================================ logits, labels, temperatures: the general rules
Z4, Y4 = torch.randn(4, 10, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1, 2, 3])
Z100 = torch.randn(100, 10, generator=torch.Generator().manual_seed(1))
Y100 = torch.randint(0, 10, (100,), generator=torch.Generator().manual_seed(2))

def _probs(z):
    """Softmax probabilities of well-formed logits; anything else is passed on unchanged (to be refused)."""
    ok = isinstance(z, torch.Tensor) and z.ndim == 2 and z.is_floating_point() and len(z)
    return torch.softmax(z, 1) if ok else z


# (name, call(logits, labels)) of every public function that takes logits and labels
WITH_LABELS = [
    ("smoothed_cross_entropy", lambda z, y: L.smoothed_cross_entropy(z, y, 0.1)),
    ("confidence_penalty", lambda z, y: L.confidence_penalty(z, y, 0.1)),
    ("reliability_bins", lambda z, y: C.reliability_bins(z, y)),
    ("ece", lambda z, y: C.ece(z, y)),
    ("nll", lambda z, y: C.nll(z, y)),
    ("fit_temperature", lambda z, y: C.fit_temperature(z, y)),
    ("calibration_report", lambda z, y: C.calibration_report(z, y, z, y)),
    ("calibration_table", lambda z, y: C.calibration_table(z, y, [1.0])),
    ("distillation_loss", lambda z, y: KD.distillation_loss(z, z, y, beta=0.5)),
    ("equivalent_smoothing", lambda z, y: KD.equivalent_smoothing(z, y)),
    ("stability", lambda z, y: KD.stability(_probs(z), y)),
    ("confused_triple", lambda z, y: G.confused_triple(z, y, torch.randn(10, 5))),
]
IDS = [name for name, _ in WITH_LABELS]


@pytest.mark.parametrize("name,call", WITH_LABELS, ids=IDS)
def test_nan_or_inf_logits_raise_instead_of_a_nan_result(name, call):
    for bad in (float("nan"), float("inf")):
        z = Z4.clone()
        z[1, 2] = bad
        with pytest.raises(ValueError, match=r"must be finite; got \d+ nan and \d+ inf values"):
            call(z, Y4)


@pytest.mark.parametrize("name,call", WITH_LABELS, ids=IDS)
def test_labels_must_match_the_rows_of_the_logits(name, call):
    with pytest.raises(ValueError, match=r"one label per row: 4 rows of \w+, but got 3 labels"):
        call(Z4, Y4[:3])


def test_ece_with_100_logits_and_90_labels():
    with pytest.raises(ValueError, match=r"labels must have one label per row: 100 rows of logits, but got 90 labels"):
        C.ece(Z100, Y100[:90])


@pytest.mark.parametrize("name,call", WITH_LABELS, ids=IDS)
@pytest.mark.parametrize("z,y,error,match", [
    (Z4[0], Y4[:1], ValueError, r"must be a 2-D tensor .*for a single example use"),    # 1-D logits
    (Z4, Y4[:, None], ValueError, r"must be a 1-D tensor of class indices"),             # (N, 1) labels
    (Z4, Y4.float(), TypeError, r"must be integer class indices; got a float32 tensor"), # float labels
    (Z4, torch.tensor([0, 1, 2, 10]), ValueError, r"must lie in \[0, 9\] \(K = 10 classes\)"),
    (Z4, torch.tensor([0, 1, -1, 3]), ValueError, r"must lie in \[0, 9\]"),
    (Z4[:0], Y4[:0], ValueError, r"at least 1 row|empty"),                               # empty: never nan
    ("logits", Y4, TypeError, r"must be a tensor"),
])
def test_wrong_shapes_types_and_ranges(name, call, z, y, error, match):
    with pytest.raises(error, match=match):
        call(z, y)


@pytest.mark.parametrize("t", [0, -1.0, float("nan"), float("inf"), "2"])
def test_temperatures_must_be_positive_and_finite(t):
    calls = [lambda: C.confidences(Z4, t), lambda: C.ece(Z4, Y4, temperature=t), lambda: C.nll(Z4, Y4, t),
             lambda: C.calibration_table(Z4, Y4, [1.0, t]), lambda: KD.teacher_targets(Z4, t),
             lambda: KD.equivalent_smoothing(Z4, Y4, t), lambda: KD.distillation_loss(Z4, Z4, Y4, temperature=t)]
    for call in calls:
        with pytest.raises((ValueError, TypeError), match="temperature"):
            call()


@pytest.mark.parametrize("n_bins", [0, -3, 2.5, True])
def test_bin_counts_must_be_whole_numbers(n_bins):
    with pytest.raises((ValueError, TypeError), match="n_bins must be a whole number >= 1"):
        C.ece(Z4, Y4, n_bins=n_bins)


def test_ece_of_empty_bins_and_empty_temperature_lists():
    empty = {"count": torch.zeros(15, dtype=torch.float64), "acc": torch.zeros(15), "conf": torch.zeros(15)}
    with pytest.raises(ValueError, match="the bins hold no predictions"):
        C.ece_of_bins(empty)
    with pytest.raises(ValueError, match="temperatures is empty"):
        C.calibration_table(Z4, Y4, [])


def test_soft_targets_must_be_distributions_of_the_right_shape():
    good = torch.softmax(Z4, 1)
    with pytest.raises(ValueError, match="targets must have the shape of the logits"):
        L.soft_cross_entropy(Z4, good[:, :5])
    with pytest.raises(ValueError, match=r"targets must be probability vectors .* pass softmax outputs, not logits"):
        L.soft_cross_entropy(Z4, Z4)
    with pytest.raises(ValueError, match="p and q must be non-empty probability vectors of the same shape"):
        L.kl_divergence(good, good[:2])
    with pytest.raises(ValueError, match="p must be probability vectors"):
        L.kl_divergence(Z4, good)


def test_loss_arguments_beyond_logits():
    with pytest.raises(ValueError, match=r"label 10 is outside \[0, 9\]"):
        L.fit_free_logits(10, 0.1, label=10)
    with pytest.raises(ValueError, match="steps must be a whole number >= 1"):
        L.fit_free_logits(10, 0.1, steps=0)
    with pytest.raises(ValueError, match="beta must be a finite number"):
        L.confidence_penalty(Z4, Y4, float("nan"))
    with pytest.raises(ValueError, match=r"number of classes K must be an integer >= 2; got None"):
        L.minimum_loss(None, 0.1)
    with pytest.raises(ValueError, match="number of classes"):
        L.smoothed_cross_entropy(torch.zeros(3, 1), torch.zeros(3, dtype=torch.long))


def test_geometry_refuses_degenerate_input():
    t = torch.randn(3, 5, dtype=torch.float64)
    with pytest.raises(ValueError, match="two of the three templates are identical"):
        G.plane_basis(torch.stack([t[0], t[0], t[1]]))
    with pytest.raises(ValueError, match=r"points must have 5 columns"):
        G.project(torch.randn(4, 6), t)
    tc = torch.tensor([[0.0, 0.0], [2.0, 0.0], [1.0, 1.7]], dtype=torch.float64)
    with pytest.raises(ValueError, match=r"labels \(0, 1, 2 in the order of the templates\) must lie in \[0, 2\]"):
        G.equidistance(torch.zeros(2, 2), torch.tensor([0, 3]), tc)
    with pytest.raises(ValueError, match="at least 1 row"):
        G.tightness(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long), tc)
    z = torch.eye(10) * 5  # every prediction correct: no confused pair to report
    with pytest.raises(ValueError, match="confuse no two classes"):
        G.confused_triple(z, torch.arange(10), torch.randn(10, 4))


def test_information_and_distillation_helpers_check_their_input():
    s = torch.randn(20, 3)
    with pytest.raises(ValueError, match="samples must be finite"):
        I.mutual_information(torch.where(s > 1, float("nan"), s), torch.randn(20))
    with pytest.raises(ValueError, match="L >= 1"):
        I.mutual_information(torch.zeros(20, 0), torch.randn(20))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\]"):
        KD.virtual_teacher_logits(torch.tensor([0, 10]), 10)
    with pytest.raises(ValueError, match="gamma must be a finite number"):
        KD.label_smoothing_baseline(float("nan"), {"student": {0.0: [0.7], 0.1: [0.8]}})
    with pytest.raises(TypeError, match="results must be figure5_results"):
        KD.hard_teacher_curve(0.1, {})
    with pytest.raises(ValueError, match="teacher_logits must have the shape of the student's logits"):
        KD.distillation_loss(Z4, Z4[:, :5], Y4)


def test_value_checks_on_an_accelerator_run_every_n_calls():
    """On the CPU every call is checked; elsewhere (a GPU: a host synchronisation) the first and every
    DEVICE_CHECK_EVERY-th call of each check -- shown here with a tensor on the 'meta' device."""
    cpu, meta = torch.zeros(2), torch.zeros(2, device="meta")
    assert all(checks.due("k-cpu", cpu) for _ in range(5))
    runs = [checks.due("k-meta", meta) for _ in range(2 * checks.DEVICE_CHECK_EVERY + 1)]
    assert [i for i, r in enumerate(runs) if r] == [0, checks.DEVICE_CHECK_EVERY, 2 * checks.DEVICE_CHECK_EVERY]


def test_a_diverged_training_step_raises_instead_of_a_nan_loss():
    model = torch.nn.Linear(3, 4)
    with torch.no_grad():
        model.weight.fill_(float("nan"))
    logits = model(torch.randn(8, 3))
    with pytest.raises(ValueError, match=r"logits must be finite; got 32 nan and 0 inf values .*lower the learning rate"):
        L.smoothed_cross_entropy(logits, torch.zeros(8, dtype=torch.long), 0.1)
    assert math.isfinite(float(L.smoothed_cross_entropy(torch.zeros(8, 4), torch.zeros(8, dtype=torch.long), 0.1)))
