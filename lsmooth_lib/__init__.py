"""lsmooth_lib: the helper library of the executable textbook on "When Does Label Smoothing Help?".

Modules, in the order the book needs them:

* ``losses``  -- smoothed targets, smoothed cross-entropy, confidence penalty (chapter 1)
* ``data``    -- MNIST / CIFAR as uint8 tensors, splits, tensor augmentation (chapter 2)
* ``models``  -- the paper's networks, each with ``features`` and class templates (chapter 2)
* ``train``   -- the one training loop, evaluation, prediction (chapter 2, appendix B)
* ``zoo``     -- named trained models with records; ``python -m lsmooth_lib zoo ...`` (appendix B)
* ``calibration`` -- ECE, reliability diagrams, temperature scaling (chapter 3)
* ``geometry`` -- the projection onto three templates, tightness (chapter 2)
* ``translation`` -- tokenizer, text batches, beam search, BLEU (chapter 4)
* ``plots``   -- the book's figure style and static/live sliders (all chapters)
"""
__version__ = "0.1.0"
