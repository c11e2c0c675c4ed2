"""Chapter 4's measurements on the committed zoo: next-token calibration and beam search in translation.

The paper's claims (Table 3's EN-DE row, Figures 3, 4 and 7) are decided in lsmooth_lib.claims over three seeds per
alpha and their verdicts pinned in tests/test_claims.py.  These tests pin the measured directions the chapter's text
states, read through the same claim functions or the records (next-token ECE with 15 bins on the
validation tokens, teacher forcing; BLEU from the records' decoding sweeps, beam 4).  If a retrained zoo stops
showing them, the chapter's text is wrong.  A measurement whose entries are not trained yet is skipped.
"""
import pytest
from conftest import entry, trained_record as rec

from lsmooth_lib import claims, zoo

pytestmark = pytest.mark.data
HARD, LS = (entry(family="transformer-multi30k", alpha=a, preset="cpu", seed=0) for a in (0.0, 0.1))


def seed_pairs() -> list:
    """``(hard, smoothed)`` Transformers paired by seed, every seed the claims read."""
    _, groups = claims.transformer_groups()
    for name in groups["alpha 0"] + groups["alpha 0.1"]:
        rec(name)
    return list(zip(groups["alpha 0"], groups["alpha 0.1"]))


@pytest.fixture(autouse=True)
def _use_committed_zoo(committed_zoo):
    pass



def calib(name: str) -> dict:
    """The validation-token calibration table the zoo computed with chapter 3's functions (zoo.token_calibration)."""
    rec(name)
    return zoo.token_calibration(name)


def sweep(name: str) -> dict:
    return {r["temperature"]: r for r in rec(name)["decoding"]["rows"]}


def test_next_token_ece_as_measured():
    """The directions chapter 4 states for seed 0 (the claims decide over every seed): smoothing lowers the
    next-token ECE (0.030 -> 0.023, Table 3's EN-DE row), and the hard model is over-confident (fitted T 1.04 > 1)
    with scaling lowering its ECE (0.030 -> 0.018, Figure 3)."""
    rec(HARD), rec(LS)
    row = claims.table3_ece("en-de")
    assert row.values["alpha 0.1"][0] < row.values["alpha 0"][0], row.values
    fig3 = claims.figure3_temperature_scaling()
    assert fig3.values["fitted T"][0] > 1.0 and fig3.values["ECE at fitted T"][0] < fig3.values["ECE at T = 1"][0]


def test_temperature_scaling_beats_label_smoothing_and_smoothing_overshoots():
    """Measured at our scale, in every seed: the hard model is only mildly over-confident, so alpha = 0.1 overshoots
    into under-confidence (fitted T < 1) and its ECE stays above the temperature-scaled hard model's."""
    for h, s in seed_pairs():
        hard, ls = calib(h), calib(s)
        assert ls["fitted"] < 1.0 < hard["fitted"]
        assert ls["rows"][1.0]["conf"] < ls["rows"][1.0]["acc"]
        assert hard["rows"][hard["fitted"]]["ece"] < ls["rows"][1.0]["ece"], (h, s)


def test_token_calibration_table_is_consistent_with_the_record():
    """The snapshot's table at T = 1 is the next-token accuracy the record measured on the same tokens, and the
    fitted temperature minimises the table's NLL over its grid (a stale or misaligned table fails)."""
    for name in (HARD, LS):
        c = calib(name)
        assert c["rows"][1.0]["acc"] == pytest.approx(rec(name)["metrics"]["val"]["acc"], abs=1e-4)
        assert c["rows"][1.0]["nll"] == pytest.approx(rec(name)["metrics"]["val"]["nll"], abs=1e-3)
        best = min(c["rows"], key=lambda t: c["rows"][t]["nll"])
        assert abs(best - c["fitted"]) <= 0.05


def test_label_smoothing_worsens_nll_at_ordinary_temperatures():
    """The paper's Figure 4, right panel: worse NLL with smoothing -- in our grid for every T >= 1 and at each
    model's fitted temperature, in every seed; below T = 1 the order flips in every seed (the chapter says so, and
    fig4-nll is not reproduced because of it)."""
    pairs = seed_pairs()
    for h, s in pairs:
        hard, ls = sweep(h), sweep(s)
        assert all(ls[t]["nll"] > hard[t]["nll"] for t in zoo.DECODING_TEMPERATURES if t >= 1.0), (h, s)
        assert ls[0.5]["nll"] < hard[0.5]["nll"]
        fitted = {n: round(rec(n)["decoding"]["fitted_temperature"], 3) for n in (h, s)}
        assert ls[fitted[s]]["nll"] > hard[fitted[h]]["nll"]
    assert claims.figure4_nll().detail["at T"] == [0.5] * len(pairs)  # where each seed's effect is taken: the flip


def test_no_bleu_gain_from_label_smoothing_at_this_scale():
    """The paper's BLEU gain does not show here: at T = 1 the difference between the models changes sign from seed
    to seed and its mean stays within its noise (fig4-bleu inconclusive); the hard model at its fitted temperature is
    on par with the smoothed one at T = 1 (within noise); every model loses BLEU at T = 2."""
    diffs = [sweep(s)[1.0]["bleu"] - sweep(h)[1.0]["bleu"] for h, s in seed_pairs()]
    assert min(diffs) < 0 < max(diffs), diffs
    for c in (claims.figure4_bleu(), claims.figure4_ts_cannot_recover()):
        assert c.n_seeds >= claims.MIN_SEEDS and abs(c.effect) < c.noise, (c.id, c.effect, c.noise)
    for h, s in seed_pairs():
        for name in (h, s):
            assert sweep(name)[2.0]["bleu"] < sweep(name)[1.0]["bleu"]


def test_sweep_covers_the_grid_and_the_fitted_temperature():
    for name in (HARD, LS):
        r = rec(name)
        temps = set(sweep(name))
        assert set(zoo.DECODING_TEMPERATURES) <= temps
        assert round(r["decoding"]["fitted_temperature"], 3) in temps
        assert all(0 < row["bleu"] < 100 and 0 <= row["ece"] <= 1 for row in r["decoding"]["rows"])
