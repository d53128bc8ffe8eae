"""Fused CPU kernels for ChordMixer blocks, as functions on tensors.

Each function does in one pass over memory what ATen does in two or three (see ``kernels.c``); they
take contiguous bf16 or float32 CPU tensors (all rows of one type), return new ones, and split their
rows across ``torch.get_num_threads()`` threads on large inputs (the C calls release the GIL).
:func:`available` says whether the compiled library could be loaded (:mod:`genomix.native.build`);
when it could not, none of the functions may be called.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import Tensor

from genomix.native import build

MIN_SPLIT_ROWS = 4096
"""Inputs with fewer rows run on the calling thread alone."""

_STATE: dict[str, object] = {}
_LOCK = threading.Lock()


def _library():
    with _LOCK:
        if "library" not in _STATE:
            _STATE["library"] = build.load()
        return _STATE["library"]


def available() -> bool:
    """Whether the kernels are compiled and loaded (compiles them on the first call)."""
    return _library() is not None


def _pool(workers: int) -> ThreadPoolExecutor:
    with _LOCK:
        key = f"pool{workers}"
        if key not in _STATE:
            _STATE[key] = ThreadPoolExecutor(workers, thread_name_prefix="genomix-native")
        return _STATE[key]


def _parts(n: int) -> int:
    """How many threads share ``n`` rows: one per intra-op thread on large inputs."""
    return max(1, min(torch.get_num_threads(), n // MIN_SPLIT_ROWS))


def _split(n: int, call) -> None:
    """``call(part, start, stop)`` over ``[0, n)`` split into :func:`_parts` parts, in parallel (no call
    when there are no rows)."""
    parts = _parts(n)
    if n == 0:
        return
    if parts == 1:
        call(0, 0, n)
        return
    bounds = [n * k // parts for k in range(parts + 1)]
    futures = [_pool(parts).submit(call, k, bounds[k], bounds[k + 1]) for k in range(parts)]
    for future in futures:
        future.result()


def _ptr(tensor: Tensor, row: int = 0) -> int:
    return tensor.data_ptr() + row * tensor.stride(0) * tensor.element_size()


DTYPES = (torch.bfloat16, torch.float32)
"""Element types the kernels take (row tensors; statistics, biases and sums are float32)."""


def _check(*tensors: Tensor) -> None:
    for tensor in tensors:
        if tensor.device.type != "cpu" or not tensor.is_contiguous():
            raise ValueError("native kernels take contiguous CPU tensors")


def _kernel(name: str, rows: Tensor):
    """The C function ``name`` for ``rows``' element type."""
    if rows.dtype not in DTYPES:
        raise ValueError(f"native kernels take bfloat16 or float32 rows; got {rows.dtype}")
    return getattr(_library(), name if rows.dtype == torch.bfloat16 else f"{name}_f32")


def layer_norm(x: Tensor, eps: float, *, out: Tensor | None = None, mean: Tensor | None = None,
               rstd: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """``(x - mean) * rstd`` per row of ``(n, d)``; also the float32 ``mean`` and ``rstd`` (each written
    into the given contiguous tensor if there is one)."""
    _check(x)
    n, d = x.shape
    out = torch.empty_like(x) if out is None else out
    mean = torch.empty(n, dtype=torch.float32) if mean is None else mean
    rstd = torch.empty(n, dtype=torch.float32) if rstd is None else rstd
    _check(out, mean, rstd)
    if out.shape != x.shape or out.dtype != x.dtype or mean.shape != (n,) or rstd.shape != (n,):
        raise ValueError("out must be like x; mean and rstd float32 of x's number of rows")
    run = _kernel("gx_layer_norm", x)
    _split(n, lambda _, i, j: run(_ptr(x, i), j - i, d, eps, _ptr(out, i), _ptr(mean, i), _ptr(rstd, i)))
    return out, mean, rstd


def rotate_add(x: Tensor, update: Tensor, index: Tensor, bias: Tensor, *, out: Tensor | None = None) -> Tensor:
    """``x + rotate(update) + bias`` for ``(n, d)`` rows; ``index`` is the rotation's int32 gather
    index over ``n * tracks`` rows of ``d / tracks`` channels, ``bias`` float32 ``(d,)``. ``out`` may be
    ``x`` itself (each element is read before it is written), not ``update``."""
    _check(x, update, index, bias)
    n, d = x.shape
    tracks = index.numel() // max(n, 1)
    if out is None:
        out = torch.empty_like(x)
    elif out.shape != x.shape or out.dtype != x.dtype or not out.is_contiguous() or out.data_ptr() == update.data_ptr():
        raise ValueError("out must be a contiguous tensor like x, and not update")
    run = _kernel("gx_rotate_add", x)
    _split(n, lambda _, i, j: run(_ptr(x, i), _ptr(update), _ptr(index, i * tracks), _ptr(bias), j - i, tracks,
                               d // max(tracks, 1), _ptr(out, i)))
    return out


def gather_colsum(source: Tensor, index: Tensor, tracks: int | None = None) -> tuple[Tensor, Tensor]:
    """Rows gathered from ``source`` by ``index`` as :func:`rotate_add` reads them (``tracks`` entries
    per output row; default: ``index`` covers ``source``'s rows), and the float32 column sums of the result.
    ``index`` may be a slice of a rotation's index: the result is then that slice's rows."""
    _check(source, index)
    d = source.shape[1]
    tracks = tracks or index.numel() // max(source.shape[0], 1)
    n = index.numel() // max(tracks, 1)
    out = torch.empty(n, d, dtype=source.dtype)
    sums = torch.zeros(_parts(n), d, dtype=torch.float32)
    run = _kernel("gx_gather_colsum", source)

    def call(part: int, i: int, j: int) -> None:
        run(_ptr(source), _ptr(index, i * tracks), j - i, tracks, d // tracks, _ptr(out, i), _ptr(sums, part))

    _split(n, call)
    return out, sums.sum(0)


def gelu_backward_colsum(grad: Tensor, pre_activation: Tensor) -> tuple[Tensor, Tensor]:
    """``grad * GELU'(pre_activation)`` (exact GELU) for ``(n, h)`` and its float32 column sums."""
    _check(grad, pre_activation)
    n, h = grad.shape
    out = torch.empty_like(grad)
    sums = torch.zeros(_parts(n), h, dtype=torch.float32)
    run = _kernel("gx_gelu_backward_colsum", grad)

    def call(part: int, i: int, j: int) -> None:
        run(_ptr(grad, i), _ptr(pre_activation, i), j - i, h, _ptr(out, i), _ptr(sums, part))

    _split(n, call)
    return out, sums.sum(0)


def layer_norm_backward_add(grad: Tensor, x: Tensor, mean: Tensor, rstd: Tensor, residual: Tensor, *,
                            out: Tensor | None = None) -> Tensor:
    """``residual`` plus the gradient of :func:`layer_norm` at ``x`` for ``grad`` (``(n, d)``), into
    ``out`` if given (contiguous, like ``x``)."""
    _check(grad, x, mean, rstd, residual)
    n, d = x.shape
    out = torch.empty_like(x) if out is None else out
    _check(out)
    run = _kernel("gx_layer_norm_backward_add", x)
    _split(n, lambda _, i, j: run(_ptr(grad, i), _ptr(x, i), _ptr(mean, i), _ptr(rstd, i), _ptr(residual, i),
                               j - i, d, _ptr(out, i)))
    return out


__all__ = ["available", "layer_norm", "rotate_add", "gather_colsum", "gelu_backward_colsum",
           "layer_norm_backward_add"]
