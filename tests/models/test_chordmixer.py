"""ChordMixer: the published API, its semantics against the plain reference, and its invariants."""

from __future__ import annotations

import contextlib
import io
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from plain_chordmixer import PlainChordMixer

from genomix import ChordMixer, ChordMixerEncoder
from genomix.models.chordmixer import depth_for, n_blocks_for

DESIGN_SNIPPET_EQUAL = """
import torch
from genomix import ChordMixer
net = ChordMixer(input_size=100, output_size=10, embedding_type='sparse', decoder='linear',
                 max_seq_len=2000, track_size=16, hidden_size=128, mlp_dropout=0., layer_dropout=0.,
                 prenorm='LN', norm='LN', var_len=False)
out = net(torch.randint(1, 99, (4, 2000)))        # equal lengths: (B, L) -> (B, output_size)
print(tuple(out.shape))
"""

DESIGN_SNIPPET_VARIABLE = """
import torch
from genomix import ChordMixer
net = ChordMixer(input_size=100, output_size=10, embedding_type='sparse', decoder='linear',
                 max_seq_len=2000, track_size=16, hidden_size=128, mlp_dropout=0., layer_dropout=0.,
                 prenorm='None', norm='None', var_len=True)
lengths = torch.randint(1025, 2048, (4,))
out = net(torch.randint(1, 99, (int(lengths.sum()),)), lengths)   # variable lengths, no padding
print(tuple(out.shape))
"""


@pytest.mark.parametrize("snippet", [DESIGN_SNIPPET_EQUAL, DESIGN_SNIPPET_VARIABLE])
def test_design_snippets_print_promised_shapes(snippet):
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(snippet, "DESIGN.md", "exec"), {})
    assert buffer.getvalue().strip() == "(4, 10)"


def small_pair(seed=0, **overrides):
    """A genomix model and the plain reference holding the same state dict."""
    kwargs = dict(input_size=10, output_size=3, max_seq_len=300, track_size=3, hidden_size=12)
    kwargs.update(overrides)
    torch.manual_seed(seed)
    fast = ChordMixer(**kwargs)
    plain = PlainChordMixer(**kwargs)
    plain.load_state_dict(fast.state_dict())
    return fast, plain


def compare_with_plain(fast, plain, inputs, lengths, *, atol=1e-5):
    fast_out = fast(inputs, lengths)
    plain_out = plain(inputs, lengths)
    torch.testing.assert_close(fast_out, plain_out, atol=atol, rtol=1e-5)
    fast_out.square().sum().backward()
    plain_out.square().sum().backward()
    plain_grads = dict(plain.named_parameters())
    for name, parameter in fast.named_parameters():
        if parameter.grad is None:
            assert plain_grads[name].grad is None or not plain_grads[name].grad.any(), name
            continue
        torch.testing.assert_close(parameter.grad, plain_grads[name].grad, atol=1e-4, rtol=1e-4,
                                   msg=lambda m, name=name: f"{name}: {m}")


@pytest.mark.parametrize("norms", [("None", "None"), ("LN", "None"), ("LN", "LN"), ("None", "GN")])
def test_equal_lengths_match_plain(norms):
    fast, plain = small_pair(prenorm=norms[0], norm=norms[1])
    tokens = torch.randint(1, 10, (3, 300), generator=torch.Generator().manual_seed(1))
    compare_with_plain(fast, plain, tokens, None)


@pytest.mark.parametrize("norms", [("None", "None"), ("LN", "LN")])
def test_variable_lengths_match_plain_with_per_sequence_depth(norms):
    fast, plain = small_pair(prenorm=norms[0], norm=norms[1], var_len=True)
    lengths = torch.tensor([300, 1, 17, 2, 129, 64, 400])  # depths 9 (capped), 0, 5, 1, 8, 6, 9
    tokens = torch.randint(1, 10, (int(lengths.sum()),), generator=torch.Generator().manual_seed(2))
    compare_with_plain(fast, plain, tokens, lengths)


@pytest.mark.parametrize("var_len", [False, True])
def test_linear_embedding_matches_plain(var_len):
    fast, plain = small_pair(embedding_type="linear", input_size=2, prenorm="LN", norm="LN", var_len=var_len)
    generator = torch.Generator().manual_seed(3)
    if var_len:
        lengths = torch.tensor([50, 300, 7])
        values = torch.randn(int(lengths.sum()), 2, generator=generator)
    else:
        lengths, values = None, torch.randn(2, 120, 2, generator=generator)
    compare_with_plain(fast, plain, values, lengths)


def test_per_position_decoder_matches_plain():
    fast, plain = small_pair(decoder="per_position", prenorm="LN", var_len=True)
    lengths = torch.tensor([33, 200, 5])
    tokens = torch.randint(1, 10, (int(lengths.sum()),), generator=torch.Generator().manual_seed(4))
    assert fast(tokens, lengths).shape == (238, 3)
    compare_with_plain(fast, plain, tokens, lengths)


def alone_and_together(model, tokens_per_sequence):
    lengths = torch.tensor([len(t) for t in tokens_per_sequence])
    together = model(torch.cat(tokens_per_sequence), lengths)
    alone = torch.cat([model(t, torch.tensor([len(t)])) for t in tokens_per_sequence])
    return together, alone


@settings(max_examples=25, deadline=None)
@given(lengths=st.lists(st.integers(1, 5000), min_size=1, max_size=6), seed=st.integers(0, 2**16))
def test_variable_length_invariant(lengths, seed):
    """Each sequence's output equals its output alone, whatever shares its batch and in any order."""
    torch.manual_seed(0)
    model = ChordMixer(input_size=6, output_size=4, max_seq_len=5000, track_size=2, hidden_size=8,
                       prenorm="LN", norm="LN", var_len=True).eval()
    generator = torch.Generator().manual_seed(seed)
    sequences = [torch.randint(1, 6, (n,), generator=generator) for n in lengths]
    with torch.no_grad():
        together, alone = alone_and_together(model, sequences)
        torch.testing.assert_close(together, alone, atol=1e-5, rtol=0)
        order = torch.randperm(len(sequences), generator=generator).tolist()
        shuffled = model(torch.cat([sequences[i] for i in order]), torch.tensor([lengths[i] for i in order]))
        torch.testing.assert_close(shuffled, together[order], atol=1e-5, rtol=0)


def test_batchnorm_in_eval_mode_keeps_the_invariant():
    torch.manual_seed(0)
    model = ChordMixer(input_size=6, output_size=2, max_seq_len=512, track_size=2, hidden_size=8,
                       prenorm="BN", norm="BN", var_len=True)
    lengths = torch.tensor([512, 30, 100])
    model(torch.randint(1, 6, (int(lengths.sum()),)), lengths)  # one training step of statistics
    model.eval()
    sequences = [torch.randint(1, 6, (int(n),)) for n in lengths]
    with torch.no_grad():
        together, alone = alone_and_together(model, sequences)
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize("n", [4, 6])
def test_receptive_field_is_full_after_log2_blocks(n):
    """With L = 2**n, n blocks connect every output position to every input; n - 1 blocks do not."""

    def dependencies(n_blocks):
        torch.manual_seed(0)
        model = ChordMixer(input_size=2, output_size=1, embedding_type="linear", decoder="per_position",
                           max_seq_len=2**n_blocks, track_size=1, hidden_size=4)
        length = 2**n
        values = torch.randn(1, length, 2, requires_grad=True)
        output = model(values)[0, :, 0]
        seen = torch.zeros(length, length, dtype=torch.bool)
        for position in range(length):
            (grad,) = torch.autograd.grad(output[position], values, retain_graph=True)
            seen[position] = grad[0].abs().sum(-1) > 0
        return seen

    assert dependencies(n).all()
    assert not dependencies(n - 1).all()


def test_depth_is_ceil_log2_capped():
    lengths = torch.tensor([1, 2, 3, 4, 5, 1024, 1025, 10**6])
    assert depth_for(lengths, 12).tolist() == [0, 1, 2, 2, 3, 10, 11, 12]
    for n in [1, 2, 3, 7, 8, 9, 2000, 16384, 2**21]:
        assert n_blocks_for(n) == (math.ceil(math.log2(n)) if n > 1 else 0)


def test_published_parameter_names():
    names = set(ChordMixer(input_size=5, output_size=2, max_seq_len=8, track_size=2, hidden_size=4,
                           prenorm="BN", norm="GN").state_dict())
    for expected in ["embedding.weight", "encoder.chordmixer_blocks.0.mix.fc1.weight",
                     "encoder.chordmixer_blocks.2.mix.fc2.bias", "encoder.chordmixer_blocks.1.prenorm.bn.weight",
                     "encoder.chordmixer_blocks.1.norm.gn.weight", "decoder.decoder.weight",
                     "decoder.decoder.bias"]:
        assert expected in names
    assert not any(name.startswith("encoder.chordmixer_blocks.3.") for name in names)


def test_initialisation():
    model = ChordMixer(input_size=7, output_size=2, max_seq_len=64, track_size=4, hidden_size=8)
    assert not model.embedding.weight[0].any()  # padding row
    assert model.embedding.weight[1:].std().item() == pytest.approx(1.0, abs=0.15)
    for block in model.encoder.chordmixer_blocks:
        assert not block.mix.fc1.bias.any() and not block.mix.fc2.bias.any()
        bound = math.sqrt(6 / (block.mix.fc1.in_features + block.mix.fc1.out_features))
        assert block.mix.fc1.weight.abs().max() <= bound


@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [("embedding_type", "dense", "'sparse', 'linear'"), ("decoder", "pool", "'linear'"),
     ("prenorm", "layer", "'LN', 'BN', 'GN', 'None'"), ("norm", "RMS", "'LN', 'BN', 'GN', 'None'")],
)
def test_unknown_options_name_the_allowed_ones(option, value, allowed):
    with pytest.raises(ValueError, match=f"{option} must be one of .*{allowed}.*got '{value}'"):
        ChordMixer(input_size=5, output_size=2, **{option: value})


def test_bad_lengths_are_clear_errors():
    model = ChordMixer(input_size=5, output_size=2, max_seq_len=64, track_size=2, hidden_size=4, var_len=True)
    tokens = torch.randint(1, 5, (10,))
    with pytest.raises(ValueError, match="lengths sum to 9 but the input has 10 rows"):
        model(tokens, torch.tensor([4, 5]))
    with pytest.raises(ValueError, match="needs lengths"):
        model(tokens)
    with pytest.raises(ValueError, match=">= 1"):
        model(tokens, torch.tensor([10, 0]))
    equal = ChordMixer(input_size=5, output_size=2, max_seq_len=64, track_size=2, hidden_size=4)
    with pytest.raises(ValueError, match="var_len=True"):
        equal(tokens[None], torch.tensor([10]))


@pytest.mark.parametrize("mode", [True, "block", "segments"])
@pytest.mark.parametrize("var_len", [False, True])
def test_grad_checkpointing_changes_no_result(var_len, mode):
    torch.manual_seed(0)
    kwargs = dict(input_size=6, output_size=3, max_seq_len=1000, track_size=2, hidden_size=8,
                  prenorm="LN", norm="LN", var_len=var_len)
    plain = ChordMixer(**kwargs)
    checkpointed = ChordMixer(**kwargs, grad_checkpointing=mode)
    checkpointed.load_state_dict(plain.state_dict())
    if var_len:
        lengths = torch.tensor([1000, 3, 260])
        tokens = torch.randint(1, 6, (int(lengths.sum()),))
    else:
        lengths, tokens = None, torch.randint(1, 6, (2, 700))
    outputs = []
    for model in (plain, checkpointed):
        out = model(tokens, lengths)
        out.square().sum().backward()
        outputs.append(out)
    torch.testing.assert_close(outputs[0], outputs[1], atol=0, rtol=0)
    for (name, a), b in zip(plain.named_parameters(), checkpointed.parameters()):
        torch.testing.assert_close(a.grad, b.grad, atol=0, rtol=0, msg=name)


def test_encoder_alone_keeps_shape():
    encoder = ChordMixerEncoder(max_seq_len=128, track_size=4, hidden_size=16, prenorm="LN", norm="LN")
    x = torch.randn(2, 100, encoder.embedding_size)
    assert encoder(x).shape == x.shape
    variable = ChordMixerEncoder(max_seq_len=128, track_size=4, hidden_size=16, var_len=True)
    rows = torch.randn(150, variable.embedding_size)
    assert variable(rows, [100, 50]).shape == rows.shape


def test_bf16_autocast_runs_and_stays_close():
    torch.manual_seed(0)
    model = ChordMixer(input_size=6, output_size=3, max_seq_len=4096, track_size=4, hidden_size=16,
                       prenorm="LN", norm="LN", var_len=True)
    lengths = torch.tensor([4096, 1000])
    tokens = torch.randint(1, 6, (int(lengths.sum()),))
    reference = model(tokens, lengths)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = model(tokens, lengths)
    low.float().sum().backward()
    assert torch.isfinite(model.embedding.weight.grad).all()
    torch.testing.assert_close(low.float(), reference, atol=0.1, rtol=0.05)


@pytest.mark.parametrize("norms", [("LN", "LN"), ("BN", "GN"), ("None", "None")])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_chunked_in_place_inference_equals_the_plain_forward(monkeypatch, norms, precision):
    """Long inputs in eval/no-grad run chunk by chunk, in place: same outputs as the autograd path."""
    import genomix.models.fast.inference as inference

    torch.manual_seed(0)
    model = ChordMixer(input_size=6, output_size=3, max_seq_len=600, track_size=2, hidden_size=8,
                       prenorm=norms[0], norm=norms[1], var_len=True)
    lengths = torch.tensor([7, 600, 1, 300, 90])
    tokens = torch.randint(1, 6, (int(lengths.sum()),))
    model(tokens, lengths)  # BN statistics
    model.eval()
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
    with autocast:
        reference = model(tokens, lengths)  # grad enabled: the autograd path
    monkeypatch.setattr(inference, "INFERENCE_CHUNK", 50)
    with torch.no_grad(), autocast:
        chunked = model(tokens, lengths)
    tolerance = 1e-5 if precision == "fp32" else 2e-2
    torch.testing.assert_close(chunked.float(), reference.float(), atol=tolerance, rtol=tolerance)


def test_encoder_does_not_overwrite_a_callers_input(monkeypatch):
    import genomix.models.fast.inference as inference

    monkeypatch.setattr(inference, "INFERENCE_CHUNK", 10)
    encoder = ChordMixerEncoder(max_seq_len=64, track_size=2, hidden_size=8, prenorm="LN", var_len=True).eval()
    rows = torch.randn(100, encoder.embedding_size)
    before = rows.clone()
    with torch.no_grad():
        encoder(rows, [64, 36])
    assert torch.equal(rows, before)


def test_cache_sized_groups_change_no_result(monkeypatch):
    """A batch run in cache-sized groups of sequences gives the same outputs and gradients as one group."""
    import genomix.models.fast.engine as engine

    torch.manual_seed(0)
    model = ChordMixer(input_size=6, output_size=3, max_seq_len=512, track_size=2, hidden_size=8,
                       prenorm="LN", norm="LN", var_len=True)
    lengths = torch.tensor([512, 3, 100, 1, 260, 40])
    tokens = torch.randint(1, 6, (int(lengths.sum()),))
    results = []
    for group_bytes in (0, 100 * model.embedding_size * 4):  # one group; groups of <= 100 rows
        monkeypatch.setattr(engine, "GROUP_BYTES", group_bytes)
        model.zero_grad()
        out = model(tokens, lengths)
        out.square().sum().backward()
        results.append((out.detach(), [p.grad.clone() for p in model.parameters()]))
    torch.testing.assert_close(results[0][0], results[1][0], atol=1e-6, rtol=1e-6)
    for a, b in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert engine._group_bounds(lengths, 100) == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6)]
    assert engine._group_bounds(torch.tensor([30, 30, 30, 30, 200]), 100) == [(0, 3), (3, 4), (4, 5)]


def test_folded_layernorm_affine_equals_norm_then_mlp():
    """A LayerNorm prenorm's affine folded into fc1 gives the same values and gradients as applying it."""
    torch.manual_seed(0)
    block = ChordMixer(input_size=6, output_size=3, max_seq_len=64, track_size=4, hidden_size=16,
                       prenorm="LN").encoder.chordmixer_blocks[0]
    with torch.no_grad():  # away from the initial weight 1 / bias 0, so a dropped affine would show
        block.prenorm.weight.uniform_(0.5, 1.5)
        block.prenorm.bias.uniform_(-0.5, 0.5)
    x = torch.randn(50, block.mix.fc1.in_features, dtype=torch.float64, requires_grad=True)
    block.double()
    results = []
    from genomix.models.fast.folded import mixed

    for compute in (lambda rows: mixed(block, rows, None), lambda rows: block.mix(block.prenorm(rows))):
        block.zero_grad()
        x.grad = None
        out = compute(x)
        out.sin().sum().backward()
        results.append([out.detach(), x.grad.clone(), *(p.grad.clone() for p in block.parameters())])
    for folded, applied in zip(*results):
        torch.testing.assert_close(folded, applied, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("var_len", [False, True])
def test_float64_model_runs_in_both_length_modes(var_len):
    """The pooled rows keep the model's float64 (equal lengths pooled in float32 once: a dtype error)."""
    torch.manual_seed(0)
    net = ChordMixer(input_size=5, output_size=3, max_seq_len=64, track_size=4, hidden_size=8,
                     var_len=var_len).double()
    tokens = torch.randint(1, 5, (2 * 32,) if var_len else (2, 32))
    lengths = torch.tensor([32, 32]) if var_len else None
    logits = net(tokens, lengths)
    assert logits.dtype == torch.float64
    reference = net.float()(tokens, lengths)
    torch.testing.assert_close(logits.float(), reference, atol=1e-5, rtol=1e-4)
