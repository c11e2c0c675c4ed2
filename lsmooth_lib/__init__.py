"""lsmooth_lib: the helper library of the executable textbook on "When Does Label Smoothing Help?".

Modules, from the bottom of the import graph up (each imports only modules listed above it; no two modules import
each other in a circle, function-local imports included -- ``tests/test_imports.py``):

* ``checks``  -- argument checks with one-sentence errors (every module)
* ``models``  -- the paper's networks, each with ``features`` and class templates (chapter 2)
* ``paper``   -- the paper's numbers and settings, typed from it (appendix A)
* ``files``   -- the datasets' facts, the data/cache/zoo folders, verified reads, atomic writes, locks
* ``losses``  -- smoothed targets, smoothed cross-entropy, confidence penalty (chapter 1)
* ``calibration`` -- ECE, reliability diagrams, temperature scaling (chapter 3)
* ``kd``      -- distillation's mathematics: the loss, tempered targets, the equivalent smoothing gamma (chapter 5)
* ``text``    -- Multi30k sentences, the subword tokenizer, tokenised splits and batches (chapter 4)
* ``data``    -- MNIST / CIFAR as uint8 tensors, splits, tensor augmentation; the one ``load_split``/``batches``
  for every dataset, text included (chapter 2)
* ``infer``   -- device choice, ``predict``, ``evaluate`` (every chapter)
* ``information`` -- the mutual information of Figure 6 (chapter 5)
* ``geometry`` -- the projection onto three templates, tightness (chapter 2)
* ``train``   -- the one training loop; a distilled config's teacher is passed in, never loaded (appendix B)
* ``translation`` -- beam search, BLEU, the decoding sweep, Figure 7's projections (chapter 4)
* ``snapshot`` -- the arrays kept in git in place of large models' weights (appendix B)
* ``zoo``     -- the registry of named entries (``fields``, ``select``), training them, their records
  (``record``: the one reader) and what chapters read of them (appendix B)
* ``distillation`` -- ``kd``'s names plus Figure 5's results gathered from the zoo (chapters 5 and 6)
* ``runner``  -- the zoo's command line, ``python -m lsmooth_lib zoo ...``, and the GPU runner (appendix B)
* ``claims``  -- the paper's claims, each checked on the zoo, with a verdict (appendix A)
* ``plots``   -- the book's figure style and static/live sliders (all chapters)
* ``diagnose``, ``selective``, ``transfer`` -- chapter 7's diagnosis of any network, and its relatives (chapters 6, 7)
"""
__version__ = "0.1.0"
