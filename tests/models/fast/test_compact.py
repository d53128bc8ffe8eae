"""``grad_checkpointing='segments_bf16'``: the float32 forward unchanged, gradients within a stated bound.

The reference is ``'segments'`` (float32 storage), itself tested against the definition in
test_equivalence.py. The forward must be equal value for value (same loss); the gradients, computed at
block inputs rounded to bf16, must be within 1% of float32 storage for every parameter tensor (relative
norm; measured 0.01-0.3% here), and closer to the float64 truth than the model's own bf16 gradients are.
"""

from __future__ import annotations

import pytest
import torch

import genomix.models.fast.chunked as chunked
from genomix import ChordMixer, native
from genomix.models import fast
from genomix.models.fast.dispatch import PATHS

LENGTHS = [700, 1, 2, 300, 64, 129, 33]
BOUND = 1e-2


def _model(var_len: bool, **options) -> ChordMixer:
    torch.manual_seed(0)
    return ChordMixer(input_size=6, output_size=3, max_seq_len=1024, track_size=4, hidden_size=16,
                      prenorm=options.pop("prenorm", "LN"), var_len=var_len, **options)


def _run(model: ChordMixer, mode, paths=PATHS, bf16: bool = False) -> tuple[list[torch.Tensor], list[str]]:
    generator = torch.Generator().manual_seed(1)
    if model.var_len:
        lengths = torch.tensor(LENGTHS)
        tokens = torch.randint(1, 6, (int(lengths.sum()),), generator=generator)
    else:
        lengths, tokens = None, torch.randint(1, 6, (2, 1024), generator=generator)
    model.grad_checkpointing = mode
    model.zero_grad(set_to_none=True)
    with fast.use(paths), fast.trace() as ran, torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        out = model(tokens, lengths)
        (out.double() * torch.linspace(-1, 1, out.numel(), dtype=torch.float64).view(out.shape)).sum().backward()
    return [out.detach().double(), *(p.grad.double() for p in model.parameters())], ran


def _relative(got: torch.Tensor, want: torch.Tensor) -> float:
    return ((got - want).norm() / want.norm().clamp_min(1e-30)).item()


@pytest.fixture(params=[True, False], ids=["kernels", "aten"])
def kernels(request, monkeypatch):
    """With and without the fused kernels, and chunks smaller than the sequences."""
    if request.param and not native.available():
        pytest.skip("no C compiler: the native kernels could not be built")
    monkeypatch.setattr(chunked, "CHUNK_ROWS", 97)
    return PATHS if request.param else set(PATHS) - {"fused"}


@pytest.mark.parametrize("var_len", [True, False], ids=["variable", "equal"])
def test_same_forward_and_gradients_within_the_bound(var_len, kernels):
    model = _model(var_len)
    compact, ran = _run(model, "segments_bf16", kernels)
    assert "compact" in ran, sorted(set(ran))
    reference, ran = _run(model, "segments", kernels)
    assert "compact" not in ran
    assert torch.equal(compact[0], reference[0])  # the forward is float32, value for value
    names = [name for name, _ in model.named_parameters()]
    for name, got, want in zip(names, compact[1:], reference[1:], strict=True):
        assert _relative(got, want) <= BOUND, (name, _relative(got, want))
    if not var_len:
        return  # (the equal-lengths decoder pools in float32: no float64 truth to compare with)
    truth, _ = _run(model.double(), "segments", kernels)
    model.float()
    low, _ = _run(model, "segments", kernels, bf16=True)
    joined = [torch.cat([g.flatten() / t.norm() for g, t in zip(result[1:], truth[1:])]) for result in (compact, low)]
    exact = torch.cat([t.flatten() / t.norm() for t in truth[1:]])
    assert _relative(joined[0], exact) < _relative(joined[1], exact)


@pytest.mark.parametrize("options", [{"norm": "LN"}, {"mlp_dropout": 0.1}, {"prenorm": "GN"}],
                         ids=["post-norm", "dropout", "GN-prenorm"])
def test_other_blocks_run_segments(options):
    """A block the compact segment does not implement is checkpointed as ``'segments'`` (same values)."""
    model = _model(True, **options)
    torch.manual_seed(5)
    compact, ran = _run(model, "segments_bf16")
    assert "compact" not in ran
    torch.manual_seed(5)
    reference, _ = _run(model, "segments")
    for got, want in zip(compact, reference, strict=True):
        assert torch.equal(got, want)


def test_bf16_rows_are_already_compact():
    """Under bf16 autocast the rows are bf16: ``'segments_bf16'`` is ``'segments'``."""
    model = _model(True)
    compact, ran = _run(model, "segments_bf16", bf16=True)
    assert "compact" not in ran
    reference, _ = _run(model, "segments", bf16=True)
    for got, want in zip(compact, reference, strict=True):
        assert torch.equal(got, want)


def test_inference_and_definition_ignore_the_mode():
    model = _model(True, grad_checkpointing="segments_bf16")
    tokens, lengths = torch.randint(1, 6, (200,)), torch.tensor([150, 50])
    with torch.no_grad():
        fast_out = model(tokens, lengths)
        with fast.use(()):
            definition = model(tokens, lengths)
    torch.testing.assert_close(fast_out, definition, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("n_steps", [0, 1, 2, 3, 7, 14, 20, 21, 40])
def test_segment_bounds_cover_every_block_once(n_steps):
    from genomix.models.fast.engine import segment_bounds

    for decreasing in (False, True):
        bounds = segment_bounds(n_steps, decreasing=decreasing)
        assert [i for start, stop in bounds for i in range(start, stop)] == list(range(n_steps))
        sizes = [stop - start for start, stop in bounds]
        assert all(size >= 1 for size in sizes)
        if decreasing and sizes:  # what segment j's backward holds: j + 1 stored inputs, size_j recomputed
            assert sizes == sorted(sizes, reverse=True)
            assert max(j + size for j, size in enumerate(sizes)) <= max(sizes)
