"""Chapter 2's measurements on the committed zoo, beyond the verdicts (which tests/test_claims.py pins).

Figure 1's claims and Table 2 are decided in lsmooth_lib.claims (figure1_tightness, figure1_asymmetry,
figure1_validation_spread, figure1_scale, table2_accuracy); these tests pin the measured values the chapter's text
quotes.  If a retrained zoo stops showing them, the chapter's text is wrong.
"""
import pytest

from lsmooth_lib import claims

pytestmark = pytest.mark.data


@pytest.fixture(autouse=True)
def _use_committed_zoo(committed_zoo):
    pass


def test_smoothing_tightens_the_alexnets_training_clusters_several_fold():
    """Chapter 2: "several times tighter" -- every alpha = 0.1 seed is more than 5 times tighter than every alpha = 0
    seed (measured 1.63-1.69 against 0.16-0.20)."""
    c = claims.figure1_tightness("cifar10")
    assert max(c.values["alpha 0.1"]) < min(c.values["alpha 0"]) / 5, c.values


def test_cifar100_resnet_tightens_far_less_than_the_alexnet():
    """Measured, not the paper's claim: the 30-epoch ResNet-20 on CIFAR-100 (fits its training set at alpha 0, just
    short of 99 % at 0.1) tightens its training clusters by about a fifth (0.265 -> 0.218), far from the AlexNet's
    several-fold; its claim is inconclusive (one seed) and chapter 2 says so."""
    c = claims.figure1_tightness("cifar100")
    (hard,), (ls,) = c.values["alpha 0"], c.values["alpha 0.1"]
    assert 0.5 * hard < ls < 0.9 * hard, (hard, ls)
    alex = claims.figure1_tightness("cifar10")
    assert max(alex.values["alpha 0.1"]) < 0.5 * min(alex.values["alpha 0"])
    assert c.verdict == claims.INCONCLUSIVE


def test_validation_clusters_are_looser_than_training_clusters():
    """Both AlexNets' validation clusters are looser than their training ones (ratio > 1), the smoothed ones by far
    more (measured 1.05-1.06 without smoothing, 1.8-2.1 with)."""
    c = claims.figure1_validation_spread("cifar10")
    assert all(r > 1 for r in c.values["alpha 0"] + c.values["alpha 0.1"]), c.values
    assert min(c.values["alpha 0.1"]) > max(c.values["alpha 0"]) + 0.5, c.values


def test_smoothing_shrinks_the_alexnets_picture_several_fold():
    """Hard targets: large absolute coordinates (over-confident logits); smoothing: bounded ones (measured 10.2-10.9
    against 2.25-2.35)."""
    c = claims.figure1_scale("cifar10")
    assert max(c.values["alpha 0.1"]) < min(c.values["alpha 0"]) / 4, c.values
