"""The fused bf16 block: as close to exact arithmetic as the unfused bf16 block, and used only where valid."""

from __future__ import annotations

import pytest
import torch

from genomix import ChordMixer, native
from genomix.models import fast
from genomix.models.chordmixer import ChordMixerBlock
from genomix.models.fast import blocks, fused
from genomix.models.fast.dispatch import PATHS, block_plan
from genomix.models.fast.folded import mlp_weights
from genomix.models.rotation import build_rotation

pytestmark = pytest.mark.skipif(not native.available(), reason="no C compiler: the native kernels could not be built")

N_TRACKS, TRACK, HIDDEN = 6, 16, 40
WIDTH = N_TRACKS * TRACK


def _block(prenorm: str, norm: str = "None") -> ChordMixerBlock:
    torch.manual_seed(0)
    block = ChordMixerBlock(WIDTH, TRACK, HIDDEN, 0.0, 0.0, prenorm, norm)
    if prenorm == "LN":  # a non-trivial affine, so that folding it into fc1 is exercised
        with torch.no_grad():
            block.prenorm.weight.uniform_(0.5, 1.5)
            block.prenorm.bias.uniform_(-0.5, 0.5)
    return block


def _paths(use_fused: bool):
    """Every fast path, or every one but the fused kernels (the block then takes the folded ATen path)."""
    return fast.use(PATHS if use_fused else set(PATHS) - {"fused"})


def _forward(block: ChordMixerBlock, x: torch.Tensor, rotation) -> torch.Tensor:
    """One block through the fast paths, as the encoder runs it."""
    return blocks.run_block(block, block_plan(block), x, rotation)


def _run(block: ChordMixerBlock, x: torch.Tensor, grad: torch.Tensor, rotation, *, use_fused: bool, monkeypatch):
    """Output, input gradient and parameter gradients (float64) of one forward and backward."""
    block.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(True)
    with _paths(use_fused):
        out = _forward(block, x, rotation)
        out.backward(grad.to(out.dtype))
    return [out.double(), x.grad.double(), *(p.grad.double() for p in block.parameters())]


def _errors(result, reference):
    return [((a - b).norm() / b.norm()).item() for a, b in zip(result, reference)]


def _exact_case(norms, monkeypatch):
    """A float32 block, its rotation, input and output gradient, the float64 results of the ATen block,
    and a list that records each call of :func:`fused.fused_block` from then on."""
    block = _block(*norms)
    lengths = torch.tensor([700, 1, 2000, 33])
    rotation = build_rotation(lengths, N_TRACKS)
    x = torch.randn(int(lengths.sum()), WIDTH)
    grad = torch.randn_like(x)
    exact = _run(block.double(), x.double(), grad.double(), rotation, use_fused=False, monkeypatch=monkeypatch)
    calls = []
    real = fused.fused_block
    monkeypatch.setattr(fused, "fused_block", lambda *a, **k: calls.append(1) or real(*a, **k))
    return block.float(), rotation, x, grad, exact, calls


@pytest.mark.parametrize("norms", [("LN", "None"), ("None", "None"), ("LN", "LN")])
def test_fused_block_is_as_accurate_as_the_unfused_bf16_block(norms, monkeypatch):
    block, rotation, x, grad, exact, calls = _exact_case(norms, monkeypatch)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fast = _run(block, x.bfloat16(), grad, rotation, use_fused=True, monkeypatch=monkeypatch)
        assert calls, "the fused path did not run"
        slow = _run(block, x.bfloat16(), grad, rotation, use_fused=False, monkeypatch=monkeypatch)
    fast_errors, slow_errors = _errors(fast, exact), _errors(slow, exact)
    for name, fast_error, slow_error in zip(["output", "input grad", *dict(block.named_parameters())],
                                            fast_errors, slow_errors):
        assert fast_error <= 1.25 * slow_error + 1e-4, (name, fast_error, slow_error)


def test_training_step_matches_the_unfused_path(monkeypatch):
    """A whole model under bf16 autocast (variable lengths, parallel groups): same loss and gradients."""
    torch.manual_seed(1)
    model = ChordMixer(input_size=5, output_size=3, max_seq_len=4096, track_size=16, hidden_size=32,
                       prenorm="LN", var_len=True)
    lengths = torch.tensor([4000, 3000, 100])
    tokens = torch.randint(1, 5, (int(lengths.sum()),))
    labels = torch.tensor([0, 2, 1])
    results = []
    for use_fused in (True, False):
        model.zero_grad(set_to_none=True)
        with _paths(use_fused):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = torch.nn.functional.cross_entropy(model(tokens, lengths).float(), labels)
            loss.backward()
        results.append((loss.item(), [p.grad.clone() for p in model.parameters()]))
    (fast_loss, fast_grads), (slow_loss, slow_grads) = results
    assert fast_loss == pytest.approx(slow_loss, rel=2e-2)
    for fast_grad, slow_grad in zip(fast_grads, slow_grads):
        assert ((fast_grad - slow_grad).norm() / slow_grad.norm().clamp_min(1e-12)).item() < 0.1


def test_dispatch_only_where_the_kernels_apply():
    block = _block("LN")
    rows = torch.randn(10, WIDTH)
    rotation = build_rotation(torch.tensor([10]), N_TRACKS)
    index = rotation.index

    def fusible(block, rows):
        return blocks.fusible(block, block_plan(block), rows, rotation)

    assert fusible(block, rows) and fused.supported(rows.bfloat16(), index) and fused.supported(rows, index)
    assert not fused.supported(rows.half(), index)
    assert not fused.supported(rows.double(), index)  # float64 keeps the exact ATen path
    assert not fused.supported(rows.bfloat16(), index.long())
    dropping = ChordMixerBlock(WIDTH, TRACK, HIDDEN, 0.1, 0.0, "LN", "None").train()
    assert not fusible(dropping, rows)
    assert fusible(dropping.eval(), rows)
    assert not fusible(ChordMixerBlock(WIDTH, TRACK, HIDDEN, 0.0, 0.0, "BN", "None"), rows)
    with fast.use(set(PATHS) - {"fused"}):
        assert not fusible(block, rows)


def test_inference_without_inverse_and_training_without_it_fails():
    block = _block("LN")
    rotation = build_rotation(torch.tensor([50]), N_TRACKS, with_inverse=False)
    x = torch.randn(50, WIDTH).bfloat16()
    with torch.no_grad():
        assert _forward(block, x, rotation).shape == x.shape
    with pytest.raises(RuntimeError, match="inverse"):
        _forward(block, x.requires_grad_(True), rotation).sum().backward()


@pytest.mark.parametrize("chunk", [7, 1000, 5000])
def test_in_place_inference_gives_the_training_path_values(chunk):
    """Long inputs are annotated in place, in chunks: the very values of the fused block (annotate's batch
    invariance rests on it)."""
    block = _block("LN").eval()
    lengths = torch.tensor([1500, 3, 999])
    rotation = build_rotation(lengths, N_TRACKS)
    x = torch.randn(int(lengths.sum()), WIDTH).bfloat16()
    weights = mlp_weights(block)
    with torch.no_grad():
        expected = fused.fused_block(x, *weights, rotation.index, None, normalize=True, eps=1e-5)
        rows = x.clone()
        fused.fused_block_(rows, *weights, rotation.index, normalize=True, eps=1e-5, chunk=chunk,
                           update=torch.empty_like(rows))
    assert torch.equal(rows, expected)


def test_rotate_add_refuses_to_write_over_its_update():
    x = torch.randn(4, WIDTH).bfloat16()
    index = build_rotation(torch.tensor([4]), N_TRACKS).index
    with pytest.raises(ValueError, match="not update"):
        native.rotate_add(x, x, index, torch.zeros(WIDTH), out=x)


@pytest.mark.parametrize("normalize", [True, False])
def test_checkpointed_chunks_give_the_fused_values(normalize, monkeypatch):
    """bf16 training with per-block checkpointing (the chunked block) gives the fused block's outputs and
    input gradients exactly, and its parameter gradients up to the order of float32 sums."""
    import genomix.models.fast.chunked as chunked

    monkeypatch.setattr(chunked, "CHUNK_ROWS", 700)
    block = _block("LN" if normalize else "None")
    lengths = torch.tensor([1500, 3, 999])
    rotation = build_rotation(lengths, N_TRACKS)
    x = torch.randn(int(lengths.sum()), WIDTH).bfloat16()
    grad = torch.randn_like(x)
    results = []
    for forward in (lambda rows: _forward(block, rows, rotation),
                    lambda rows: blocks.run_chunked(block, rows, rotation)):
        block.zero_grad(set_to_none=True)
        rows = x.clone().requires_grad_(True)
        out = forward(rows)
        out.backward(grad)
        results.append((out, rows.grad, [p.grad.clone() for p in block.parameters()]))
    (out, grad_x, grads), (chunked_out, chunked_grad_x, chunked_grads) = results
    assert torch.equal(chunked_out, out)
    assert torch.equal(chunked_grad_x, grad_x)
    for chunked_grad, whole in zip(chunked_grads, grads):
        torch.testing.assert_close(chunked_grad, whole, rtol=1e-2, atol=1e-2 * whole.abs().max().item())


@pytest.mark.parametrize("norms", [("LN", "None"), ("None", "LN")])
def test_fused_block_in_float32_matches_float64(norms, monkeypatch):
    """float32 rows (the default where the CPU has no native bf16) take the kernels too: within float32
    error of the exact block, output and every gradient."""
    block, rotation, x, grad, exact, calls = _exact_case(norms, monkeypatch)
    fast = _run(block, x, grad, rotation, use_fused=True, monkeypatch=monkeypatch)
    assert calls, "the fused path did not run"
    names = ["output", "input grad", *dict(block.named_parameters())]
    for name, error in zip(names, _errors(fast, exact)):
        assert error < 2e-6, (name, error)


@pytest.mark.parametrize("chunk", [7, 61, 1024, 5000])
@pytest.mark.parametrize("norms", [("LN", "None"), ("None", "None")])
def test_float32_training_chunks_give_the_whole_block_values(chunk, norms, monkeypatch):
    """float32 training blocks in chunks of rows (a few rows, a remainder, more rows than there are): the
    output and input gradient of the block run whole up to float32 matmul rounding, the parameter
    gradients up to the order of float32 sums, and both within float32 error of float64."""
    block, rotation, x, grad, exact, calls = _exact_case(norms, monkeypatch)
    monkeypatch.setitem(fused.TRAIN_CHUNK_ROWS, torch.float32, 0)
    whole = _run(block, x, grad, rotation, use_fused=True, monkeypatch=monkeypatch)
    monkeypatch.setitem(fused.TRAIN_CHUNK_ROWS, torch.float32, chunk)
    chunked = _run(block, x, grad, rotation, use_fused=True, monkeypatch=monkeypatch)
    assert len(calls) == 2, "the fused path did not run"
    names = ["output", "input grad", *dict(block.named_parameters())]
    for name, error in zip(names, _errors(chunked, whole)):
        assert error < (1e-6 if name in ("output", "input grad") else 5e-6), (name, error)
    for name, error in zip(names, _errors(chunked, exact)):
        assert error < 2e-6, (name, error)
