"""Text data (chapter 4): Multi30k English->German sentence pairs, their subword tokenizer, tokenised splits and
batches -- the text counterpart of :mod:`lsmooth_lib.data`'s images, which dispatches to it
(``data.load_split("multi30k", ...)`` and ``data.batches`` of a text split).

* :func:`load_text` -- the raw sentences of one split, each file checked against :data:`lsmooth_lib.files.OFFLINE_FILES`
  (``LSMOOTH_DATA/multi30k/``, or downloaded once from the dataset's GitHub repository);
* :func:`tokenizer` -- one SentencePiece BPE vocabulary for both languages, trained on the training split and kept
  beside the zoo (a trained model is only meaningful with the tokenizer it saw);
* :func:`load_text_split` / :class:`TextSplit` -- tokenised sentence pairs;
* :func:`text_batches` -- ``((src, tgt_in), tgt_out)`` batches, what the Transformer trains on.

Decoding, BLEU and calibration of translations are :mod:`lsmooth_lib.translation`'s.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import checks
from .files import (DATA_ENV, OFFLINE_ENV, OFFLINE_FILES, SPLITS, DataIntegrityError, DataUnavailableError, _close,
                    _ensure_dir, _offline_root, _restore, atomic_write, cache_dir, dataset_info, sha256_bytes, zoo_dir)


PAD, UNK, BOS, EOS = 0, 1, 2, 3
# the longest sentence a model reads, in pieces: longer training sentences would be cut (with a warning;
# Multi30k's longest has well under 100 pieces), longer sentences to translate are refused (see translate)
MAX_TOKENS = 128


class TokenizerError(RuntimeError):
    """The tokenizer file is missing, damaged, or not the one a model was trained with."""


# ---------------------------------------------------------------- sentences
def _read_text(path: Path, rel: str, title: str, how: str) -> list:
    raw = path.read_bytes()
    size, expected = OFFLINE_FILES[rel]
    if len(raw) != size or sha256_bytes(raw) != expected:
        raise DataIntegrityError(f"{path} is not the expected {title} file {rel}: {len(raw):,} bytes with sha256 "
                                 f"{sha256_bytes(raw)[:16]}..., expected {size:,} bytes with {expected[:16]}...; {how}")
    return raw.decode("utf-8").splitlines()


def load_text(name: str, split: str = "train") -> tuple[list, list, dict]:
    """English and German sentences of one split of Multi30k (chapter 4), and their provenance.

    ``LSMOOTH_DATA/multi30k/{file}.{en,de}`` when ``LSMOOTH_DATA`` is set; otherwise the release's
    gzipped files are downloaded from the dataset's GitHub repository into the cache (once).  Every file is
    checked against the size and sha256 in :data:`OFFLINE_FILES` (the release's bytes) before it is used.
    """
    info = dataset_info(name)
    if not info.get("text"):
        raise ValueError(f"{info['title']} is an image dataset; use load_arrays({name!r}, ...) or load_split")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}")
    file = info["files"][split]
    root = os.environ.get(DATA_ENV)
    if root:
        folder = _offline_root(root) / name
        prov = dict(source="offline copy (byte-identical to the release)", path=str(folder), lossless=True)
    else:
        folder = cache_dir() / name
        prov = dict(source="download from github.com/multi30k/dataset", path=str(folder), lossless=True)
    lines = {}
    for lang in ("en", "de"):
        path = folder / f"{file}.{lang}"
        rel = f"{name}/{file}.{lang}"
        if not path.exists():
            if root:
                raise DataUnavailableError(
                    f"{info['title']} ({split}) is missing from the offline folder {root} ({DATA_ENV}): expected "
                    f"{path}. Copy the dataset there (layout: shared/data/README.md), point {DATA_ENV} at a folder "
                    f"that has it, or unset {DATA_ENV} to download it.")
            _download_text(info["url"].format(file=file, lang=lang), path, rel, info["title"])
        how = _restore(rel) if root else f"delete {path} to download it again"
        lines[lang] = _read_text(path, rel, info["title"], how)
    if len(lines["en"]) != len(lines["de"]):  # cannot happen with verified files; kept as a guard
        raise DataIntegrityError(f"{folder}: {file}.en and {file}.de have different line counts "
                                 f"({len(lines['en'])} vs {len(lines['de'])}); the copy is damaged. Delete it and reload.")
    return lines["en"], lines["de"], prov


def _download_text(url: str, path: Path, rel: str, title: str) -> None:
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
    size, expected = OFFLINE_FILES[rel]
    if len(text) != size or sha256_bytes(text) != expected:
        raise DataIntegrityError(f"the {title} file downloaded from {url} is not the release's {rel} ({len(text):,} "
                                 f"bytes, sha256 {sha256_bytes(text)[:16]}...); nothing was saved -- try again later, "
                                 f"or set {DATA_ENV} to a folder of offline copies")
    _ensure_dir(path.parent)
    atomic_write(path, text)


# ---------------------------------------------------------------- tokenizer
def tokenizer_path(vocab_size: int, folder: str | Path | None = None) -> Path:
    """Where the shared en+de tokenizer lives: ``<zoo>/tokenizers/multi30k-bpe<V>.model``."""
    return Path(folder or zoo_dir() / "tokenizers") / f"multi30k-bpe{vocab_size}.model"


_TOKENIZERS: dict = {}


def tokenizer(vocab_size: int | None = None, folder: str | Path | None = None):
    """The SentencePiece BPE model for Multi30k en+de with ``vocab_size`` pieces (chapter 4).

    Loaded from :func:`tokenizer_path` if it exists; otherwise trained on the training split's English
    and German sentences (a few seconds, single-threaded so that the result is reproducible) and saved
    there atomically.  Ids: 0 pad, 1 unknown, 2 begin, 3 end of sentence.
    """
    import sentencepiece as spm

    vocab_size = checks.count("vocab_size", vocab_size or dataset_info("multi30k")["num_classes"], minimum=8)
    path = tokenizer_path(vocab_size, folder)
    key = str(path)
    if key in _TOKENIZERS and path.exists():
        return _TOKENIZERS[key]
    if not path.exists():
        en, de, _ = load_text("multi30k", "train")
        import io
        buf = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(en + de), model_writer=buf, vocab_size=vocab_size, model_type="bpe",
            character_coverage=1.0, pad_id=PAD, unk_id=UNK, bos_id=BOS, eos_id=EOS, num_threads=1,
            minloglevel=2)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, buf.getvalue())  # unique temporary name: concurrent trainings never collide
    try:
        sp = spm.SentencePieceProcessor(model_file=str(path))
    except Exception as err:  # noqa: BLE001 - sentencepiece raises RuntimeError/OSError on damaged files
        raise TokenizerError(f"the tokenizer {path} cannot be read ({type(err).__name__}). Delete it to retrain it, "
                             f"or restore it from git (`git checkout -- {path}`).") from None
    _TOKENIZERS[key] = sp
    return sp


def tokenizer_sha256(vocab_size: int | None = None) -> str:
    """sha256 of the tokenizer file (zoo records keep it, so a model never meets a different tokenizer)."""
    return hashlib.sha256(tokenizer_path(vocab_size or dataset_info("multi30k")["num_classes"]).read_bytes()).hexdigest()


# ---------------------------------------------------------------- tokenised splits and batches
@dataclass
class TextSplit:
    """Tokenised English->German sentence pairs of one split (chapter 4).

    ``src[i]`` are the English piece ids, ``tgt[i]`` the German ones (no begin/end markers);
    ``labels`` are the next-token targets of every position in sentence order (each sentence's
    pieces, then the end-of-sentence id) -- what a model predicts under teacher forcing.
    """
    dataset: str
    split: str
    src: list
    tgt: list
    src_text: list
    tgt_text: list
    classes: list
    provenance: dict = field(default_factory=dict)
    is_text = True

    def __len__(self):
        return len(self.src)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def labels(self) -> torch.Tensor:
        return torch.cat([torch.tensor(t + [EOS]) for t in self.tgt]) if self.tgt else torch.empty(0, dtype=torch.long)

    def subset(self, index) -> "TextSplit":
        index = [int(i) for i in index]
        pick = lambda xs: [xs[i] for i in index]  # noqa: E731
        return TextSplit(self.dataset, self.split, pick(self.src), pick(self.tgt), pick(self.src_text),
                         pick(self.tgt_text), self.classes, self.provenance)

    def class_index(self, piece: str) -> int:
        """Id of a subword piece (``"▁Hund"``; a plain word is tried with the word-start mark too)."""
        for cand in (piece, "▁" + piece):
            if cand in self.classes:
                return self.classes.index(cand)
        raise ValueError(f"{piece!r} is not a piece of the Multi30k vocabulary.{_close(piece, self.classes)} "
                         f"Pieces that start a word carry the mark '▁' (e.g. '▁Hund').")


def load_text_split(name: str = "multi30k", split: str = "train", limit: int | None = None) -> TextSplit:
    """One split of Multi30k en->de, tokenised with :func:`tokenizer` (``limit``: first sentences only).

    Sentences longer than :data:`MAX_TOKENS` pieces are cut to it, with a warning that counts them (none of
    Multi30k's are)."""
    if limit is not None:
        limit = checks.count("limit", limit, hint=" (the number of sentences to keep), or None for all")
    en, de, prov = load_text(name, split)
    if limit is not None:
        en, de = en[:limit], de[:limit]
    sp = tokenizer(dataset_info(name)["num_classes"])
    src, tgt = sp.encode(en), sp.encode(de)
    cut = sum(len(s) > MAX_TOKENS for s in src) + sum(len(t) > MAX_TOKENS - 1 for t in tgt)
    if cut:
        import warnings
        warnings.warn(f"{name} {split}: {cut} sentences are longer than MAX_TOKENS = {MAX_TOKENS} pieces and were cut")
    src = [s[:MAX_TOKENS] for s in src]
    tgt = [t[:MAX_TOKENS - 1] for t in tgt]
    classes = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    return TextSplit(name, split, src, tgt, en, de, classes, prov)


def pad_batch(seqs: list, bos: bool = False, eos: bool = False, device="cpu") -> torch.Tensor:
    """Pad lists of ids into a (B, T) tensor with ``PAD``, optionally adding begin/end markers."""
    if isinstance(seqs, (str, bytes)) or not hasattr(seqs, "__iter__"):
        raise TypeError(f"seqs must be a list of lists of piece ids; got {checks.describe(seqs)}")
    seqs = [([BOS] if bos else []) + list(s) + ([EOS] if eos else []) for s in seqs]
    out = torch.full((len(seqs), max(map(len, seqs), default=0)), PAD, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = torch.tensor(s, dtype=torch.long)
    return out.to(device)


def text_batches(split: TextSplit, batch_size: int, *, shuffle: bool = False, generator=None, device="cpu",
                 drop_last: bool = False):
    """``((src, tgt_in), tgt_out)`` batches of ``batch_size`` sentences (chapter 4).

    ``tgt_in`` is ``<s> y_1 .. y_n`` and the targets are ``y_1 .. y_n </s>`` at the non-pad positions,
    flattened in sentence order (what ``Transformer.forward`` returns logits for).  Shuffled batches
    group sentences of similar length (sorted within random pools of 50 batches) to waste little
    compute on padding; unshuffled batches keep the split's order, so predictions line up with ``split.labels``.
    """
    batch_size = checks.count("batch_size", batch_size)
    if not isinstance(split, TextSplit):
        raise TypeError(f"text_batches needs a TextSplit (load_split('multi30k', ...)); got {checks.describe(split)}")
    return _text_batches(split, batch_size, shuffle, generator, device, drop_last)


def _text_batches(split, batch_size, shuffle, generator, device, drop_last):
    n = len(split)
    if shuffle:
        order = torch.randperm(n, generator=generator).tolist()
        pool = 50 * batch_size
        chunks = []
        for i in range(0, n, pool):
            part = sorted(order[i:i + pool], key=lambda j: len(split.tgt[j]))
            chunks += [part[k:k + batch_size] for k in range(0, len(part), batch_size)]
        if drop_last:
            chunks = [c for c in chunks if len(c) == batch_size] or chunks[:1]
        chunks = [chunks[i] for i in torch.randperm(len(chunks), generator=generator).tolist()]
    else:
        stop = n - n % batch_size if drop_last and n >= batch_size else n
        chunks = [list(range(i, min(i + batch_size, stop))) for i in range(0, stop, batch_size)]
    for idx in chunks:
        src = pad_batch([split.src[i] for i in idx], device=device)
        tgt_in = pad_batch([split.tgt[i] for i in idx], bos=True, device=device)
        tgt_out = pad_batch([split.tgt[i] for i in idx], eos=True, device=device)
        yield (src, tgt_in), tgt_out[tgt_in != PAD]


