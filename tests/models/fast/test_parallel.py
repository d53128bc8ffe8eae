"""Groups of sequences run on separate threads give what the sequential loop gives."""

from __future__ import annotations

import pytest
import torch

import genomix.models.fast.engine as engine
from genomix import ChordMixer
from genomix.models import fast
from genomix.models.fast.dispatch import PATHS


@pytest.fixture
def two_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


def run(model, tokens, lengths, *, parallel, bf16=False):
    with fast.use(PATHS if parallel else set(PATHS) - {"parallel"}):
        model.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(tokens, lengths)
        (out.float() * torch.linspace(-1, 1, out.numel()).view(out.shape)).sum().backward()
        return out.detach(), {name: p.grad.detach().clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("checkpointing", [False, "block", "segments"])
def test_parallel_groups_equal_sequential(monkeypatch, two_threads, checkpointing):
    torch.manual_seed(0)
    model = ChordMixer(input_size=6, output_size=3, max_seq_len=512, track_size=2, hidden_size=8,
                       prenorm="LN", norm="LN", var_len=True, grad_checkpointing=checkpointing)
    monkeypatch.setattr(engine, "GROUP_BYTES", 100 * model.embedding_size * 4)  # groups of <= 100 rows
    lengths = torch.tensor([512, 3, 100, 1, 260, 40, 7, 90])
    tokens = torch.randint(1, 6, (int(lengths.sum()),))
    assert engine._group_workers(model.encoder, torch.empty(1, 1), 5) == 2
    calls = []
    original = engine.run_groups
    monkeypatch.setattr(engine, "run_groups", lambda *a: calls.append(1) or original(*a))
    out_p, grads_p = run(model, tokens, lengths, parallel=True)
    out_s, grads_s = run(model, tokens, lengths, parallel=False)
    assert calls, "the parallel path did not run"
    torch.testing.assert_close(out_p, out_s, rtol=0, atol=0)
    for name in grads_s:
        torch.testing.assert_close(grads_p[name], grads_s[name], rtol=1e-5, atol=1e-6, msg=name)


def test_parallel_groups_in_bf16_and_inference(monkeypatch, two_threads):
    torch.manual_seed(1)
    model = ChordMixer(input_size=6, output_size=3, max_seq_len=2048, track_size=4, hidden_size=16,
                       prenorm="LN", var_len=True)
    monkeypatch.setattr(engine, "GROUP_BYTES", 500 * model.embedding_size * 2)
    lengths = torch.tensor([2000, 700, 1200, 33])
    tokens = torch.randint(1, 6, (int(lengths.sum()),))
    out_p, grads_p = run(model, tokens, lengths, parallel=True, bf16=True)
    out_s, grads_s = run(model, tokens, lengths, parallel=False, bf16=True)
    torch.testing.assert_close(out_p, out_s, rtol=0, atol=0)
    for name in grads_s:  # the same bf16 gradients, summed over groups in another order
        error = ((grads_p[name] - grads_s[name]).abs().max() / grads_s[name].abs().max()).item()
        assert error < 1e-2, (name, error)
    model.eval()
    with torch.no_grad():
        with fast.use(set(PATHS) - {"parallel"}):
            alone = model(tokens, lengths)
        torch.testing.assert_close(model(tokens, lengths), alone, rtol=0, atol=0)
    assert torch.get_num_threads() == 2  # the intra-op thread count is restored


def test_sequential_when_the_schedule_could_change_results(two_threads):
    rows = torch.empty(4, 4)
    dropout = ChordMixer(input_size=6, output_size=3, max_seq_len=64, track_size=4, hidden_size=8,
                         mlp_dropout=0.1, var_len=True).encoder
    assert engine._group_workers(dropout.train(), rows, 4) == 1
    assert engine._group_workers(dropout.eval(), rows, 4) == 2
    batchnorm = ChordMixer(input_size=6, output_size=3, max_seq_len=64, track_size=4, hidden_size=8,
                           norm="BN", var_len=True).encoder
    assert engine._batch_statistics(batchnorm.train())  # BatchNorm in training: one group, whole-batch statistics
    assert not engine._batch_statistics(batchnorm.eval())
    assert engine._group_workers(batchnorm.eval(), rows, 4) == 2
    torch.set_num_threads(1)
    assert engine._group_workers(batchnorm, rows, 4) == 1
