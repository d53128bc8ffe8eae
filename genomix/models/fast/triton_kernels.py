"""The Triton kernels of one ChordMixer block (the elementwise work; the matmuls stay cuBLAS).

Imported only by :mod:`genomix.models.fast.triton_block`, and only when a block runs on a device these
kernels serve: importing this module imports triton. With ``TRITON_INTERPRET=1`` set before the import,
triton's interpreter runs the same kernels on CPU tensors (how the tests check them without a GPU).

Each kernel reads and writes its tensors once and computes in float32 whatever the storage dtype:

* :func:`layer_norm`: LayerNorm without affine (the affine is folded into ``fc1`` by the caller), with
  the rows' mean and reciprocal standard deviation for the backward pass;
* :func:`bias_gelu`: ``gelu(h + b1)`` (exact GELU) on ``fc1``'s matmul output;
* :func:`rotate_add`: ``x + rotate(update) + b2``, the rotation's gather fused with the residual add and
  ``fc2``'s bias;
* :func:`gather_colsum`: the backward's gather through the inverse rotation, with the column sums that
  are ``fc2``'s bias gradient;
* :func:`gelu_backward_colsum`: GELU's backward with ``fc1``'s bias gradient (column sums);
* :func:`layer_norm_backward_add`: LayerNorm's input gradient plus the residual's gradient.

Column sums are reduced per program into a ``(programs, width)`` float32 buffer, then summed by torch.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

INTERPRETED = bool(triton.knobs.runtime.interpret)
"""Whether these kernels were built for triton's interpreter (``TRITON_INTERPRET=1`` at import)."""
TILE = 4096
"""Elements per program's tile (rows x padded width)."""
ROWS_PER_PROGRAM = 128
"""Rows each program of a column-summing kernel walks through (its partial sums are one buffer row)."""
_INV_SQRT2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327


def _tile(width: int) -> tuple[int, int]:
    """``(rows, padded width)`` of a program's tile for rows of ``width`` elements."""
    block_width = triton.next_power_of_2(max(width, 1))
    return max(1, TILE // block_width), block_width


# forward

@triton.jit
def _layer_norm_kernel(x_ptr, out_ptr, mean_ptr, rstd_ptr, n_rows, width, eps,
                       BLOCK_R: tl.constexpr, BLOCK_D: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    cols = tl.arange(0, BLOCK_D)
    row_ok = rows < n_rows
    mask = row_ok[:, None] & (cols < width)[None, :]
    offsets = rows.to(tl.int64)[:, None] * width + cols[None, :]
    x = tl.load(x_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
    mean = tl.sum(x, axis=1) / width
    centered = tl.where(mask, x - mean[:, None], 0.0)
    rstd = 1.0 / tl.sqrt(tl.sum(centered * centered, axis=1) / width + eps)
    tl.store(out_ptr + offsets, (centered * rstd[:, None]).to(out_ptr.dtype.element_ty), mask=mask)
    tl.store(mean_ptr + rows, mean, mask=row_ok)
    tl.store(rstd_ptr + rows, rstd, mask=row_ok)


@triton.jit
def _bias_gelu_kernel(h_ptr, bias_ptr, out_ptr, n_rows, width, BLOCK_R: tl.constexpr, BLOCK_D: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    cols = tl.arange(0, BLOCK_D)
    col_ok = cols < width
    mask = (rows < n_rows)[:, None] & col_ok[None, :]
    offsets = rows.to(tl.int64)[:, None] * width + cols[None, :]
    h = tl.load(h_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
    h += tl.load(bias_ptr + cols, mask=col_ok, other=0.0)[None, :]
    gelu = 0.5 * h * (1.0 + tl.math.erf(h * _INV_SQRT2))
    tl.store(out_ptr + offsets, gelu.to(out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _rotate_add_kernel(x_ptr, update_ptr, index_ptr, bias_ptr, out_ptr, n_rows, width, n_tracks, track_size,
                       BLOCK_R: tl.constexpr, BLOCK_D: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    cols = tl.arange(0, BLOCK_D)
    col_ok = cols < width
    mask = (rows < n_rows)[:, None] & col_ok[None, :]
    rows64 = rows.to(tl.int64)
    offsets = rows64[:, None] * width + cols[None, :]
    track, channel = cols // track_size, cols % track_size
    source = tl.load(index_ptr + rows64[:, None] * n_tracks + track[None, :], mask=mask, other=0).to(tl.int64)
    rotated = tl.load(update_ptr + source * track_size + channel[None, :], mask=mask, other=0.0).to(tl.float32)
    x = tl.load(x_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
    out = x + rotated + tl.load(bias_ptr + cols, mask=col_ok, other=0.0)[None, :]
    tl.store(out_ptr + offsets, out.to(out_ptr.dtype.element_ty), mask=mask)


# backward

@triton.jit
def _gather_colsum_kernel(grad_ptr, inverse_ptr, out_ptr, partial_ptr, n_rows, width, n_tracks, track_size,
                          ROWS: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_D: tl.constexpr):
    program = tl.program_id(0)
    cols = tl.arange(0, BLOCK_D)
    col_ok = cols < width
    track, channel = cols // track_size, cols % track_size
    total = tl.zeros((BLOCK_D,), dtype=tl.float32)
    for step in range(0, ROWS, BLOCK_R):
        rows = program * ROWS + step + tl.arange(0, BLOCK_R)
        mask = (rows < n_rows)[:, None] & col_ok[None, :]
        rows64 = rows.to(tl.int64)
        source = tl.load(inverse_ptr + rows64[:, None] * n_tracks + track[None, :], mask=mask, other=0)
        value = tl.load(grad_ptr + source.to(tl.int64) * track_size + channel[None, :], mask=mask, other=0.0)
        tl.store(out_ptr + rows64[:, None] * width + cols[None, :], value, mask=mask)
        total += tl.sum(value.to(tl.float32), axis=0)
    tl.store(partial_ptr + program * width + cols, total, mask=col_ok)


@triton.jit
def _gelu_backward_colsum_kernel(grad_ptr, h_ptr, bias_ptr, out_ptr, partial_ptr, n_rows, width,
                                 ROWS: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_D: tl.constexpr):
    program = tl.program_id(0)
    cols = tl.arange(0, BLOCK_D)
    col_ok = cols < width
    bias = tl.load(bias_ptr + cols, mask=col_ok, other=0.0)
    total = tl.zeros((BLOCK_D,), dtype=tl.float32)
    for step in range(0, ROWS, BLOCK_R):
        rows = program * ROWS + step + tl.arange(0, BLOCK_R)
        mask = (rows < n_rows)[:, None] & col_ok[None, :]
        offsets = rows.to(tl.int64)[:, None] * width + cols[None, :]
        h = tl.load(h_ptr + offsets, mask=mask, other=0.0).to(tl.float32) + bias[None, :]
        grad = tl.load(grad_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
        slope = 0.5 * (1.0 + tl.math.erf(h * _INV_SQRT2)) + h * _INV_SQRT_2PI * tl.exp(-0.5 * h * h)
        grad_h = tl.where(mask, grad * slope, 0.0)
        tl.store(out_ptr + offsets, grad_h.to(out_ptr.dtype.element_ty), mask=mask)
        total += tl.sum(grad_h, axis=0)
    tl.store(partial_ptr + program * width + cols, total, mask=col_ok)


@triton.jit
def _layer_norm_backward_add_kernel(grad_ptr, x_ptr, mean_ptr, rstd_ptr, residual_ptr, out_ptr, n_rows, width,
                                    BLOCK_R: tl.constexpr, BLOCK_D: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    cols = tl.arange(0, BLOCK_D)
    row_ok = rows < n_rows
    mask = row_ok[:, None] & (cols < width)[None, :]
    offsets = rows.to(tl.int64)[:, None] * width + cols[None, :]
    mean = tl.load(mean_ptr + rows, mask=row_ok, other=0.0)
    rstd = tl.load(rstd_ptr + rows, mask=row_ok, other=0.0)
    x = tl.load(x_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
    normed = tl.where(mask, (x - mean[:, None]) * rstd[:, None], 0.0)
    grad = tl.load(grad_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
    mean_grad = tl.sum(grad, axis=1) / width
    mean_grad_normed = tl.sum(grad * normed, axis=1) / width
    grad_x = rstd[:, None] * (grad - mean_grad[:, None] - normed * mean_grad_normed[:, None])
    residual = tl.load(residual_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
    tl.store(out_ptr + offsets, (grad_x + residual).to(out_ptr.dtype.element_ty), mask=mask)


# launchers

def layer_norm(x: Tensor, eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """``(normalized rows in x's dtype, float32 mean (n,), float32 rstd (n,))`` of contiguous ``(n, D)`` rows."""
    n_rows, width = x.shape
    out = torch.empty_like(x)
    mean = torch.empty(n_rows, dtype=torch.float32, device=x.device)
    rstd = torch.empty_like(mean)
    block_r, block_d = _tile(width)
    _layer_norm_kernel[(triton.cdiv(n_rows, block_r),)](x, out, mean, rstd, n_rows, width, eps,
                                                        BLOCK_R=block_r, BLOCK_D=block_d)
    return out, mean, rstd


def bias_gelu(h: Tensor, bias: Tensor) -> Tensor:
    """``gelu(h + bias)`` in ``h``'s dtype for contiguous ``(n, H)`` ``h`` and a float32 ``(H,)`` bias."""
    n_rows, width = h.shape
    out = torch.empty_like(h)
    block_r, block_d = _tile(width)
    _bias_gelu_kernel[(triton.cdiv(n_rows, block_r),)](h, bias, out, n_rows, width, BLOCK_R=block_r,
                                                       BLOCK_D=block_d)
    return out


def rotate_add(x: Tensor, update: Tensor, index: Tensor, bias: Tensor) -> Tensor:
    """``x + rotate(update) + bias`` in ``x``'s dtype (``index``: the rotation's ``n * n_tracks`` entries)."""
    n_rows, width = x.shape
    n_tracks = index.numel() // max(n_rows, 1)
    out = torch.empty_like(x)
    block_r, block_d = _tile(width)
    _rotate_add_kernel[(triton.cdiv(n_rows, block_r),)](x, update, index, bias, out, n_rows, width, n_tracks,
                                                        width // n_tracks, BLOCK_R=block_r, BLOCK_D=block_d)
    return out


def _programs(n_rows: int) -> int:
    return max(1, triton.cdiv(n_rows, ROWS_PER_PROGRAM))


def _column_tile(width: int) -> tuple[int, int]:
    block_r, block_d = _tile(width)
    return min(block_r, ROWS_PER_PROGRAM), block_d


def gather_colsum(grad: Tensor, inverse: Tensor) -> tuple[Tensor, Tensor]:
    """``(rotate^-1(grad), its float32 column sums)`` for contiguous ``(n, D)`` ``grad``."""
    n_rows, width = grad.shape
    n_tracks = inverse.numel() // max(n_rows, 1)
    out = torch.empty_like(grad)
    programs = _programs(n_rows)
    partial = torch.empty(programs, width, dtype=torch.float32, device=grad.device)
    block_r, block_d = _column_tile(width)
    _gather_colsum_kernel[(programs,)](grad, inverse, out, partial, n_rows, width, n_tracks, width // n_tracks,
                                       ROWS=ROWS_PER_PROGRAM, BLOCK_R=block_r, BLOCK_D=block_d)
    return out, partial.sum(0)


def gelu_backward_colsum(grad: Tensor, h: Tensor, bias: Tensor) -> tuple[Tensor, Tensor]:
    """``(grad * gelu'(h + bias), its float32 column sums)``; the first is written over ``grad``."""
    n_rows, width = h.shape
    programs = _programs(n_rows)
    partial = torch.empty(programs, width, dtype=torch.float32, device=h.device)
    block_r, block_d = _column_tile(width)
    _gelu_backward_colsum_kernel[(programs,)](grad, h, bias, grad, partial, n_rows, width, ROWS=ROWS_PER_PROGRAM,
                                              BLOCK_R=block_r, BLOCK_D=block_d)
    return grad, partial.sum(0)


def layer_norm_backward_add(grad: Tensor, x: Tensor, mean: Tensor, rstd: Tensor, residual: Tensor) -> Tensor:
    """The input gradient of an affine-free LayerNorm of ``x`` given its output's ``grad``, plus ``residual``."""
    n_rows, width = x.shape
    out = torch.empty_like(residual)
    block_r, block_d = _tile(width)
    _layer_norm_backward_add_kernel[(triton.cdiv(n_rows, block_r),)](grad, x, mean, rstd, residual, out, n_rows,
                                                                     width, BLOCK_R=block_r, BLOCK_D=block_d)
    return out


__all__ = ["INTERPRETED", "layer_norm", "bias_gelu", "rotate_add", "gather_colsum", "gelu_backward_colsum",
           "layer_norm_backward_add"]
