"""Translation with label smoothing (chapter 4): subword tokenizer, batches, beam search, BLEU.

The paper's translation experiment is a big Transformer on WMT English-German; the book's substitute
is a small Transformer (``models.Transformer``) on Multi30k en->de, trained by the same training
loop as every image model (``train.fit``; its batches come from :func:`text_batches`).

* :func:`tokenizer` -- one SentencePiece BPE vocabulary for both languages, trained on the training
  split and kept beside the zoo (a trained model is only meaningful with the tokenizer it saw);
* :func:`load_text_split` / :class:`TextSplit` -- tokenised sentence pairs;
* :func:`beam_search` -- beam search with the GNMT length penalty and a decoding temperature;
* :func:`bleu` -- corpus BLEU with sacrebleu (never a hand-written BLEU);
* :func:`token_logits` -- next-token logits with the correct prefix (teacher forcing), for ECE;
* :func:`decoding_sweep` -- BLEU, ECE and NLL against the decoding temperature (Figure 4).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import data as D

PAD, UNK, BOS, EOS = 0, 1, 2, 3
MAX_TOKENS = 128  # longer training sentences are cut (Multi30k's longest has well under 100 pieces)


class TokenizerError(RuntimeError):
    """The tokenizer file is missing, damaged, or not the one a model was trained with."""


# ---------------------------------------------------------------- tokenizer
def tokenizer_path(vocab_size: int, folder: str | Path | None = None) -> Path:
    """Where the shared en+de tokenizer lives: ``<zoo>/tokenizers/multi30k-bpe<V>.model``."""
    from .zoo import zoo_dir
    return Path(folder or zoo_dir() / "tokenizers") / f"multi30k-bpe{vocab_size}.model"


_TOKENIZERS: dict = {}


def tokenizer(vocab_size: int | None = None, folder: str | Path | None = None):
    """The SentencePiece BPE model for Multi30k en+de with ``vocab_size`` pieces (chapter 4).

    Loaded from :func:`tokenizer_path` if it exists; otherwise trained on the training split's English
    and German sentences (a few seconds, single-threaded so that the result is reproducible) and saved
    there atomically.  Ids: 0 pad, 1 unknown, 2 begin, 3 end of sentence.
    """
    import sentencepiece as spm

    vocab_size = vocab_size or D.dataset_info("multi30k")["num_classes"]
    path = tokenizer_path(vocab_size, folder)
    key = str(path)
    if key in _TOKENIZERS and path.exists():
        return _TOKENIZERS[key]
    if not path.exists():
        en, de, _ = D.load_text("multi30k", "train")
        import io
        buf = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(en + de), model_writer=buf, vocab_size=vocab_size, model_type="bpe",
            character_coverage=1.0, pad_id=PAD, unk_id=UNK, bos_id=BOS, eos_id=EOS, num_threads=1,
            minloglevel=2)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, path)
    try:
        sp = spm.SentencePieceProcessor(model_file=str(path))
    except Exception as err:  # noqa: BLE001 - sentencepiece raises RuntimeError/OSError on damaged files
        raise TokenizerError(f"the tokenizer {path} cannot be read ({type(err).__name__}). Delete it to retrain it, "
                             f"or restore it from git (`git checkout -- {path}`).") from None
    _TOKENIZERS[key] = sp
    return sp


def tokenizer_sha256(vocab_size: int | None = None) -> str:
    """sha256 of the tokenizer file (zoo records keep it, so a model never meets a different tokenizer)."""
    return hashlib.sha256(tokenizer_path(vocab_size or D.dataset_info("multi30k")["num_classes"]).read_bytes()).hexdigest()


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
        raise ValueError(f"{piece!r} is not a piece of the Multi30k vocabulary.{D._close(piece, self.classes)} "
                         f"Pieces that start a word carry the mark '▁' (e.g. '▁Hund').")


def load_text_split(name: str = "multi30k", split: str = "train", limit: int | None = None) -> TextSplit:
    """One split of Multi30k en->de, tokenised with :func:`tokenizer` (``limit``: first sentences only)."""
    en, de, prov = D.load_text(name, split)
    if limit is not None:
        en, de = en[:limit], de[:limit]
    sp = tokenizer(D.dataset_info(name)["num_classes"])
    src = [s[:MAX_TOKENS] for s in sp.encode(en)]
    tgt = [t[:MAX_TOKENS - 1] for t in sp.encode(de)]
    classes = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    return TextSplit(name, split, src, tgt, en, de, classes, prov)


def pad_batch(seqs: list, bos: bool = False, eos: bool = False, device="cpu") -> torch.Tensor:
    """Pad lists of ids into a (B, T) tensor with ``PAD``, optionally adding begin/end markers."""
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


# ---------------------------------------------------------------- teacher-forced next-token logits
@torch.no_grad()
def token_logits(model, split: TextSplit, batch_size: int = 100, features: bool = False) -> torch.Tensor:
    """Next-token logits (N, K) -- or penultimate activations (N, d) -- at every target position of
    ``split`` given the correct prefix (teacher forcing), in the order of ``split.labels`` (chapter 4)."""
    from .train import predict
    return predict(model, split, batch_size=batch_size, features=features)


# ---------------------------------------------------------------- beam search
def length_penalty(length, alpha: float = 0.6):
    """GNMT length penalty ``((5 + length) / 6) ** alpha`` (Wu et al. 2016; tensor2tensor's default 0.6)."""
    return ((5.0 + length) / 6.0) ** alpha


def _reorder(cache, index):
    if isinstance(cache, dict):
        return {k: _reorder(v, index) for k, v in cache.items()}
    return cache.index_select(0, index)


@torch.no_grad()
def beam_search(model, src: list, beam: int = 4, temperature: float = 1.0, alpha: float = 0.6,
                max_extra: int = 50, batch_size: int = 64, progress: bool = False) -> list:
    """Translate each source (a list of piece ids) by beam search (chapter 4); returns lists of ids.

    Every step scores each live hypothesis extended by every token with the log-probabilities of
    ``softmax(logits / temperature)`` and keeps the best; a hypothesis that ends with ``</s>`` leaves
    the beam (which shrinks by one) and is scored by its log-probability divided by
    :func:`length_penalty`.  The search stops when ``beam`` hypotheses have finished (or after
    ``len(source) + max_extra`` tokens) and returns the best finished one.  ``beam=1`` is greedy
    decoding; a beam as wide as the number of possible sequences is exhaustive search.
    """
    from tqdm.auto import tqdm
    if beam < 1:
        raise ValueError(f"beam must be >= 1; got {beam}")
    if not temperature > 0:
        raise ValueError(f"the decoding temperature must be > 0; got {temperature}")
    model.eval()
    device = next(model.parameters()).device
    out = []
    for start in tqdm(range(0, len(src), batch_size), disable=not progress, desc=f"beam search (T={temperature:g})"):
        out += _beam_batch(model, src[start:start + batch_size], beam, temperature, alpha, max_extra, device)
    return out


def _beam_batch(model, src, beam, temperature, alpha, max_extra, device):
    B = len(src)
    memory, mask = model.encode(pad_batch(src, device=device))
    max_len = max(len(s) for s in src) + max_extra
    limit = [len(s) + max_extra for s in src]
    # live hypotheses, flattened: which sentence each belongs to, its tokens and its log-probability
    owner = torch.arange(B, device=device)
    tokens = torch.full((B, 1), BOS, dtype=torch.long, device=device)
    scores = torch.zeros(B, device=device)
    mem, msk, cache = memory, mask, {}
    finished = [[] for _ in range(B)]
    for step in range(max_len):
        if len(owner) == 0:
            break
        logits = model.decode_step(tokens[:, -1:], mem, msk, cache, step).float()
        logp = torch.log_softmax(logits / temperature, -1)
        K = logp.shape[-1]
        cand = scores[:, None] + logp                               # live x K
        keep_rows, keep_tok, keep_score = [], [], []
        for b in owner.unique().tolist():
            rows = (owner == b).nonzero().flatten()
            flat = cand[rows].flatten()
            k = min(beam - len(finished[b]), flat.numel())  # finished hypotheses leave the beam
            top = flat.topk(k)
            for s, f in zip(top.values.tolist(), top.indices.tolist()):
                r, t = rows[f // K].item(), f % K
                if t == EOS or step + 1 >= limit[b]:
                    seq = tokens[r, 1:].tolist() + ([] if t == EOS else [t])
                    finished[b].append((s / length_penalty(step + 1, alpha), seq))
                elif t != PAD:
                    keep_rows.append(r), keep_tok.append(t), keep_score.append(s)
        if not keep_rows:
            break
        idx = torch.tensor(keep_rows, device=device)
        tokens = torch.cat([tokens[idx], torch.tensor(keep_tok, device=device)[:, None]], 1)
        scores = torch.tensor(keep_score, device=device)
        owner = owner[idx]
        mem, msk, cache = mem[idx], msk[idx], _reorder(cache, idx)
    return [max(f)[1] if f else [] for f in finished]


def translate(model, sentences: list, beam: int = 4, temperature: float = 1.0, **kw) -> list:
    """English sentences -> German sentences with :func:`beam_search` (detokenised by the tokenizer)."""
    sp = tokenizer()
    ids = [s[:MAX_TOKENS] for s in sp.encode(list(sentences))]
    return sp.decode(beam_search(model, ids, beam=beam, temperature=temperature, **kw))


def bleu(hypotheses: list, references: list) -> float:
    """Corpus BLEU (sacrebleu, default 13a tokenisation, cased) of detokenised German sentences."""
    import sacrebleu
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    return float(sacrebleu.corpus_bleu(list(hypotheses), [list(references)]).score)


def decoding_sweep(model, split: TextSplit, temperatures, beam: int = 4, progress: bool = True) -> list:
    """BLEU (beam search), next-token ECE and NLL (teacher forcing) of ``split`` at each decoding
    temperature (the paper's Figure 4; chapter 4).  Returns one dict per temperature."""
    from .calibration import ece, nll
    sp = tokenizer()
    logits = token_logits(model, split)
    labels = split.labels
    rows = []
    for T in temperatures:
        hyps = sp.decode(beam_search(model, split.src, beam=beam, temperature=T, progress=progress))
        rows.append(dict(temperature=float(T), bleu=bleu(hyps, split.tgt_text), ece=ece(logits, labels, temperature=T),
                         nll=nll(logits, labels, temperature=T)))
    return rows


# ---------------------------------------------------------------- Figure 7: projections of next-token predictions
def token_probe(model, split: TextSplit, ids, n: int = 100, batch_size: int = 200, features=None):
    """Penultimate activations at the first ``n`` target positions (in split order) where each token of
    ``ids`` is the correct next token, given the correct prefix (chapter 4's Figure 7).  Returns
    ``(features (N, d), labels)`` with labels 0, 1, ... in the order of ``ids``, grouped by token.
    ``features``: the activations of the whole split, if already computed (``token_logits(..., features=True)``).
    """
    feats, labels = [], []
    counts = [0] * len(ids)
    if features is None:  # only sentences that contain one of the tokens need the network (in split order)
        wanted = set(ids)
        keep = [i for i, t in enumerate(split.tgt) if wanted.intersection(t)]
        parts = (split.subset(keep[i:i + batch_size]) for i in range(0, len(keep), batch_size))
        chunks = ((token_logits(model, part, features=True), part.labels) for part in parts)
    else:
        chunks = [(features, split.labels)]
    for f, y in chunks:
        for i, k in enumerate(ids):
            sel = torch.nonzero(y == k).flatten()[:n - counts[i]]
            feats.append(f[sel])
            labels.append(torch.full((len(sel),), i))
            counts[i] += len(sel)
        if min(counts) >= n:
            break
    feats, labels = torch.cat(feats), torch.cat(labels)
    order = torch.argsort(labels, stable=True)
    return feats[order], labels[order]


def project_tokens(model, split: TextSplit, tokens, n: int = 100, batch_size: int = 200, features=None):
    """Penultimate activations at the first ``n`` target positions of each of three ``tokens`` (pieces or
    ids), projected onto the plane through their templates (the paper's Figure 7; chapters 2 and 4).

    A position counts for a token when that token is the correct next token; the prefix is the correct one
    (teacher forcing).  Returns a :class:`lsmooth_lib.geometry.Projection` like chapter 2's images.
    ``features``: the activations of the whole split, if already computed (``token_logits(..., features=True)``).
    """
    from .geometry import project_features
    if len(tokens) != 3 or len(set(tokens)) != 3:
        raise ValueError(f"the projection needs three different tokens; got {list(tokens)}")
    ids = [split.class_index(t) if isinstance(t, str) else int(t) for t in tokens]
    feats, labels = token_probe(model, split, ids, n, batch_size, features)
    with torch.no_grad():
        templates = model.templates.detach().cpu().double()[ids]
    return project_features(feats, labels, templates, [split.classes[k] for k in ids], split.split)
