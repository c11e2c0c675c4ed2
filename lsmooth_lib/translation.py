"""Translation with label smoothing (chapter 4): beam search, BLEU, teacher-forced next-token logits and the
decoding-temperature sweep.

The paper's translation experiment is a big Transformer on WMT English-German; the book's substitute
is a small Transformer (``models.Transformer``) on Multi30k en->de, trained by the same training
loop as every image model (``train.fit``; its batches come from :func:`lsmooth_lib.text.text_batches`).
The text data -- sentences, the shared subword :func:`tokenizer`, :class:`TextSplit` -- are
:mod:`lsmooth_lib.text`'s; the names this module uses are imported from there (``translation.tokenizer`` etc.).

* :func:`beam_search` -- beam search with the GNMT length penalty and a decoding temperature;
* :func:`translate` -- English sentences to German ones (tokenizer + beam search);
* :func:`bleu` -- corpus BLEU with sacrebleu (never a hand-written BLEU);
* :func:`token_logits` -- next-token logits with the correct prefix (teacher forcing), for ECE;
* :func:`decoding_sweep` -- BLEU, ECE and NLL against the decoding temperature (Figure 4);
* :func:`token_probe` / :func:`project_tokens` -- Figure 7's projections of next-token predictions.

Inputs are checked at the door (:mod:`lsmooth_lib.checks`): a sentence must be non-empty, valid Unicode text
with at least one piece the tokenizer knows and at most :data:`MAX_TOKENS` pieces; piece ids must lie in the
model's vocabulary; BLEU needs at least one detokenised sentence.  Each failure raises a one-sentence error.
"""
from __future__ import annotations

import numbers

import torch

from . import checks
from .calibration import ece, nll
from .geometry import project_features
from .infer import predict
from .text import BOS, EOS, MAX_TOKENS, PAD, UNK, TextSplit, pad_batch, tokenizer  # noqa: F401


# ---------------------------------------------------------------- teacher-forced next-token logits
@torch.no_grad()
def token_logits(model, split: TextSplit, batch_size: int = 100, features: bool = False) -> torch.Tensor:
    """Next-token logits (N, K) -- or penultimate activations (N, d) -- at every target position of
    ``split`` given the correct prefix (teacher forcing), in the order of ``split.labels`` (chapter 4)."""
    return predict(model, split, batch_size=batch_size, features=features)


# ---------------------------------------------------------------- beam search
def length_penalty(length, exponent: float = 0.6):
    """GNMT length penalty ``((5 + length) / 6) ** exponent`` (Wu et al. 2016; tensor2tensor's default 0.6).  Its
    exponent is called alpha in the GNMT paper; the book keeps alpha for the smoothing factor."""
    return ((5.0 + length) / 6.0) ** exponent


def _reorder(cache, index):
    if isinstance(cache, dict):
        return {k: _reorder(v, index) for k, v in cache.items()}
    return cache.index_select(0, index)


@torch.no_grad()
def beam_search(model, src: list, beam: int = 4, temperature: float = 1.0, length_penalty: float = 0.6,
                max_extra: int = 50, batch_size: int = 64, progress: bool = False) -> list:
    """Translate each source (a list of piece ids) by beam search (chapter 4); returns lists of ids.

    Every step scores each live hypothesis extended by every token with the log-probabilities of
    ``softmax(logits / temperature)`` and keeps the best; a hypothesis that ends with ``</s>`` leaves
    the beam (which shrinks by one) and is scored by its log-probability divided by
    :func:`length_penalty` with the exponent ``length_penalty`` (0: no length normalisation).  The search stops when ``beam`` hypotheses have finished (or after
    ``len(source) + max_extra`` tokens) and returns the best finished one.  ``beam=1`` is greedy
    decoding; a beam as wide as the number of possible sequences is exhaustive search.

    Each source must hold 1 to :data:`MAX_TOKENS` ids of the model's vocabulary (no pad, begin or end markers:
    the encoder never saw them); anything else raises ``ValueError``.
    """
    from tqdm.auto import tqdm
    beam = checks.count("beam", beam, hint=" (1 = greedy decoding)")
    temperature = checks.positive_finite("the decoding temperature", temperature, hint=" (1 = the model's own)")
    lp = checks.finite_number("length_penalty", length_penalty, hint=" (the GNMT length-penalty exponent, e.g. 0.6)")
    if lp < 0:
        raise ValueError(f"length_penalty (the exponent of the GNMT length penalty) must be >= 0; got {lp!r}")
    max_extra = checks.count("max_extra", max_extra, minimum=0, hint=" (extra target tokens beyond the source length)")
    batch_size = checks.count("batch_size", batch_size)
    src = _check_sources(model, src, max_extra)
    model.eval()
    device = next(model.parameters()).device
    out = []
    for start in tqdm(range(0, len(src), batch_size), disable=not progress, desc=f"beam search (T={temperature:g})"):
        out += _beam_batch(model, src[start:start + batch_size], beam, temperature, lp, max_extra, device)
    return out


def _vocab_size(model) -> int:
    embed = getattr(model, "embed", None)
    if embed is not None and hasattr(embed, "num_embeddings"):
        return int(embed.num_embeddings)
    return int(model.classifier.out_features)


def _check_sources(model, src, max_extra: int) -> list:
    """Source sentences as lists of ids, checked: see :func:`beam_search`."""
    if isinstance(src, (str, bytes)) or not hasattr(src, "__iter__"):
        raise TypeError(f"src must be a list of sources, each a list of piece ids (for text use translate); "
                        f"got {checks.describe(src)}")
    V = _vocab_size(model)
    positions = getattr(model, "pe", None)
    out = []
    for i, s in enumerate(src):
        if isinstance(s, str):
            raise TypeError(f"src[{i}] is a string; beam_search takes piece ids (use translate for text)")
        items = s.tolist() if isinstance(s, torch.Tensor) else s
        if not hasattr(items, "__iter__") or not all(isinstance(t, numbers.Integral) and not isinstance(t, bool)
                                                     for t in items):
            raise TypeError(f"src[{i}] must be a list of integer piece ids; got {checks.describe(s)}")
        ids = [int(t) for t in items]
        if not ids:
            raise ValueError(f"src[{i}] is empty: there is nothing to translate (an empty source still gives a "
                             f"fluent-looking sentence, made up by the decoder)")
        if len(ids) > MAX_TOKENS:
            raise ValueError(f"src[{i}] has {len(ids)} pieces; the model reads at most MAX_TOKENS = {MAX_TOKENS} "
                             f"-- split it into shorter sentences")
        bad = [t for t in ids if not (t == UNK or 4 <= t < V)]
        if bad:
            raise ValueError(f"src[{i}] holds ids outside the model's vocabulary of {V} pieces or reserved markers "
                             f"(0 pad, 2 begin, 3 end): {bad[:5]}; valid ids are 1 (unknown) and 4..{V - 1}")
        if positions is not None and len(ids) + max_extra > positions.shape[0]:
            raise ValueError(f"src[{i}] ({len(ids)} pieces) + max_extra {max_extra} exceeds the model's "
                             f"{positions.shape[0]} positions; lower max_extra")
        out.append(ids)
    return out


def _beam_batch(model, src, beam, temperature, exponent, max_extra, device):
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
                    finished[b].append((s / length_penalty(step + 1, exponent), seq))
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
    """English sentences -> German sentences with :func:`beam_search` (detokenised by the tokenizer).

    ``sentences`` is a list of strings; each must be valid Unicode text (no lone surrogates), contain at least
    one piece the tokenizer knows, and encode to at most :data:`MAX_TOKENS` pieces.  A longer sentence raises
    ``ValueError`` rather than being cut: a cut sentence still gets a fluent translation -- of its first part
    only -- and nothing in the output would show what was dropped (the worst kind of wrong answer here).  The
    limit is the training cut; Multi30k's sentences stay well under it, so split longer text into sentences.
    """
    if isinstance(sentences, (str, bytes)) or not hasattr(sentences, "__iter__"):
        raise TypeError(f"sentences must be a list of strings, e.g. translate(model, [sentence]); "
                        f"got {checks.describe(sentences)}")
    sentences = list(sentences)
    for i, s in enumerate(sentences):
        if not isinstance(s, str):
            raise TypeError(f"sentences[{i}] must be a string; got {checks.describe(s)}")
        try:
            s.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValueError(f"sentences[{i}] is not valid Unicode text: {err.reason} {s[err.start:err.end]!r} at "
                             f"position {err.start}; fix how the text was decoded (e.g. errors='surrogateescape')") from None
        if not s.strip():
            raise ValueError(f"sentences[{i}] is empty; there is nothing to translate (the decoder would make up a "
                             f"fluent sentence from nothing)")
    sp = tokenizer()
    V = _vocab_size(model)
    if V != sp.get_piece_size():
        raise ValueError(f"the model has a vocabulary of {V} pieces but the tokenizer {sp.get_piece_size()}; "
                         f"translate with the model's own tokenizer (a zoo entry records it)")
    ids = sp.encode(sentences)
    for i, (s, t) in enumerate(zip(sentences, ids)):
        if len(t) > MAX_TOKENS:
            raise ValueError(f"sentences[{i}] has {len(t)} subword pieces; the model reads at most MAX_TOKENS = "
                             f"{MAX_TOKENS} -- split it into shorter sentences")
        if all(k == UNK or sp.id_to_piece(k) == "\u2581" for k in t):
            raise ValueError(f"sentences[{i}] ({s[:30]!r}) has no piece the tokenizer knows (all its characters map to "
                             f"<unk>); the model would translate nothing -- it reads English text")
    return sp.decode(beam_search(model, ids, beam=beam, temperature=temperature, **kw))


def _sentences(name: str, xs) -> list:
    if isinstance(xs, (str, bytes, dict)) or xs is None or not hasattr(xs, "__iter__"):
        raise TypeError(f"{name} must be a list of sentences (strings); got {checks.describe(xs)}")
    xs = list(xs)
    for i, x in enumerate(xs):
        if not isinstance(x, str):
            raise TypeError(f"{name}[{i}] is {checks.describe(x)}; {name} must be detokenised sentences (strings) -- "
                            f"decode piece ids with tokenizer().decode(...)")
    return xs


def bleu(hypotheses: list, references: list) -> float:
    """Corpus BLEU (sacrebleu, default 13a tokenisation, cased) of detokenised German sentences: as many
    hypotheses as references, at least one of each."""
    import sacrebleu
    hypotheses, references = _sentences("hypotheses", hypotheses), _sentences("references", references)
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references; BLEU pairs each hypothesis "
                         f"with the reference at the same position")
    if not hypotheses:
        raise ValueError("BLEU of no sentences is undefined; give at least one hypothesis and its reference")
    return float(sacrebleu.corpus_bleu(hypotheses, [references]).score)


def decoding_sweep(model, split: TextSplit, temperatures, beam: int = 4, progress: bool = True) -> list:
    """BLEU (beam search), next-token ECE and NLL (teacher forcing) of ``split`` at each decoding
    temperature (the paper's Figure 4; chapter 4).  Returns one dict per temperature."""
    if isinstance(temperatures, (str, bytes)) or not hasattr(temperatures, "__iter__"):
        raise TypeError(f"temperatures must be a list of positive numbers; got {checks.describe(temperatures)}")
    temperatures = [checks.positive_finite("temperature", t) for t in temperatures]
    if not temperatures:
        raise ValueError("temperatures is empty; give at least one decoding temperature (e.g. [1.0])")
    if not isinstance(split, TextSplit) or not len(split):
        raise ValueError(f"decoding_sweep needs a non-empty TextSplit; got {checks.describe(split) if not isinstance(split, TextSplit) else 'an empty one'}")
    sp = tokenizer()
    logits = token_logits(model, split)
    labels = split.labels
    rows = []
    for T in temperatures:
        hyps = sp.decode(beam_search(model, split.src, beam=beam, temperature=T, progress=progress))
        rows.append(dict(temperature=float(T), bleu=bleu(hyps, split.tgt_text), ece=ece(logits, labels, temperature=T),
                         nll=nll(logits, labels, temperature=T)))
    return rows


def mean_sweep(sweeps: list) -> dict:
    """The mean over seeds of decoding sweeps (chapter 4, Figure 4): ``sweeps`` holds one :func:`decoding_sweep`
    result per seed; returns ``{T: dict(bleu, bleu_sd, ece, nll, n)}`` at the temperatures every seed has, in
    increasing order, with ``bleu_sd`` the standard deviation of BLEU over seeds (``ddof=1``; ``nan`` for one)."""
    import numpy as np
    if not sweeps or any(not rows for rows in sweeps):
        raise ValueError("mean_sweep needs at least one non-empty sweep (a zoo record's decoding['rows'])")
    at = [{r["temperature"]: r for r in rows} for rows in sweeps]
    common = sorted(set.intersection(*(set(a) for a in at)))
    if not common:
        raise ValueError("the sweeps share no decoding temperature; decode every seed on the same grid "
                         "(zoo.DECODING_TEMPERATURES)")
    out = {}
    for t in common:
        rows = [a[t] for a in at]
        bleu = np.array([r["bleu"] for r in rows], dtype=float)
        out[t] = dict(bleu=float(bleu.mean()), bleu_sd=float(bleu.std(ddof=1)) if len(rows) > 1 else float("nan"),
                      ece=float(np.mean([r["ece"] for r in rows])), nll=float(np.mean([r["nll"] for r in rows])),
                      n=len(rows))
    return out


# ---------------------------------------------------------------- Figure 7: projections of next-token predictions
def token_probe(model, split: TextSplit, ids, n: int = 100, batch_size: int = 200, features=None):
    """Penultimate activations at the first ``n`` target positions (in split order) where each token of
    ``ids`` is the correct next token, given the correct prefix (chapter 4's Figure 7).  Returns
    ``(features (N, d), labels)`` with labels 0, 1, ... in the order of ``ids``, grouped by token.
    ``features``: the activations of the whole split, if already computed (``token_logits(..., features=True)``).
    """
    if isinstance(ids, (str, int)) or not hasattr(ids, "__iter__"):
        raise TypeError(f"ids must be a list of piece ids; got {checks.describe(ids)}")
    ids = [checks.index("token id", k, split.num_classes, what="pieces in the vocabulary") for k in ids]
    if not ids or len(set(ids)) != len(ids):
        raise ValueError(f"ids must be one or more different piece ids; got {ids}")
    n = checks.count("n", n, hint=" (positions per token)")
    batch_size = checks.count("batch_size", batch_size)
    if features is not None:
        features = checks.matrix("features", features, min_rows=0, what="(positions, d)")
        if len(features) != len(split.labels):
            raise ValueError(f"features must have one row per target position of the split ({len(split.labels)}); "
                             f"got {checks.describe(features)}")
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
    if isinstance(tokens, str) or not hasattr(tokens, "__len__") or len(tokens) != 3:
        raise ValueError(f"the projection needs three different tokens (pieces or ids); got {tokens!r}")
    ids = [split.class_index(t) if isinstance(t, str) else checks.index("token id", t, split.num_classes,
                                                                        what="pieces in the vocabulary") for t in tokens]
    if len(set(ids)) != 3:
        raise ValueError(f"the projection needs three different tokens; got {list(tokens)} (= ids {ids})")
    feats, labels = token_probe(model, split, ids, n, batch_size, features)
    with torch.no_grad():
        templates = model.templates.detach().cpu().double()[ids]
    return project_features(feats, labels, templates, [split.classes[k] for k in ids], split.split)
