"""Every fast path equals the definition: outputs and all parameter gradients, fp32 and bf16.

The definition is the model run with every fast path switched off (``fast.use(())``: the encoder's
``encode_rows`` and each block's own ``forward``). Each case switches on one path (or the default set)
and checks, with :func:`genomix.models.fast.trace`, that the path really ran. fp32: every tensor within
1e-5. bf16, errors against the float64 definition: the output's, and that of all parameter gradients
together (each tensor normalised, then concatenated), at most 1.25x the definition's own bf16 error; each
single gradient tensor at most 2x (one bf16 rounding more or less in a sum moves a single small tensor's
error by up to ~1.5x; a path that ignored a parameter would be off by ~100%).
If a change to the block makes a fast path compute something else, this test fails.
"""

from __future__ import annotations

import pytest
import torch

import genomix.models.fast.chunked as chunked
import genomix.models.fast.engine as engine
import genomix.models.fast.fused as fused
import genomix.models.fast.inference as inference
from genomix import ChordMixer, native
from genomix.models import fast
from genomix.models.fast.dispatch import PATHS

LENGTHS = [700, 1, 2, 300, 64, 129, 33]
KERNELS = native.available()

# name: (switched-on paths, grad_checkpointing, inference only, the path the trace must show)
CASES = {
    "folded": ({"folded"}, False, False, "folded"),
    "fused": ({"fused"}, False, False, "fused"),
    "chunked": ({"chunked", "checkpoint"}, "block", False, "chunked"),
    "chunked_kernels": ({"chunked", "fused", "checkpoint"}, "block", False, "chunked"),
    "checkpoint_block": ({"checkpoint"}, "block", False, "checkpoint"),
    "checkpoint_segments": ({"checkpoint", "folded"}, "segments", False, "folded"),
    "groups": ({"groups"}, False, False, "definition"),
    "parallel_groups": ({"groups", "parallel", "fused"}, False, False, "fused"),
    "in_place": ({"in_place"}, False, True, "in_place"),
    "in_place_fused": ({"in_place", "fused"}, False, True, "in_place_fused"),
    "default": (set(PATHS), False, False, "fused" if KERNELS else "folded"),
    "default_segments": (set(PATHS), "segments", False, "chunked"),
    "default_inference": (set(PATHS), False, True, "in_place_fused" if KERNELS else "in_place"),
}
NEEDS_KERNELS = {"fused", "chunked_kernels", "parallel_groups", "in_place_fused"}


def _model(norms: tuple[str, str], checkpointing) -> ChordMixer:
    torch.manual_seed(0)
    model = ChordMixer(input_size=6, output_size=3, max_seq_len=1024, track_size=4, hidden_size=16,
                       prenorm=norms[0], norm=norms[1], var_len=True, grad_checkpointing=checkpointing)
    with torch.no_grad():  # away from weight 1 / bias 0, so a dropped norm affine would show
        for name, parameter in model.named_parameters():
            if "norm" in name:
                parameter.uniform_(0.8, 1.2) if name.endswith("weight") else parameter.uniform_(-0.1, 0.1)
    return model


def _run(model: ChordMixer, *, bf16: bool, inference_only: bool, paths) -> list[torch.Tensor]:
    """Output and every parameter gradient (float64), one forward and backward under ``paths``."""
    generator = torch.Generator().manual_seed(1)
    lengths = torch.tensor(LENGTHS)
    tokens = torch.randint(1, 6, (int(lengths.sum()),), generator=generator)
    weights = torch.randn(len(LENGTHS), 3, generator=generator, dtype=torch.float64)
    model.zero_grad(set_to_none=True)
    with fast.use(paths), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        if inference_only:
            model.eval()
            with torch.no_grad():
                return [model(tokens, lengths).double()]
        model.train()
        out = model(tokens, lengths)
        (out.double() * weights).sum().backward()
    return [out.double(), *(p.grad.double() for p in model.parameters())]


@pytest.fixture
def small_steps(monkeypatch):
    """Chunks and groups smaller than the sequences, so every path splits its work."""
    monkeypatch.setattr(chunked, "CHUNK_ROWS", 97)
    monkeypatch.setitem(fused.TRAIN_CHUNK_ROWS, torch.float32, 89)  # fused float32 training blocks in chunks
    monkeypatch.setattr(inference, "INFERENCE_CHUNK", 128)
    monkeypatch.setattr(engine, "GROUP_BYTES", 400 * 24 * 2)  # groups of a few hundred rows
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("norms", [("LN", "None"), ("None", "LN"), ("LN", "GN")])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("case", list(CASES))
def test_every_path_equals_the_definition(case, precision, norms, small_steps):
    if case in NEEDS_KERNELS and not KERNELS:
        pytest.skip("no C compiler: the native kernels could not be built")
    paths, checkpointing, inference_only, expected = CASES[case]
    bf16 = precision == "bf16"
    model = _model(norms, checkpointing)
    with fast.trace() as ran:
        result = _run(model, bf16=bf16, inference_only=inference_only, paths=paths)
    if "GN" in norms and expected.startswith("in_place"):  # GN spans a sequence: never chunked in place
        assert not any(path.startswith("in_place") for path in ran), ran
    else:
        assert expected in ran, f"{case}: expected the {expected!r} path to run, ran {sorted(set(ran))}"
    definition = _run(model, bf16=bf16, inference_only=inference_only, paths=())
    names = ["output", *(name for name, _ in model.named_parameters())][:len(result)]
    if not bf16:
        for name, got, want in zip(names, result, definition):
            torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5, msg=lambda m, n=name: f"{case} {n}: {m}")
        return
    exact = _run(model.double(), bf16=False, inference_only=inference_only, paths=())
    model.float()
    for name, got, want, truth in zip(names, result, definition, exact):
        ratio = _error(got, truth) / _error(want, truth)
        assert ratio <= (1.25 if name == "output" else 2.0), (case, name, ratio)
    if len(result) > 1:
        truth = _joined(exact, exact)
        ratio = _error(_joined(result, exact), truth) / _error(_joined(definition, exact), truth)
        assert ratio <= 1.25, (case, "all gradients", ratio)


def _error(got: torch.Tensor, truth: torch.Tensor) -> float:
    """Relative error (never zero: bf16 results always differ from float64 somewhere)."""
    return max(((got - truth).norm() / truth.norm().clamp_min(1e-30)).item(), 1e-12)


def _joined(result: list[torch.Tensor], exact: list[torch.Tensor]) -> torch.Tensor:
    """Every parameter gradient, each divided by the float64 one's norm, as one vector."""
    return torch.cat([gradient.flatten() / max(truth.norm().item(), 1e-30)
                      for gradient, truth in zip(result[1:], exact[1:])])


def test_switched_off_runs_the_definition_only():
    model = _model(("LN", "LN"), "block")
    with fast.trace() as ran:
        _run(model, bf16=False, inference_only=False, paths=())
    assert ran == []  # the encoder's encode_rows: no path recorded at all
    with fast.trace() as ran:
        _run(model, bf16=False, inference_only=False, paths={"checkpoint"})
    assert set(ran) == {"checkpoint", "definition"}
