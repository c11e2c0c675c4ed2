"""The paper's numbers, held once: every value of "When Does Label Smoothing Help?" (Mueller, Kornblith, Hinton,
NeurIPS 2019, arXiv 1906.02629 v3) that the claims layer (:mod:`lsmooth_lib.claims`), appendix A and the chapters quote.

Each entry names the section, table or figure it comes from.  Values are typed from the paper (see
``shared/reference/paper_spec.md``, which quotes them); nothing here is measured.  ECE is a fraction, accuracies and
errors are percentages, mutual information is in nats.  ``None`` marks what the paper does not state.
"""
from __future__ import annotations

import math

DEFAULT_ALPHA = 0.1  # the smoothing factor of every "with label smoothing" result unless a table says otherwise
ECE_BINS = 15        # Figure 2 (explicit), assumed for Table 3 as in Guo et al.

# Table 1 (section 1): label smoothing in earlier work, quoted from other papers -- not the paper's own experiments.
TABLE1 = dict(
    section="§1, Table 1",
    rows=[
        dict(data="ImageNet", arch="Inception-v2", metric="top-1 error", without=23.1, with_ls=22.8),
        dict(data="ImageNet", arch="Inception-v2", metric="top-5 error", without=6.3, with_ls=6.1),
        dict(data="EN-DE", arch="Transformer", metric="BLEU", without=25.3, with_ls=25.8),
        dict(data="EN-DE", arch="Transformer", metric="perplexity", without=4.67, with_ls=4.92),
        dict(data="WSJ", arch="BiLSTM+Att.", metric="WER", without=8.9, with_ls="7.0/6.7"),
    ])

# Figure 1 (section 2): penultimate-layer projections, 100 examples per class, alpha 0 vs 0.1, train and validation.
FIGURE1 = dict(
    section="§2, Figure 1",
    examples_per_class=100,
    rows={
        "cifar10": dict(row=1, data="CIFAR-10", arch="AlexNet", classes=("airplane", "automobile", "bird"),
                        seeds=5, steps="390k iterations"),
        "cifar100": dict(row=2, data="CIFAR-100", arch="ResNet-56", classes=("beaver", "dolphin", "otter"),
                         seeds=None, steps="64k iterations"),
        "imagenet": dict(row=3, data="ImageNet", arch="Inception-v4", classes=("tench", "meerkat", "cleaver")),
        "imagenet-similar": dict(row=4, data="ImageNet", arch="Inception-v4",
                                 classes=("toy poodle", "miniature poodle", "tench")),
    })

# Table 2 (section 2): top-1 accuracy (%) of the networks of Figure 1, mean ± (presumably) std over seeds.
TABLE2 = dict(
    section="§2, Table 2",
    rows={
        "cifar10": dict(data="CIFAR-10", arch="AlexNet", acc={0.0: (86.8, 0.2), 0.1: (86.7, 0.3)}),
        "cifar100": dict(data="CIFAR-100", arch="ResNet-56", acc={0.0: (72.1, 0.3), 0.1: (72.7, 0.3)}),
        "imagenet": dict(data="ImageNet", arch="Inception-v4", acc={0.0: (80.9, None), 0.1: (80.9, None)}),
    })

# Table 3 (section 3): ECE as trained (T = 1, alpha = 0), after temperature scaling (ECE, T), with label smoothing
# (ECE, alpha) at T = 1.
TABLE3 = dict(
    section="§3, Table 3",
    rows={
        "cifar100": dict(data="CIFAR-100", arch="ResNet-56", baseline=0.150, ts=(0.021, 1.9), ls=(0.024, 0.05)),
        "imagenet": dict(data="ImageNet", arch="Inception-v4", baseline=0.071, ts=(0.022, 1.4), ls=(0.035, 0.1)),
        "en-de": dict(data="EN-DE (WMT)", arch="Transformer", baseline=0.056, ts=(0.018, 1.13), ls=(0.019, 0.1)),
    })

# Figure 2 (section 3, appendix A.2): reliability diagrams; left ResNet-56 / CIFAR-100 on the 10k validation images.
FIGURE2 = dict(section="§3, Figure 2", bins=ECE_BINS, validation_examples=10_000,
               cifar100=dict(T=1.9, alpha=0.05), imagenet=dict(ece=0.071, T=1.4, ece_ts=0.022, alpha=0.1, ece_ls=0.035))

# Figure 3 (section 3, appendix A.3): next-token reliability of the EN-DE Transformer given the correct prefix.
FIGURE3 = dict(section="§3, Figure 3", validation_tokens=10_000, alpha=0.1, T=1.13)

# Figure 4 (section 3): BLEU, ECE and NLL against the decoding temperature (values only in the figure).
FIGURE4 = dict(section="§3, Figure 4", bleu=None, temperatures=None,
               claims=("label smoothing improves BLEU", "hard targets have the better NLL at every temperature",
                       "the ECE minimum predicts the top BLEU slightly better than the NLL minimum",
                       "temperature scaling of the hard-target model does not recover the BLEU of label smoothing"))

# Section 4: the MNIST toy (Hinton et al. 2015's experiment), test error in % (numbers in the text, no table).
MNIST = dict(section="§4, MNIST toy", teacher_units=1200, student_units=800, student_beta=0.6,
             error={"teacher-dropout": 0.67, "student-of-dropout": 0.74, "teacher-ls": 0.59, "student-of-ls": 0.91},
             hinton_errors=dict(teacher=67, student_alone=146, student_distilled=74))

# Figure 5 (section 4, appendix A.1/A.2): ResNet-56 teacher -> AlexNet student on CIFAR-10, beta = 1, student T = 1.
FIGURE5 = dict(section="§4, Figure 5", temperatures=(1.0, 2.0, 3.0, 4.0, 8.0, 12.0, 16.0),
               alphas=(0.0, 0.15, 0.30, 0.45, 0.60, 0.75), seeds=5, beta=1.0, student_temperature=1.0,
               teacher_improves_up_to=0.6, accuracies=None)

# Figure 6 (section 4, appendix A.2): I(X; Y) of the ResNet-56 CIFAR-10 teacher during training.
FIGURE6 = dict(section="§4, Figure 6", classes=("airplane", "dog"), n=600, draws=5, every_steps=4000,
               log_n=math.log(600), log_2=math.log(2), ls_alpha=None)

# Figure 7 (appendix B): penultimate projections of the EN-DE Transformer's next-token representations.
FIGURE7 = dict(section="App. B, Figure 7", penultimate_dim=512, vocabulary=30_000, train_token_accuracy=80.0)

# Later work and background the chapters quote (chapters 3, 4 and 6): other papers' numbers, typed from them.
LITERATURE = dict(
    guo2017=dict(section="Guo et al. 2017, Table 1", cifar100_resnet110_ece=(16.53, 1.26),  # % before / after TS
                 cifar100_error_during_nll_overfitting=(29, 27)),
    wmt14=dict(section="Vaswani et al. 2017 (the paper's EN-DE data)", training_pairs_million=4.5),
    chandrasegaran2022=dict(section="Chandrasegaran et al. 2022, ImageNet ResNet-50 -> ResNet-18, top-1 %",
                            temperatures=(1, 2, 3, 64), hard_teacher=(71.49, 71.36, 69.67, 66.19),
                            ls_teacher=(71.67, 68.86, 67.75, 64.36)),
    shen2021=dict(section="Shen et al. 2021, ResNet-50 on ImageNet, 1 - stability", alpha0=0.3217, alpha01=0.3106),
    lukasik2020=dict(section="Lukasik et al. 2020 (secondary source), ResNet-32, CIFAR-10, 20 % symmetric noise",
                     acc=(80.44, 83.95)),
)


def quoted_numbers() -> set:
    """Every number this module holds, as the strings a chapter may type (``"0.056"``, ``"72.1"``): the test of
    the chapters' prose accepts a decimal number in a markdown cell only if it is one of these, a configuration value of
    a zoo entry, or inside math (a derivation), code (an API call) or a printed output."""
    import re
    from pathlib import Path
    return set(re.findall(r"(?<![\w.])\d+\.\d+(?![\w.])", Path(__file__).read_text()))
