"""The Triton block equals the definition, run on the CPU through triton's interpreter.

No GPU is needed: with ``TRITON_INTERPRET=1`` set before the kernels are imported, triton runs them on CPU
tensors. The block's device list is widened to ``'cpu'`` for these tests only, so the strict dispatch
picks the Triton path for whole models exactly as it does for CUDA rows. float32: outputs and every
parameter gradient within 1e-5 of the definition. Skipped, saying why, only where triton is not installed.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
import torch

from genomix import ChordMixer
from genomix.models import fast
from genomix.models.fast import triton_block
from genomix.models.fast.dispatch import PATHS
from genomix.models.rotation import build_rotation, rotate_add

pytestmark = pytest.mark.skipif(not triton_block.installed(), reason="triton is not installed (no wheel for "
                                "this platform): the Triton kernels cannot be run, even interpreted")
LENGTHS = [300, 1, 2, 64, 129, 33]


@pytest.fixture
def interpreted(monkeypatch):
    """The Triton kernels built for the interpreter, and the Triton path allowed on CPU rows.

    triton decides once, when first imported, whether kernels are interpreted (and torch._dynamo imports it
    on its own), so ``tests/conftest.py`` sets ``TRITON_INTERPRET=1`` before any test where there is no GPU.
    """
    kernels = importlib.import_module("genomix.models.fast.triton_kernels")
    if not kernels.INTERPRETED:
        pytest.skip("triton was imported without TRITON_INTERPRET=1 (a CUDA machine: pipelines/bench_gpu.py "
                    "checks the kernels there)")
    monkeypatch.setattr(triton_block, "DEVICES", ("cuda", "cpu"))
    monkeypatch.setattr(kernels, "ROWS_PER_PROGRAM", 64)  # several programs' partial sums even at small n
    return kernels


def _model(norms: tuple[str, str], checkpointing=False) -> ChordMixer:
    torch.manual_seed(0)
    model = ChordMixer(input_size=6, output_size=3, max_seq_len=512, track_size=3, hidden_size=20,
                       prenorm=norms[0], norm=norms[1], var_len=True, grad_checkpointing=checkpointing)
    with torch.no_grad():  # away from weight 1 / bias 0 and zero biases, so a dropped parameter would show
        for name, parameter in model.named_parameters():
            if "norm" in name:
                parameter.uniform_(0.8, 1.2) if name.endswith("weight") else parameter.uniform_(-0.1, 0.1)
            elif name.endswith("bias"):
                parameter.uniform_(-0.2, 0.2)
    return model


def _run(model: ChordMixer, paths) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    lengths = torch.tensor(LENGTHS)
    tokens = torch.randint(1, 6, (int(lengths.sum()),), generator=generator)
    weights = torch.randn(len(LENGTHS), 3, generator=generator)
    model.zero_grad(set_to_none=True)
    with fast.use(paths):
        out = model(tokens, lengths)
        (out * weights).sum().backward()
    return [out.detach(), *(p.grad for p in model.parameters())]


@pytest.mark.parametrize("checkpointing", [False, "segments"])
@pytest.mark.parametrize("norms", [("LN", "None"), ("None", "LN"), ("LN", "GN")])
def test_triton_path_equals_the_definition(interpreted, norms, checkpointing):
    model = _model(norms, checkpointing)
    with fast.trace() as ran:
        result = _run(model, set(PATHS) - {"fused", "chunked"})  # what a CUDA device gets
    assert "triton" in ran and "folded" not in ran, sorted(set(ran))
    definition = _run(model, ())
    names = ["output", *(name for name, _ in model.named_parameters())]
    for name, got, want in zip(names, result, definition, strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5, msg=lambda m, n=name: f"{n}: {m}")


def _aten_block(x, w1, b1, w2, b2, index, inverse, *, normalize, eps):
    """The block in ATen ops, in ``x``'s dtype (what autocast runs: weights cast to the rows' dtype)."""
    normed = torch.nn.functional.layer_norm(x, (x.shape[1],), eps=eps) if normalize else x
    hidden = torch.nn.functional.gelu(torch.nn.functional.linear(normed, w1.to(x.dtype), b1.to(x.dtype)))
    update = torch.nn.functional.linear(hidden, w2.to(x.dtype), b2.to(x.dtype))
    return rotate_add(x, update, index, inverse, index.numel() // x.shape[0])


@pytest.mark.parametrize("normalize", [True, False])
def test_triton_block_in_bf16_is_as_accurate_as_aten(interpreted, normalize):
    """bf16 rows: against float64, the Triton block's output and gradient errors stay within a small factor
    of the same block's in ATen bf16 ops.

    Triton's interpreter converts float32 to bf16 by truncation (measured: twice the error of round to
    nearest even, whatever ``fp_downcast_rounding`` says), where compiled GPU kernels round to nearest; so
    the bound here is 2.5x, not the 1.25x that ``pipelines/bench_gpu.py`` checks on a GPU. A wrong or
    missing term would be off by about 100%.
    """
    generator = torch.Generator().manual_seed(2)
    lengths = torch.tensor([300, 7, 1, 90])
    n, width, hidden = int(lengths.sum()), 4 * 4, 24
    rotation = build_rotation(lengths, 4)
    x = torch.randn(n, width, generator=generator, dtype=torch.float64)
    params = [torch.randn(hidden, width, generator=generator, dtype=torch.float64) * 0.3,
              torch.randn(hidden, generator=generator, dtype=torch.float64) * 0.1,
              torch.randn(width, hidden, generator=generator, dtype=torch.float64) * 0.3,
              torch.randn(width, generator=generator, dtype=torch.float64) * 0.1]
    grad = torch.randn(n, width, generator=generator, dtype=torch.float64)

    def run(block, dtype):
        inputs = [x.to(dtype).detach().requires_grad_(), *(p.float().requires_grad_() if dtype != torch.float64
                                                  else p.clone().requires_grad_() for p in params)]
        out = block(*inputs, rotation.index, rotation.inverse, normalize=normalize, eps=1e-5)
        out.backward(grad.to(out.dtype))
        return [out.double(), *(t.grad.double() for t in inputs)]

    truth = run(_aten_block, torch.float64)
    ours, aten = run(triton_block.triton_block, torch.bfloat16), run(_aten_block, torch.bfloat16)
    for number, (got, want, exact) in enumerate(zip(ours, aten, truth, strict=True)):
        error, reference = ((t - exact).norm().item() for t in (got, want))
        assert error <= 2.5 * reference + 1e-12, (number, error, reference)


def test_kernels_match_their_torch_definitions(interpreted):
    """Each kernel alone against the torch ops it replaces (float32)."""
    k = interpreted
    generator = torch.Generator().manual_seed(3)
    lengths = torch.tensor([50, 3, 17])
    n, n_tracks, track_size = int(lengths.sum()), 5, 3
    rotation = build_rotation(lengths, n_tracks)
    x = torch.randn(n, n_tracks * track_size, generator=generator)
    normed, mean, rstd = k.layer_norm(x, 1e-5)
    torch.testing.assert_close(normed, torch.nn.functional.layer_norm(x, (x.shape[1],), eps=1e-5))
    h, bias = torch.randn(n, 7, generator=generator), torch.randn(7, generator=generator)
    torch.testing.assert_close(k.bias_gelu(h, bias), torch.nn.functional.gelu(h + bias))
    update, b2 = torch.randn_like(x), torch.randn(x.shape[1], generator=generator)
    rotated = update.view(-1, track_size)[rotation.index.long()].view(x.shape)
    torch.testing.assert_close(k.rotate_add(x, update, rotation.index, b2), x + rotated + b2)
    back, colsum = k.gather_colsum(x, rotation.inverse)
    torch.testing.assert_close(back, x.view(-1, track_size)[rotation.inverse.long()].view(x.shape))
    torch.testing.assert_close(colsum, x.sum(0))
    grad_h = torch.randn(n, 7, generator=generator)
    want = torch.ops.aten.gelu_backward(grad_h, h + bias)
    got, bias_grad = k.gelu_backward_colsum(grad_h.clone(), h, bias)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(bias_grad, want.sum(0))
    grad_n, residual = torch.randn_like(x), torch.randn_like(x)
    want = torch.ops.aten.native_layer_norm_backward(grad_n, x, (x.shape[1],), mean[:, None], rstd[:, None], None,
                                                     None, [True, False, False])[0] + residual
    torch.testing.assert_close(k.layer_norm_backward_add(grad_n, x, mean, rstd, residual), want)


def test_cpu_rows_never_take_the_triton_path():
    """Without the test's widening, CPU rows run the CPU paths (the Triton block serves CUDA rows only)."""
    model = _model(("LN", "None"))
    with fast.trace() as ran:
        _run(model, PATHS)
    assert "triton" not in ran


def test_cpu_training_does_not_import_triton():
    code = ("import sys, torch\nfrom genomix import ChordMixer\n"
            "m = ChordMixer(input_size=6, output_size=2, max_seq_len=64, track_size=2, hidden_size=8, var_len=True)\n"
            "m(torch.randint(1, 6, (70,)), torch.tensor([64, 6])).sum().backward()\n"
            "assert 'triton' not in sys.modules, 'triton was imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)
