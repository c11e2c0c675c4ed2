"""Chapter 4's claims, checked on the committed zoo: next-token calibration and beam search in translation.

These pin what our small Multi30k Transformers do (next-token ECE with 15 bins on the validation tokens,
teacher forcing; BLEU from the records' decoding sweeps, beam 4).  If a retrained zoo stops showing it,
the chapter's text is wrong.  A claim whose entries are not trained yet is skipped, not failed.
"""
from functools import lru_cache

import pytest
from conftest import trained_record as rec

from lsmooth_lib import calibration as C, data as D, translation as TR, zoo

pytestmark = pytest.mark.data
HARD, LS = "cpu-transformer-multi30k-a0-s0", "cpu-transformer-multi30k-a0.1-s0"


@pytest.fixture(autouse=True)
def _use_committed_zoo(committed_zoo):
    pass



@lru_cache(maxsize=None)
def _val_logits(name: str):
    model, _ = zoo.load(name, device="cpu")
    val = D.load_split("multi30k", "val")
    return TR.token_logits(model, val), val.labels


def val_logits(name: str):
    rec(name)
    return _val_logits(name)


def sweep(name: str) -> dict:
    return {r["temperature"]: r for r in rec(name)["decoding"]["rows"]}


def test_label_smoothing_lowers_next_token_ece():
    """The paper's Figure 3 / Table 3 EN-DE row: the LS model's next-token ECE is below the hard model's."""
    assert C.ece(*val_logits(LS)) < C.ece(*val_logits(HARD))


def test_temperature_scaling_calibrates_the_hard_model():
    z, y = val_logits(HARD)
    T = C.fit_temperature(z, y)
    assert T > 1.0  # over-confident
    assert C.ece(z, y, temperature=T) < C.ece(z, y)


def test_temperature_scaling_beats_label_smoothing_and_smoothing_overshoots():
    """Measured at our scale: the hard model is only mildly over-confident, so alpha = 0.1 overshoots into
    under-confidence (fitted T < 1) and its ECE stays above the temperature-scaled hard model's."""
    z, y = val_logits(HARD)
    z_ls, y_ls = val_logits(LS)
    assert C.fit_temperature(z_ls, y_ls) < 1.0
    conf, pred = C.confidences(z_ls)
    assert float(conf.mean()) < float((pred == y_ls).double().mean())
    assert C.ece(z, y, temperature=C.fit_temperature(z, y)) < C.ece(z_ls, y_ls)


def test_label_smoothing_worsens_nll_at_ordinary_temperatures():
    """The paper's Figure 4, right panel: worse NLL with smoothing -- in our grid for every T >= 1 and at each
    model's fitted temperature; below T = 1 the order flips (pinned, the chapter says so)."""
    hard, ls = sweep(HARD), sweep(LS)
    assert all(ls[t]["nll"] > hard[t]["nll"] for t in zoo.DECODING_TEMPERATURES if t >= 1.0)
    assert ls[0.5]["nll"] < hard[0.5]["nll"]
    fitted = {n: round(rec(n)["decoding"]["fitted_temperature"], 3) for n in (HARD, LS)}
    assert ls[fitted[LS]]["nll"] > hard[fitted[HARD]]["nll"]


def test_no_bleu_gain_from_label_smoothing_at_this_scale():
    """The paper's BLEU claim does not reproduce here (one seed each): at T = 1 smoothing is not better by more
    than 0.3 BLEU, and neither is its best BLEU over the grid; both models lose BLEU at T = 2."""
    hard, ls = sweep(HARD), sweep(LS)
    assert ls[1.0]["bleu"] < hard[1.0]["bleu"] + 0.3
    assert max(r["bleu"] for r in ls.values()) < max(r["bleu"] for r in hard.values()) + 0.3
    assert hard[2.0]["bleu"] < hard[1.0]["bleu"] and ls[2.0]["bleu"] < ls[1.0]["bleu"]


def test_sweep_covers_the_grid_and_the_fitted_temperature():
    for name in (HARD, LS):
        r = rec(name)
        temps = set(sweep(name))
        assert set(zoo.DECODING_TEMPERATURES) <= temps
        assert round(r["decoding"]["fitted_temperature"], 3) in temps
        assert all(0 < row["bleu"] < 100 and 0 <= row["ece"] <= 1 for row in r["decoding"]["rows"])


def test_recorded_bleu_is_what_beam_search_gives_now():
    """A change to beam search, the tokenizer or BLEU that alters results shows up here (about a minute)."""
    model, r = zoo.load(LS, device="cpu")
    test = D.load_split("multi30k", "test")
    hyps = TR.tokenizer().decode(TR.beam_search(model, test.src, beam=4, temperature=1.0))
    assert TR.bleu(hyps, test.tgt_text) == pytest.approx(sweep(LS)[1.0]["bleu"], abs=0.3)
