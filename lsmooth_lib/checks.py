"""Argument checks shared by the library's public functions (the "no silent wrong answers" rules).

Every public function of ``lsmooth_lib`` checks its arguments at the door with these helpers, so that a bad
input fails at once with one sentence that says what was expected, what was got and what to do -- instead of
a deep traceback, a message about an internal tensor, or (worst) a silently wrong number in the book.

Conventions:

* ``TypeError`` for the wrong kind of object (a string where a tensor is expected, float labels),
  ``ValueError`` for the right kind with a wrong shape or value (3 labels for 4 rows, a label of -1, ``nan``);
* empty inputs are refused (a mean over nothing would be ``nan``);
* checks of *values* (labels in ``[0, K)``, finite logits) cost one pass over the data and, on the CPU,
  nothing else: they always run there.  On an accelerator, reading the answer back to Python is a host
  synchronisation that stalls the training loop, so a check with a ``key`` runs on the first call and then on
  every :data:`DEVICE_CHECK_EVERY`-th call (:func:`due`).  A model whose logits turn ``nan`` stays ``nan``, so
  a diverged run is still stopped within :data:`DEVICE_CHECK_EVERY` steps; structural checks (types, shapes)
  need no synchronisation and always run.
"""
from __future__ import annotations

import math
import numbers

import torch

#: On an accelerator, value checks with a ``key`` run on the first call and then every this many calls.
DEVICE_CHECK_EVERY = 50
_CALLS: dict = {}


def due(key: str | None, x: torch.Tensor) -> bool:
    """Whether the value check ``key`` runs for tensor ``x`` now: always on the CPU (or without a key), on
    the first call and every :data:`DEVICE_CHECK_EVERY`-th call on an accelerator (see the module's notes)."""
    if key is None or x.device.type == "cpu":
        return True
    n = _CALLS.get(key, 0)
    _CALLS[key] = n + 1
    return n % max(int(DEVICE_CHECK_EVERY), 1) == 0


def describe(x) -> str:
    """A short description of ``x`` for error messages: ``a float32 tensor of shape (4, 10)``, ``'abc'``, ..."""
    if isinstance(x, torch.Tensor):
        return f"a {str(x.dtype).replace('torch.', '')} tensor of shape {tuple(x.shape)}"
    if hasattr(x, "dtype") and hasattr(x, "shape"):  # numpy arrays
        return f"a {x.dtype} array of shape {tuple(x.shape)}"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of {len(x)} items"
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


def as_tensor(name: str, x, dtype=None) -> torch.Tensor:
    """``x`` as a tensor (lists and numpy arrays are converted), or a ``TypeError`` naming ``name``."""
    if isinstance(x, torch.Tensor):
        return x if dtype is None else x.to(dtype)
    if isinstance(x, (str, bytes, dict, set)) or x is None:
        raise TypeError(f"{name} must be a tensor (or a list or array of numbers); got {describe(x)}")
    try:
        return torch.as_tensor(x, dtype=dtype)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"{name} must be a tensor (or a list or array of numbers); got {describe(x)} "
                        f"({type(err).__name__}: {err})") from None


def _is_real(t: torch.Tensor) -> bool:
    return t.dtype != torch.bool and not t.is_complex()


def matrix(name: str, x, *, min_rows: int = 1, min_cols: int = 1, cols: int | None = None,
           what: str = "(N, K)") -> torch.Tensor:
    """A real 2-D tensor with at least ``min_rows`` rows and ``min_cols`` (or exactly ``cols``) columns."""
    t = as_tensor(name, x)
    if not _is_real(t):
        raise TypeError(f"{name} must hold real numbers; got {describe(t)}")
    if t.ndim != 2:
        hint = f"; for a single example use {name}[None]" if t.ndim == 1 else ""
        raise ValueError(f"{name} must be a 2-D tensor {what}; got {describe(t)}{hint}")
    if t.shape[0] < min_rows:
        raise ValueError(f"{name} must have at least {min_rows} row{'s' * (min_rows > 1)} (an empty input has no "
                         f"mean); got {describe(t)}")
    if cols is not None and t.shape[1] != cols:
        raise ValueError(f"{name} must have {cols} columns {what}; got {describe(t)}")
    if t.shape[1] < min_cols:
        raise ValueError(f"{name} must have at least {min_cols} columns {what}; got {describe(t)}")
    return t


def labels_tensor(name: str, labels, n: int | None = None, *, against: str = "rows of logits") -> torch.Tensor:
    """Integer class labels as a 1-D ``long`` tensor, ``n`` of them if given (types and shape only)."""
    y = as_tensor(name, labels)
    if y.dtype == torch.bool or y.is_floating_point() or y.is_complex():
        raise TypeError(f"{name} must be integer class indices; got {describe(y)}. Convert whole-number values "
                        f"with .long(), or pass the argmax of probabilities")
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D tensor of class indices (N,); got {describe(y)}")
    if n is not None and len(y) != n:
        raise ValueError(f"{name} must have one label per row: {n} {against}, but got {len(y)} labels")
    if len(y) == 0:
        raise ValueError(f"{name} is empty; at least one example is needed (a mean over nothing is nan)")
    return y.long()


def label_range_error(name: str, y: torch.Tensor, num_classes: int) -> ValueError:
    """The error for labels outside ``[0, K)`` (computed only when the check failed)."""
    return ValueError(f"{name} must lie in [0, {num_classes - 1}] (K = {num_classes} classes); got values from "
                      f"{int(y.min())} to {int(y.max())}")


def nonfinite_error(name: str, x: torch.Tensor) -> ValueError:
    """The error for a tensor with ``nan`` or ``inf`` (computed only when the check failed)."""
    n_nan, n_inf = int(torch.isnan(x).sum()), int(torch.isinf(x).sum())
    return ValueError(f"{name} must be finite; got {n_nan} nan and {n_inf} inf values among {x.numel()} "
                      f"({describe(x)}): a diverged model or a damaged input -- lower the learning rate, or "
                      f"check where {name} came from")


def distribution_error(name: str, p: torch.Tensor) -> ValueError:
    """The error for rows that are not probability vectors (computed only when the check failed)."""
    sums = p.sum(-1)
    return ValueError(f"{name} must be probability vectors (non-negative, each row summing to 1); got row sums "
                      f"from {float(sums.min()):.6g} to {float(sums.max()):.6g} and a smallest entry of "
                      f"{float(p.min()):.6g} -- pass softmax outputs, not logits")


def values(*, finite: dict | None = None, labels: dict | None = None, distributions: dict | None = None,
           key: str | None = None, device_of: torch.Tensor | None = None) -> None:
    """The value checks of several tensors with one read-back (one host synchronisation on an accelerator).

    ``finite``: ``{name: tensor}`` that must hold no ``nan``/``inf``; ``labels``: ``{name: (labels, K)}`` that
    must lie in ``[0, K)``; ``distributions``: ``{name: tensor}`` whose rows (last axis) must be non-negative and
    sum to 1 (to 1e-3).  With ``key``, on an accelerator they run only when :func:`due`.
    """
    finite, labels, distributions = finite or {}, labels or {}, distributions or {}
    tensors = [*finite.values(), *(y for y, _ in labels.values()), *distributions.values()]
    if not tensors:
        return
    ref = device_of if device_of is not None else tensors[0]
    if not due(key, ref):
        return
    flags = [~torch.isfinite(t).all() if t.is_floating_point() else torch.zeros((), dtype=torch.bool, device=t.device)
             for t in finite.values()]
    flags += [((y < 0) | (y >= k)).any() for y, k in labels.values()]
    flags += [(p < 0).any() | ((p.sum(-1) - 1).abs() > 1e-3).any() for p in distributions.values()]
    bad = torch.stack([f.to(ref.device) for f in flags]).tolist()  # the one read-back
    errors = ([lambda n=n, t=t: nonfinite_error(n, t) for n, t in finite.items()]
              + [lambda n=n, y=y, k=k: label_range_error(n, y, k) for n, (y, k) in labels.items()]
              + [lambda n=n, p=p: distribution_error(n, p) for n, p in distributions.items()])
    for b, make in zip(bad, errors):
        if b:
            raise make()


def logits_and_labels(logits, labels, *, min_classes: int = 2, key: str | None = None,
                      logits_name: str = "logits", labels_name: str = "labels"):
    """``(logits (N, K), labels (N,))`` checked together: a real 2-D tensor with ``K >= min_classes``, as many
    integer labels as rows, labels in ``[0, K)`` and finite logits (one read-back, see :func:`values`).
    The labels are returned as ``long`` on the logits' device."""
    z = matrix(logits_name, logits)
    if z.shape[1] < min_classes:
        raise ValueError(f"the number of classes K ({logits_name}' last dimension) must be >= {min_classes}; "
                         f"got {describe(z)}")
    y = labels_tensor(labels_name, labels, z.shape[0], against=f"rows of {logits_name}").to(z.device)
    values(finite={logits_name: z}, labels={labels_name: (y, z.shape[1])}, key=key, device_of=z)
    return z, y


def number(name: str, value, *, hint: str = "") -> float:
    """A real number (not a bool, not a string) as a float."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number{hint}; got {describe(value)}")
    return float(value)


def finite_number(name: str, value, *, hint: str = "") -> float:
    """A finite real number as a float."""
    v = number(name, value, hint=hint)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number{hint}; got {value!r}")
    return v


def positive_finite(name: str, value, *, hint: str = "") -> float:
    """A number ``> 0`` and finite (a temperature, a scale) as a float."""
    v = number(name, value, hint=hint)
    if not (v > 0 and math.isfinite(v)):
        raise ValueError(f"{name} must be a positive finite number{hint}; got {value!r}")
    return v


def in_range(name: str, value, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False,
             hint: str = "") -> float:
    """A number in ``[lo, hi]`` (``(`` / ``)`` with ``lo_open`` / ``hi_open``) as a float; ``nan`` is refused."""
    v = number(name, value, hint=hint)
    ok = (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    if not ok:  # also nan
        interval = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        raise ValueError(f"{name} must lie in {interval}{hint}; got {value!r}")
    return v


def count(name: str, value, minimum: int = 1, *, hint: str = "") -> int:
    """A whole number ``>= minimum`` (a count, a size, a number of steps) as an int; bools and 2.5 are refused."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number >= {minimum}{hint}; got {describe(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}{hint}; got {value!r}")
    return int(value)


def index(name: str, value, size: int, *, what: str = "classes") -> int:
    """An index in ``[0, size)``; negative indices are refused (``-1`` would silently mean the last one)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer index in [0, {size - 1}]; got {describe(value)}")
    if not 0 <= value < size:
        raise ValueError(f"{name} {value!r} is outside [0, {size - 1}] (there are {size} {what}; negative indices "
                         f"are not accepted)")
    return int(value)


def one_of(name: str, value, options) -> object:
    """``value`` if it is one of ``options``, else a ``ValueError`` listing them (with a close match, if any)."""
    if value in options:
        return value
    import difflib
    near = difflib.get_close_matches(str(value), [str(o) for o in options], n=1, cutoff=0.5)
    hint = f" Did you mean {near[0]!r}?" if near else ""
    raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}; got {value!r}.{hint}")
