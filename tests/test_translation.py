"""lsmooth_lib.text, lsmooth_lib.translation and the Transformer (chapter 4): sentences, tokenizer cache, batching
and masking, incremental decoding, beam search against greedy and exhaustive search, BLEU plumbing."""
import itertools
import math

import pytest
import torch

from lsmooth_lib import data as D
from lsmooth_lib import text as TX
from lsmooth_lib import translation as TR
from lsmooth_lib import zoo as Z
from lsmooth_lib.models import build_model

pytestmark = pytest.mark.data
V = D.dataset_info("multi30k")["num_classes"]


def _tiny(K=40, seed=0, **kw):
    torch.manual_seed(seed)
    return build_model("transformer", K, **{**dict(d_model=32, heads=2, layers=2, d_ff=64, dropout=0.0), **kw}).eval()


def _split(src, tgt, K=40):
    return TX.TextSplit("multi30k", "toy", src, tgt, [""] * len(src), [""] * len(tgt), [str(i) for i in range(K)])


# ---------------------------------------------------------------- data and tokenizer
def test_multi30k_offline_files():
    en, de, prov = TX.load_text("multi30k", "train")
    assert len(en) == len(de) == 29000
    assert en[0] == "Two young, White males are outside near many bushes."
    assert de[0] == "Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche."
    assert [len(TX.load_text("multi30k", s)[0]) for s in ("val", "test")] == [1014, 1000]
    assert prov["lossless"]


def test_missing_offline_text_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("LSMOOTH_DATA", str(tmp_path))
    with pytest.raises(D.DataUnavailableError, match="LSMOOTH_DATA"):
        TX.load_text("multi30k", "val")
    with pytest.raises(ValueError, match="split must be one of"):
        TX.load_text("multi30k", "dev")


def test_offline_without_a_copy_refuses_to_download(tmp_path, monkeypatch):
    monkeypatch.delenv("LSMOOTH_DATA", raising=False)
    monkeypatch.setenv("LSMOOTH_CACHE", str(tmp_path))
    monkeypatch.setenv("LSMOOTH_OFFLINE", "1")
    with pytest.raises(D.DataUnavailableError, match="forbids downloads"):
        TX.load_text("multi30k", "test")


def test_tokenizer_cache_is_reproducible_and_reused(tmp_path):
    sp = TX.tokenizer(V, folder=tmp_path)
    path = TX.tokenizer_path(V, tmp_path)
    assert path.exists() and sp.get_piece_size() == V
    assert [sp.id_to_piece(i) for i in range(4)] == ["<pad>", "<unk>", "<s>", "</s>"]
    # the committed zoo tokenizer is exactly what training it again gives
    assert path.read_bytes() == TX.tokenizer_path(V).read_bytes()
    mtime = path.stat().st_mtime_ns
    TX._TOKENIZERS.clear()
    assert TX.tokenizer(V, folder=tmp_path).encode("A dog runs.") == sp.encode("A dog runs.")
    assert path.stat().st_mtime_ns == mtime, "a cached tokenizer must not be retrained"
    path.write_bytes(b"not a sentencepiece model")
    TX._TOKENIZERS.clear()
    with pytest.raises(TX.TokenizerError, match="Delete it"):
        TX.tokenizer(V, folder=tmp_path)


def test_tokenizer_round_trip_and_split():
    test = D.load_split("multi30k", "test")
    sp = TX.tokenizer()
    assert sp.decode(test.tgt[:50]) == test.tgt_text[:50]  # detokenisation is lossless
    assert len(test) == 1000 and test.num_classes == V
    assert len(test.labels) == sum(len(t) + 1 for t in test.tgt)
    assert test.class_index("Hund") == sp.piece_to_id("▁Hund")
    with pytest.raises(ValueError, match="not a piece"):
        test.class_index("Hundxyzq")


def test_text_batches_cover_every_sentence_once_and_align_with_labels():
    split = D.load_split("multi30k", "val")
    seen = []
    for (src, tgt_in), y in TX.text_batches(split, 64, shuffle=True, generator=torch.Generator().manual_seed(0)):
        assert (tgt_in[:, 0] == TX.BOS).all() and len(y) == int((tgt_in != TX.PAD).sum())
        seen += [tuple(r[r != TX.PAD].tolist()) for r in src]
    assert sorted(seen) == sorted(tuple(s) for s in split.src)
    ys = torch.cat([y for _, y in TX.text_batches(split, 100)])
    assert torch.equal(ys, split.labels)


# ---------------------------------------------------------------- the model
def test_padded_batch_gives_the_logits_of_unpadded_sentences():
    m = _tiny()
    src, tgt = [[5, 6, 7, 8, 9, 10], [11, 12]], [[13, 14], [15, 16, 17, 18, 19]]
    (x, _), = TX.text_batches(_split(src, tgt), 2)
    together = m(x)
    alone = torch.cat([m((TX.pad_batch([s]), TX.pad_batch([t], bos=True))) for s, t in zip(src, tgt)])
    assert together.shape == (len(tgt[0]) + len(tgt[1]) + 2, 40)
    assert torch.allclose(together, alone, atol=1e-5)


def test_incremental_decoding_equals_teacher_forcing():
    m = _tiny()
    memory, mask = m.encode(TX.pad_batch([[5, 6, 7]]))
    tgt_in = TX.pad_batch([[8, 9, 10, 11]], bos=True)
    cache = {}
    steps = torch.stack([m.decode_step(tgt_in[:, i:i + 1], memory, mask, cache, i) for i in range(5)], 1)
    assert torch.allclose(steps, m.classifier(m.decode(tgt_in, memory, mask)), atol=1e-5)


def test_templates_are_the_tied_embedding():
    m = _tiny()
    assert m.templates.shape == (40, 33)
    assert m.classifier.weight.data_ptr() == m.embed.weight.data_ptr()


# ---------------------------------------------------------------- beam search
def _greedy(model, src, max_extra):
    out = []
    for s in src:
        seq = [TX.BOS]
        memory, mask = model.encode(TX.pad_batch([s]))
        for _ in range(len(s) + max_extra):
            logits = model.classifier(model.decode(torch.tensor([seq]), memory, mask))[0, -1]
            t = int(logits.argmax())
            if t == TX.EOS:
                break
            seq.append(t)
        out.append(seq[1:])
    return out


def test_beam_of_one_is_greedy_decoding():
    m = _tiny(seed=1)
    src = [[5, 6, 7], [8, 9], [10, 11, 12, 13, 14]]
    assert TR.beam_search(m, src, beam=1, max_extra=6) == _greedy(m, src, 6)


def test_wide_beam_finds_the_exhaustive_optimum():
    K, extra, T = 7, 2, 0.5
    m = _tiny(K=K, seed=3, d_model=16, heads=2, layers=1, d_ff=32)
    src = [4]
    limit = len(src) + extra
    memory, mask = m.encode(TX.pad_batch([src]))
    words = [t for t in range(K) if t not in (TX.PAD, TX.EOS)]

    @torch.no_grad()
    def score(seq):  # log p(seq) at temperature T, divided by the length penalty; seq ends with EOS or has `limit` tokens
        logits = m.classifier(m.decode(torch.tensor([[TX.BOS] + seq[:-1]]), memory, mask))[0] / T
        logp = torch.log_softmax(logits, -1)[torch.arange(len(seq)), torch.tensor(seq)].sum()
        return float(logp) / TR.length_penalty(len(seq))

    candidates = []
    for n in range(limit):
        candidates += [list(w) + [TX.EOS] for w in itertools.product(words, repeat=n)]
    candidates += [list(w) for w in itertools.product(words, repeat=limit)]
    best = max(candidates, key=score)
    found = TR.beam_search(m, [src], beam=len(candidates), temperature=T, max_extra=extra)[0]
    assert found == [t for t in best if t != TX.EOS]
    # a narrow beam can only do worse or equal
    narrow = TR.beam_search(m, [src], beam=1, temperature=T, max_extra=extra)[0]
    narrow_seq = narrow + ([TX.EOS] if len(narrow) < limit else [])
    assert score(narrow_seq) <= score(best) + 1e-9


def test_beam_search_rejects_bad_settings():
    m = _tiny()
    with pytest.raises(ValueError, match="beam"):
        TR.beam_search(m, [[5]], beam=0)
    with pytest.raises(ValueError, match="temperature"):
        TR.beam_search(m, [[5]], temperature=0)


def test_length_penalty_is_gnmt():
    assert TR.length_penalty(1) == 1.0
    assert math.isclose(TR.length_penalty(7, 0.6), 2 ** 0.6)


# ---------------------------------------------------------------- BLEU
def test_bleu_plumbing():
    refs = TX.load_text("multi30k", "test")[1][:100]
    assert TR.bleu(refs, refs) == pytest.approx(100.0)
    shuffled = refs[1:] + refs[:1]
    assert TR.bleu(shuffled, refs) < 10
    assert 0 < TR.bleu([r.split(" ", 1)[-1] for r in refs], refs) < 100
    with pytest.raises(ValueError, match="hypotheses"):
        TR.bleu(refs[:3], refs)


def test_translation_entry_records_tokenizer_and_decoding(tmp_zoo):
    rec = Z.train("smoke-transformer-multi30k", progress=False)
    assert rec["tokenizer"]["sha256"] == TX.tokenizer_sha256()
    assert rec["decoding"]["rows"][0]["temperature"] == 1.0 and rec["decoding"]["beam"] == 4
    model, _ = Z.load("smoke-transformer-multi30k", device="cpu")
    TX.tokenizer_path(V).write_bytes(b"altered")
    TX._TOKENIZERS.clear()
    with pytest.raises(Z.ZooError, match="tokenizer"):
        Z.load("smoke-transformer-multi30k", device="cpu")


def test_mean_sweep_averages_seeds_on_their_common_temperatures():
    row = lambda t, b, e=0.1, n=2.0: dict(temperature=t, bleu=b, ece=e, nll=n)  # noqa
    seeds = [[row(1.0, 30.0, 0.1, 2.0), row(1.5, 28.0), row(1.13, 31.0)],   # 1.13: this seed's fitted T
             [row(1.0, 32.0, 0.3, 3.0), row(1.5, 26.0)]]
    m = TR.mean_sweep(seeds)
    assert list(m) == [1.0, 1.5], "only the temperatures both seeds decoded"
    assert m[1.0] == dict(bleu=31.0, bleu_sd=pytest.approx(2 ** 0.5), ece=pytest.approx(0.2), nll=2.5, n=2)
    one = TR.mean_sweep(seeds[:1])
    assert list(one) == [1.0, 1.13, 1.5] and one[1.13]["bleu"] == 31.0 and one[1.0]["bleu_sd"] != one[1.0]["bleu_sd"]
    for bad in ([], [[]], [[row(1.0, 1.0)], [row(2.0, 1.0)]]):
        with pytest.raises(ValueError):
            TR.mean_sweep(bad)
