"""lsmooth_lib.losses: smoothed targets, the smoothed cross-entropy and its closed forms (chapter 1)."""
import math

import pytest
import torch
import torch.nn.functional as F

from lsmooth_lib import losses as L


def _logits(n, k, seed, scale=3.0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, k, generator=g) * scale).to(dtype)


def _labels(n, k, seed):
    return torch.randint(0, k, (n,), generator=torch.Generator().manual_seed(seed + 1))


# ---------------------------------------------------------------- agreement with PyTorch
@pytest.mark.parametrize("K", [2, 10, 100, 1000])
@pytest.mark.parametrize("alpha", [0.0, 0.05, 0.1, 0.3, 0.9])
def test_uniform_convention_equals_torch_label_smoothing(K, alpha):
    logits, labels = _logits(64, K, seed=K), _labels(64, K, seed=K)
    ours = L.smoothed_cross_entropy(logits, labels, alpha, "uniform")
    ref = F.cross_entropy(logits, labels, label_smoothing=alpha)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


def test_default_is_hard_targets_and_uniform_convention():
    logits, labels = _logits(32, 10, 0), _labels(32, 10, 0)
    torch.testing.assert_close(L.smoothed_cross_entropy(logits, labels), F.cross_entropy(logits, labels))
    torch.testing.assert_close(L.smoothed_cross_entropy(logits, labels, 0.2),
                               F.cross_entropy(logits, labels, label_smoothing=0.2))


@pytest.mark.parametrize("K,alpha", [(10, 0.1), (3, 0.5), (100, 0.2)])
def test_others_convention_is_uniform_with_converted_alpha(K, alpha):
    logits, labels = _logits(40, K, 1), _labels(40, K, 1)
    a_uniform = L.convert_alpha(alpha, K, src="others", dst="uniform")
    torch.testing.assert_close(L.smoothed_cross_entropy(logits, labels, alpha, "others"),
                               F.cross_entropy(logits, labels, label_smoothing=a_uniform), rtol=1e-5, atol=1e-5)
    # and the two conventions really differ for the same alpha
    assert not torch.allclose(L.smoothed_cross_entropy(logits, labels, alpha, "others"),
                              L.smoothed_cross_entropy(logits, labels, alpha, "uniform"))


# ---------------------------------------------------------------- targets
@pytest.mark.parametrize("K", [2, 10, 100])
@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.6])
def test_smooth_targets_uniform(K, alpha):
    labels = _labels(50, K, 3)
    t = L.smooth_targets(labels, K, alpha, "uniform")
    assert t.shape == (50, K)
    torch.testing.assert_close(t.sum(1), torch.ones(50))
    rows = torch.arange(50)
    torch.testing.assert_close(t[rows, labels], torch.full((50,), 1 - alpha + alpha / K))
    others = t.clone()
    others[rows, labels] = float("nan")
    vals = others[~others.isnan()]
    torch.testing.assert_close(vals, torch.full_like(vals, alpha / K))
    assert (t.argmax(1) == labels).all()


@pytest.mark.parametrize("K", [2, 10, 100])
@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.4])
def test_smooth_targets_others(K, alpha):
    labels = _labels(50, K, 4)
    t = L.smooth_targets(labels, K, alpha, "others")
    torch.testing.assert_close(t.sum(1), torch.ones(50))
    rows = torch.arange(50)
    torch.testing.assert_close(t[rows, labels], torch.full((50,), 1 - alpha))
    mask = torch.ones_like(t, dtype=torch.bool)
    mask[rows, labels] = False
    torch.testing.assert_close(t[mask], torch.full((50 * (K - 1),), alpha / (K - 1)))


def test_hard_targets_are_one_hot():
    labels = torch.tensor([0, 3, 9])
    for conv in L.CONVENTIONS:
        assert torch.equal(L.smooth_targets(labels, 10, 0.0, conv), F.one_hot(labels, 10).float())


@pytest.mark.parametrize("conv", ["uniform", "others"])
def test_target_probabilities_match_smooth_targets(conv):
    K, alpha = 7, 0.3
    p_c, p_i = L.target_probabilities(K, alpha, conv)
    t = L.smooth_targets(torch.tensor([2]), K, alpha, conv)[0]
    assert t[2].item() == pytest.approx(p_c)
    assert t[0].item() == pytest.approx(p_i)
    assert p_c + (K - 1) * p_i == pytest.approx(1.0)


# ---------------------------------------------------------------- the two conventions
def test_convert_alpha_value_and_round_trip():
    assert L.convert_alpha(0.1, 10) == pytest.approx(0.09)
    assert L.convert_alpha(0.1, 10, "uniform", "others") == pytest.approx(0.09)
    assert L.convert_alpha(0.09, 10, "others", "uniform") == pytest.approx(0.1)
    assert L.convert_alpha(0.1, 10, "uniform", "uniform") == 0.1
    for K in (2, 3, 10, 1000):
        for a in (0.0, 0.01, 0.1, 0.5, 0.9):
            back = L.convert_alpha(L.convert_alpha(a, K, "uniform", "others"), K, "others", "uniform")
            assert back == pytest.approx(a, abs=1e-12)
            # converted alphas describe the same targets
            torch.testing.assert_close(L.smooth_targets(torch.tensor([1]), K, a, "uniform"),
                                       L.smooth_targets(torch.tensor([1]), K, L.convert_alpha(a, K), "others"))


def test_convert_alpha_others_beyond_uniform_range():
    # others alpha above (K-1)/K has no uniform alpha below 1
    with pytest.raises(ValueError, match="alpha"):
        L.convert_alpha(0.95, 10, "others", "uniform")


# ---------------------------------------------------------------- closed forms
TABLE = [  # K, alpha, convention, optimal gap, minimum loss (hand-computed, chapter 1)
    (10, 0.05, "uniform", 5.252, 0.2824),
    (10, 0.1, "uniform", 4.511, 0.5003),
    (10, 0.1, "others", 4.394, 0.5448),
    (100, 0.05, "uniform", 7.550, 0.4245),
    (100, 0.1, "uniform", 6.804, 0.7778),
    (1000, 0.1, "uniform", 9.105, 1.0148),
]


@pytest.mark.parametrize("K,alpha,conv,gap,low", TABLE)
def test_closed_forms_against_table(K, alpha, conv, gap, low):
    assert L.optimal_logit_gap(K, alpha, conv) == pytest.approx(gap, abs=6e-4)
    assert L.minimum_loss(K, alpha, conv) == pytest.approx(low, abs=6e-5)


def test_closed_forms_formulas():
    K, a = 10, 0.1
    assert L.optimal_logit_gap(K, a) == pytest.approx(math.log(1 + K * (1 - a) / a))
    assert L.optimal_logit_gap(K, a, "others") == pytest.approx(math.log((1 - a) * (K - 1) / a))
    assert L.optimal_logit_gap(K, 0.0) == math.inf
    assert L.minimum_loss(K, 0.0) == 0.0
    # larger alpha -> smaller gap, larger minimum
    gaps = [L.optimal_logit_gap(K, x) for x in (0.01, 0.1, 0.3, 0.6)]
    lows = [L.minimum_loss(K, x) for x in (0.01, 0.1, 0.3, 0.6)]
    assert gaps == sorted(gaps, reverse=True) and lows == sorted(lows)


def _minimise_free_logits(K, alpha, conv):
    z = torch.zeros(1, K, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0])
    opt = torch.optim.LBFGS([z], lr=1.0, max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-15,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = L.smoothed_cross_entropy(z, y, alpha, conv)
        loss.backward()
        return loss

    opt.step(closure)
    return z.detach()[0], float(L.smoothed_cross_entropy(z.detach(), y, alpha, conv))


@pytest.mark.parametrize("K,alpha,conv,gap,low", TABLE)
def test_closed_forms_found_by_optimisation(K, alpha, conv, gap, low):
    z, loss = _minimise_free_logits(K, alpha, conv)
    others = z[1:]
    assert float(others.max() - others.min()) < 1e-3  # all wrong classes end up tied
    assert float(z[0] - others.mean()) == pytest.approx(L.optimal_logit_gap(K, alpha, conv), abs=2e-3)
    assert loss == pytest.approx(L.minimum_loss(K, alpha, conv), abs=1e-5)
    # softmax at the optimum is the smoothed target itself
    torch.testing.assert_close(torch.softmax(z.float(), 0), L.smooth_targets(torch.tensor([0]), K, alpha, conv)[0],
                               atol=1e-4, rtol=0)


# ---------------------------------------------------------------- gradient and decomposition
@pytest.mark.parametrize("conv", ["uniform", "others"])
@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.4])
def test_gradient_is_softmax_minus_smoothed_target(conv, alpha):
    K, N = 10, 16
    logits = _logits(N, K, 5).requires_grad_(True)
    labels = _labels(N, K, 5)
    L.smoothed_cross_entropy(logits, labels, alpha, conv).backward()
    expected = (torch.softmax(logits.detach(), 1) - L.smooth_targets(labels, K, alpha, conv)) / N
    torch.testing.assert_close(logits.grad, expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.5])
def test_decomposition_hard_plus_uniform(alpha):
    K = 10
    logits, labels = _logits(30, K, 6), _labels(30, K, 6)
    logp = F.log_softmax(logits, 1)
    h_y = F.nll_loss(logp, labels)                 # H(y, p)
    h_u = -logp.mean(1).mean()                     # H(u, p)
    torch.testing.assert_close(L.smoothed_cross_entropy(logits, labels, alpha),
                               (1 - alpha) * h_y + alpha * h_u, rtol=1e-5, atol=1e-6)


def test_soft_cross_entropy_of_onehot_is_cross_entropy():
    logits, labels = _logits(20, 5, 7), _labels(20, 5, 7)
    torch.testing.assert_close(L.soft_cross_entropy(logits, F.one_hot(labels, 5).float()),
                               F.cross_entropy(logits, labels))


# ---------------------------------------------------------------- confidence penalty
def test_confidence_penalty():
    logits, labels = _logits(25, 10, 8), _labels(25, 10, 8)
    base = L.confidence_penalty(logits, labels, 0.0)
    torch.testing.assert_close(base, F.cross_entropy(logits, labels))
    entropy = torch.distributions.Categorical(logits=logits).entropy().mean()
    for beta in (0.1, 0.5, 2.0):
        torch.testing.assert_close(L.confidence_penalty(logits, labels, beta) - base, -beta * entropy,
                                   rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="beta"):
        L.confidence_penalty(logits, labels, -0.1)


# ---------------------------------------------------------------- bad input
LOGITS, LABELS = torch.zeros(4, 10), torch.tensor([0, 1, 2, 3])


@pytest.mark.parametrize("alpha", [1.0, -0.1, float("nan"), 1.5, float("inf")])
def test_bad_alpha(alpha):
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\)"):
        L.smoothed_cross_entropy(LOGITS, LABELS, alpha)
    with pytest.raises(ValueError, match="alpha"):
        L.smooth_targets(LABELS, 10, alpha)
    with pytest.raises(ValueError, match="alpha"):
        L.optimal_logit_gap(10, alpha)
    with pytest.raises(ValueError, match="alpha"):
        L.convert_alpha(alpha, 10)


def test_alpha_not_a_number():
    with pytest.raises(ValueError, match="alpha must be a number"):
        L.check_alpha("ten percent")


@pytest.mark.parametrize("K", [1, 2.5, 0, -3])
def test_bad_num_classes(K):
    with pytest.raises(ValueError, match=r"number of classes K must be an integer >= 2"):
        L.smooth_targets(torch.tensor([0]), K, 0.1)
    with pytest.raises(ValueError, match="number of classes"):
        L.minimum_loss(K, 0.1)
    with pytest.raises(ValueError, match="number of classes"):
        L.convert_alpha(0.1, K)


def test_single_logit_column_is_rejected():
    with pytest.raises(ValueError, match="number of classes"):
        L.smoothed_cross_entropy(torch.zeros(3, 1), torch.zeros(3, dtype=torch.long), 0.1)


def test_unknown_convention():
    with pytest.raises(ValueError, match=r"convention must be one of .*'uniform'.*'others'.*got 'tensor2tensor'"):
        L.smoothed_cross_entropy(LOGITS, LABELS, 0.1, "tensor2tensor")
    with pytest.raises(ValueError, match="convention"):
        L.convert_alpha(0.1, 10, "uniform", "Others")
    with pytest.raises(ValueError, match="convention"):
        L.optimal_logit_gap(10, 0.1, "paper")


@pytest.mark.parametrize("labels", [[0, 10], [-1, 3], [12]])
def test_labels_out_of_range(labels):
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\]"):
        L.smoothed_cross_entropy(torch.zeros(len(labels), 10), torch.tensor(labels), 0.1)


# ---------------------------------------------------------------- reductions
def test_reductions_match_torch():
    logits, labels = _logits(12, 10, 9), _labels(12, 10, 9)
    for red in ("mean", "sum", "none"):
        torch.testing.assert_close(L.smoothed_cross_entropy(logits, labels, 0.1, reduction=red),
                                   F.cross_entropy(logits, labels, label_smoothing=0.1, reduction=red))
    with pytest.raises(ValueError, match="reduction must be"):
        L.smoothed_cross_entropy(logits, labels, 0.1, reduction="batchmean")


def test_precision_follows_the_logits():
    logits, labels = _logits(8, 10, 10, dtype=torch.float64), _labels(8, 10, 10)
    assert L.smoothed_cross_entropy(logits, labels, 0.1).dtype == torch.float64
    half = L.smoothed_cross_entropy(logits.half(), labels, 0.1)
    assert half.dtype == torch.float32  # low-precision logits are lifted, not reduced in fp16
    torch.testing.assert_close(half, F.cross_entropy(logits.half().float(), labels, label_smoothing=0.1))


# ---------------------------------------------------------------- KL and free-logit fits (chapter 1 helpers)
def test_kl_divergence():
    g = torch.Generator().manual_seed(11)
    p = torch.softmax(torch.randn(5, 10, generator=g, dtype=torch.float64), -1)
    q = torch.softmax(torch.randn(5, 10, generator=g, dtype=torch.float64), -1)
    torch.testing.assert_close(L.kl_divergence(p, p), torch.zeros(5, dtype=torch.float64))
    assert (L.kl_divergence(p, q) > 0).all()
    torch.testing.assert_close(L.kl_divergence(p, q), (p * (p / q).log()).sum(-1))
    # 0 log 0 = 0: a one-hot p gives -log q of its class
    onehot = F.one_hot(torch.tensor([3]), 10).double()
    torch.testing.assert_close(L.kl_divergence(onehot, q[:1]), -q[:1, 3].log())
    # label smoothing's extra term: H(u, p) = KL(u || p) + log K
    u = torch.full((5, 10), 0.1, dtype=torch.float64)
    torch.testing.assert_close(L.kl_divergence(u, q) + math.log(10), -(u * q.log()).sum(-1))


@pytest.mark.parametrize("K,alpha,conv", [(10, 0.1, "uniform"), (10, 0.1, "others"), (100, 0.05, "uniform")])
def test_fit_free_logits_smoothed(K, alpha, conv):
    z = L.fit_free_logits(K, alpha, conv, label=3)
    assert z.shape == (1, K) and int(z.argmax()) == 3
    others = torch.cat([z[0, :3], z[0, 4:]])
    assert float(z[0, 3] - others.mean()) == pytest.approx(L.optimal_logit_gap(K, alpha, conv), abs=1e-3)


@pytest.mark.parametrize("beta", [0.2, 0.5])
def test_fit_free_logits_confidence_penalty(beta):
    K = 10
    z = L.fit_free_logits(K, 0.0, loss="confidence", beta=beta)
    gap = float(z[0, 0] - z[0, 1:].mean())
    # brute force along the gap: -log p_0 - beta * H(p) for logits (g, 0, ..., 0)
    g = torch.linspace(0, 60, 600001, dtype=torch.float64)
    logits = torch.zeros(len(g), K, dtype=torch.float64)
    logits[:, 0] = g
    logp = torch.log_softmax(logits, -1)
    f = -logp[:, 0] + beta * (logp.exp() * logp).sum(-1)
    assert gap == pytest.approx(float(g[f.argmin()]), abs=1e-3)
    assert math.isfinite(gap)


def test_fit_free_logits_bad_loss():
    with pytest.raises(ValueError, match="loss must be 'smoothed' or 'confidence'"):
        L.fit_free_logits(10, 0.1, loss="focal")
