"""The fused kernels against ATen in float64, for bf16 and float32 rows, in their vectorised and portable builds."""

from __future__ import annotations

import logging

import pytest
import torch

from genomix import native
from genomix.models.rotation import build_rotation
from genomix.native import build

pytestmark = pytest.mark.skipif(not native.available(), reason="no C compiler: the native kernels could not be built")

BF16 = torch.bfloat16
ULP = {torch.bfloat16: 2.0**-8, torch.float32: 1e-6}
"""Relative error of one rounding: bf16 keeps 8 significant bits; for float32 a bound that also covers
summation order and the GELU kernel's erf approximation (absolute error 1.5e-7)."""


@pytest.fixture(params=[torch.bfloat16, torch.float32], ids=["bf16", "f32"])
def dtype(request):
    return request.param


@pytest.fixture(scope="module")
def portable(tmp_path_factory):
    """A build without -march=native: its plain C loops instead of the AVX-512 ones."""
    target = tmp_path_factory.mktemp("portable") / "kernels.so"
    build.compile_library(build.compiler(), target, build.FALLBACK_FLAGS)
    return build.open_library(target)


@pytest.fixture(params=["vectorised", "portable"])
def library(request, portable, monkeypatch):
    """Each test runs on the library genomix loads and on the portable build."""
    if request.param == "portable":
        monkeypatch.setitem(native._STATE, "library", portable)
    return request.param


def _close(actual: torch.Tensor, expected: torch.Tensor, ulps: float = 1.0) -> None:
    """Within ``ulps`` roundings of ``actual``'s dtype of the float64 result (relative to the row scale)."""
    scale = expected.abs().amax(dim=-1, keepdim=True).clamp_min(1e-6)
    assert ((actual.double() - expected).abs() / scale).max().item() <= ulps * ULP[actual.dtype]


@pytest.mark.parametrize("rows,width", [(1, 16), (37, 240), (9000, 40), (300, 23)])
def test_layer_norm_matches_aten(library, dtype, rows, width):
    x = (torch.randn(rows, width) * 3 + 1).to(dtype)
    out, mean, rstd = native.layer_norm(x, 1e-5)
    assert out.dtype == dtype
    expected, expected_mean, expected_rstd = torch.native_layer_norm(x.double(), (width,), None, None, 1e-5)
    _close(out, expected)
    torch.testing.assert_close(mean, expected_mean.view(-1).float(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(rstd, expected_rstd.view(-1).float(), atol=1e-5, rtol=1e-4)


def _rotation(lengths: list[int], tracks: int):
    return build_rotation(torch.tensor(lengths), tracks)


@pytest.mark.parametrize("tracks,track_size", [(15, 16), (5, 3), (4, 8), (3, 40)])
def test_rotate_add_matches_gather_and_add(library, dtype, tracks, track_size):
    lengths = [700, 1, 90, 4500]
    rotation = _rotation(lengths, tracks)
    n, width = sum(lengths), tracks * track_size
    x, update, bias = torch.randn(n, width).to(dtype), torch.randn(n, width).to(dtype), torch.randn(width)
    out = native.rotate_add(x, update, rotation.index, bias)
    rotated = update.view(-1, track_size)[rotation.index.long()].view(n, width)
    expected = x.double() + rotated.double() + bias.double()
    assert ((out.double() - expected).abs() <= expected.abs() * ULP[dtype] + 1e-6).all()


@pytest.mark.parametrize("tracks,track_size", [(15, 16), (5, 3)])
def test_gather_colsum_is_the_inverse_rotation_and_the_column_sums(library, dtype, tracks, track_size):
    lengths = [5000, 17, 3000]
    rotation = _rotation(lengths, tracks)
    n, width = sum(lengths), tracks * track_size
    x, grad = torch.randn(n, width).to(dtype), torch.randn(n, width).to(dtype)
    gathered, sums = native.gather_colsum(grad, rotation.inverse)
    assert torch.equal(gathered, grad.view(-1, track_size)[rotation.inverse.long()].view(n, width))
    torch.testing.assert_close(sums, grad.double().sum(0).float(), atol=1e-3, rtol=1e-5)
    # rotating forward then back is the identity
    forward = native.rotate_add(torch.zeros_like(x), x, rotation.index, torch.zeros(width))
    assert torch.equal(native.gather_colsum(forward, rotation.inverse)[0], x)


@pytest.mark.parametrize("rows,width", [(10, 128), (9000, 96), (33, 20)])
def test_gelu_backward_matches_aten(library, dtype, rows, width):
    pre = (torch.randn(rows, width) * 3).to(dtype)
    pre[0, :4] = torch.tensor([0.0, -9.0, 9.0, -0.5])
    grad = torch.randn(rows, width).to(dtype)
    out, sums = native.gelu_backward_colsum(grad, pre)
    expected = torch.ops.aten.gelu_backward(grad.double(), pre.double())
    assert ((out.double() - expected).abs() <= expected.abs() * ULP[dtype] + 1e-6).all()
    torch.testing.assert_close(sums, expected.sum(0).float(), atol=1e-3, rtol=1e-4)


@pytest.mark.parametrize("rows,width", [(3, 240), (9000, 40), (50, 7)])
def test_layer_norm_backward_add_matches_autograd(library, dtype, rows, width):
    x = (torch.randn(rows, width) * 2 - 1).to(dtype)
    grad, residual = torch.randn(rows, width).to(dtype), torch.randn(rows, width).to(dtype)
    _, mean, rstd = native.layer_norm(x, 1e-5)
    out = native.layer_norm_backward_add(grad, x, mean, rstd, residual)
    x64 = x.double().requires_grad_(True)
    torch.nn.functional.layer_norm(x64, (width,), eps=1e-5).backward(grad.double())
    _close(out, x64.grad + residual.double(), ulps=2)


def test_rows_split_across_threads_give_the_same_result():
    """Large inputs run in one part per intra-op thread; row results must not depend on the split."""
    threads = torch.get_num_threads()
    n = 3 * native.MIN_SPLIT_ROWS + 5
    rotation = _rotation([n - 100, 100], 6)
    x, grad = torch.randn(n, 48).to(BF16), torch.randn(n, 48).to(BF16)
    results = []
    try:
        for count in (1, 3):
            torch.set_num_threads(count)
            normed, mean, rstd = native.layer_norm(x, 1e-5)
            results.append([normed, mean, rstd, native.rotate_add(x, grad, rotation.index, torch.ones(48)),
                            *native.gather_colsum(grad, rotation.inverse), *native.gelu_backward_colsum(grad, x),
                            native.layer_norm_backward_add(grad, x, mean, rstd, x)])
    finally:
        torch.set_num_threads(threads)
    for one, split in zip(*results):
        torch.testing.assert_close(split, one, atol=1e-3, rtol=1e-5)  # column sums: another summation order


def test_kernels_reject_non_contiguous_input_and_other_dtypes():
    x = torch.randn(8, 32).to(BF16)
    with pytest.raises(ValueError, match="contiguous"):
        native.layer_norm(x.t(), 1e-5)
    with pytest.raises(ValueError, match="bfloat16 or float32"):
        native.layer_norm(x.half(), 1e-5)


def test_library_is_built_once_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENOMIX_CACHE_DIR", str(tmp_path))
    assert build.load() is not None
    built = list(tmp_path.glob("kernels-*.so"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    assert build.load() is not None
    assert built[0].stat().st_mtime_ns == stamp
    assert sorted(path.name for path in tmp_path.iterdir()) == [built[0].name, built[0].name + ".sha256"]  # no temporary


def test_missing_compiler_falls_back_with_one_warning(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("GENOMIX_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    with caplog.at_level(logging.WARNING, logger=build.LOG.name):
        assert build.load() is None
    assert "no C compiler" in caplog.text


def test_failing_compiler_falls_back(tmp_path, monkeypatch, caplog):
    fake = tmp_path / "cc"
    fake.write_text("#!/bin/sh\necho 'fake: error: nothing compiles here' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("GENOMIX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CC", str(fake))
    with caplog.at_level(logging.WARNING, logger=build.LOG.name):
        assert build.load() is None
    assert "nothing compiles here" in caplog.text
    assert not list((tmp_path / "cache").glob("*"))  # nothing half-written left behind


def test_opt_out(monkeypatch):
    monkeypatch.setenv("GENOMIX_NATIVE", "0")
    assert build.load() is None


def test_empty_inputs_give_empty_outputs(dtype):
    x, index = torch.empty(0, 48, dtype=dtype), torch.empty(0, dtype=torch.int32)
    normed, mean, rstd = native.layer_norm(x, 1e-5)
    assert normed.shape == x.shape and mean.shape == rstd.shape == (0,)
    assert native.rotate_add(x, x.clone(), index, torch.zeros(48)).shape == x.shape
    gathered, sums = native.gather_colsum(x, index)
    assert gathered.shape == x.shape and torch.equal(sums, torch.zeros(48))
    gelu, sums = native.gelu_backward_colsum(x, x)
    assert gelu.shape == x.shape and torch.equal(sums, torch.zeros(48))
    assert native.layer_norm_backward_add(x, x, mean, rstd, x).shape == x.shape
