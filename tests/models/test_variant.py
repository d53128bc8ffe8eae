"""RefAltModel: shapes, batch invariance, the [h_ref, h_alt, h_alt - h_ref] feature, one encoder call,
gradients, and rebuilding from its config."""

from __future__ import annotations

import json

import pytest
import torch

from genomix.models.variant import RefAltModel


def _model(**overrides) -> RefAltModel:
    torch.manual_seed(0)
    options = dict(input_size=16, output_size=3, max_seq_len=64, track_size=4, hidden_size=16)
    options.update(overrides)
    return RefAltModel(**options).eval()


def _batch(lengths_ref, lengths_alt, seed=1):
    generator = torch.Generator().manual_seed(seed)
    ref = torch.randint(1, 5, (sum(lengths_ref),), generator=generator)
    alt = torch.randint(1, 5, (sum(lengths_alt),), generator=generator)
    return ref, torch.tensor(lengths_ref), alt, torch.tensor(lengths_alt)


def _pieces(tokens, lengths):
    return list(torch.split(tokens, lengths.tolist()))


@pytest.mark.parametrize("head, options", [
    ("linear", {}), ("mlp", {}),
    ("linear", {"embedding_type": "kmer", "difference": "sum"}),
    ("mlp", {"embedding_type": "kmer", "difference": "sum", "kmer_size": 3}),
])
def test_shape_and_batch_invariance(head, options):
    model = _model(head=head, **options)
    ref, ref_lengths, alt, alt_lengths = _batch([40, 17, 64, 1], [41, 16, 60, 3])
    with torch.no_grad():
        batch = model(ref, ref_lengths, alt, alt_lengths)
        assert batch.shape == (4, 3)
        refs, alts = _pieces(ref, ref_lengths), _pieces(alt, alt_lengths)
        for i in range(4):
            alone = model(refs[i], ref_lengths[i:i + 1], alts[i], alt_lengths[i:i + 1])
            torch.testing.assert_close(alone[0], batch[i], atol=1e-5, rtol=1e-5)
        order = [2, 0, 3, 1]
        shuffled = model(torch.cat([refs[i] for i in order]), ref_lengths[order],
                         torch.cat([alts[i] for i in order]), alt_lengths[order])
        torch.testing.assert_close(shuffled, batch[order], atol=1e-5, rtol=1e-5)


def test_head_reads_ref_alt_and_their_difference():
    model = _model(output_size=1)
    ref, ref_lengths, alt, alt_lengths = _batch([30, 20], [31, 19])
    with torch.no_grad():
        h_ref = model.encode(ref, ref_lengths)
        h_alt = model.encode(alt, alt_lengths)
        assert h_ref.shape == (2, model.embedding_size)
        expected = model.head[0](torch.cat([h_ref, h_alt, h_alt - h_ref], dim=-1))
        torch.testing.assert_close(model(ref, ref_lengths, alt, alt_lengths), expected, atol=1e-5, rtol=1e-5)
        # the difference feature: with ref == alt its block of the head's weights contributes nothing
        weight = model.head[0].weight
        D = model.embedding_size
        same = model.head_from(h_ref, h_ref)
        no_diff = h_ref @ (weight[:, :D] + weight[:, D:2 * D]).T + model.head[0].bias
        torch.testing.assert_close(same, no_diff, atol=1e-5, rtol=1e-5)
        # swapping ref and alt flips the sign of the difference feature only
        swapped = model.head_from(h_alt, h_ref)
        manual = (h_alt @ weight[:, :D].T + h_ref @ weight[:, D:2 * D].T + (h_ref - h_alt) @ weight[:, 2 * D:].T
                  + model.head[0].bias)
        torch.testing.assert_close(swapped, manual, atol=1e-5, rtol=1e-5)


def test_one_encoder_call_for_both_windows(monkeypatch):
    model = _model()
    calls = []
    original = model.backbone.forward
    monkeypatch.setattr(model.backbone, "forward", lambda *a, **k: calls.append(a[1].tolist()) or original(*a, **k))
    ref, ref_lengths, alt, alt_lengths = _batch([10, 12], [9, 14])
    model(ref, ref_lengths, alt, alt_lengths)
    assert calls == [[10, 12, 9, 14]]


def test_gradients_reach_encoder_embedding_and_head():
    model = _model(head="mlp").train()
    ref, ref_lengths, alt, alt_lengths = _batch([33, 18], [32, 20])
    loss = torch.nn.functional.cross_entropy(model(ref, ref_lengths, alt, alt_lengths), torch.tensor([0, 2]))
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
    assert model.backbone.embedding.weight.grad.abs().sum() > 0
    assert model.backbone.encoder.chordmixer_blocks[0].mix.fc1.weight.grad.abs().sum() > 0
    assert model.head[-1].weight.grad.abs().sum() > 0


def test_config_rebuilds_the_model():
    model = _model(head="mlp", head_hidden=8, mlp_dropout=0.1)
    config = json.loads(json.dumps(model.config()))
    rebuilt = RefAltModel(**config)
    rebuilt.load_state_dict(model.state_dict())
    rebuilt.eval()
    ref, ref_lengths, alt, alt_lengths = _batch([25, 7], [26, 7])
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(ref, ref_lengths, alt, alt_lengths), model(ref, ref_lengths, alt, alt_lengths))


def test_bad_arguments():
    with pytest.raises(ValueError, match="head must be one of"):
        RefAltModel(16, 2, head="attention")
    model = _model()
    ref, ref_lengths, alt, _ = _batch([5, 5], [5, 5])
    with pytest.raises(ValueError, match="ref_lengths and alt_lengths"):
        model(ref, ref_lengths, alt[:5], torch.tensor([5]))


def test_sum_difference_of_a_zero_initialised_kmer_model_counts_the_changed_kmers():
    """With blocks at the identity, the head's third input is the sum of the alt window's k-mer
    embeddings minus the ref window's: only the k-mers that overlap the change differ."""
    model = _model(output_size=1, embedding_type="kmer", kmer_size=3, residual_init="zero", difference="sum",
                   prenorm="None")
    ref, ref_lengths, alt, alt_lengths = _batch([30, 20], [30, 20])
    alt = ref.clone()
    alt[10] = 1 + ref[10] % 4  # one SNV in the first window, the second window unchanged
    with torch.no_grad():
        assert torch.count_nonzero(model(ref, ref_lengths, alt, alt_lengths)) == 0  # the head starts at zero
        h_ref, h_alt = model.encode(ref, ref_lengths), model.encode(alt, alt_lengths)
        D = model.embedding_size
        table = model.backbone.embedding
        expected = (table(table.ids(alt, alt_lengths)) - table(table.ids(ref, ref_lengths)))[:30].sum(0)
        torch.testing.assert_close(h_alt[0, D:] - h_ref[0, D:], expected, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(h_alt[1], h_ref[1])
        means = model.encode(ref, ref_lengths)[:, :D]
        torch.testing.assert_close(h_ref[:, D:], means * ref_lengths.unsqueeze(1).float())


def test_new_options_are_checked_and_rebuilt_from_config():
    model = _model(embedding_type="kmer", difference="sum", residual_init="zero")
    rebuilt = RefAltModel(**json.loads(json.dumps(model.config())))
    assert rebuilt.config() == model.config() and rebuilt.difference == "sum"
    with pytest.raises(ValueError, match="difference must be"):
        _model(difference="max")
    with pytest.raises(ValueError, match="embedding_type must be"):
        _model(embedding_type="linear")


def _kmer_counts(tokens: list[int], k: int) -> dict[tuple[int, ...], int]:
    counts: dict[tuple[int, ...], int] = {}
    for start in range(len(tokens) - k + 1):
        kmer = tuple(tokens[start:start + k])
        if all(1 <= t <= 4 for t in kmer):
            counts[kmer] = counts.get(kmer, 0) + 1
    return counts


@pytest.mark.parametrize("k", [2, 4])
def test_pair_profiles_count_the_kmers_the_variant_changes(k):
    """Against a plain dictionary count of each window's k-mers (an SNV, an insertion, a deletion, an N)."""
    model = _model(output_size=1, embedding_type="kmer", kmer_size=k, kmer_profile=True)
    generator = torch.Generator().manual_seed(3)
    refs = [torch.randint(1, 5, (n,), generator=generator) for n in (30, 25, 40)]
    alts = [refs[0].clone(), torch.cat([refs[1][:10], torch.tensor([2, 3]), refs[1][10:]]),
            torch.cat([refs[2][:5], refs[2][8:]])]
    alts[0][12] = 1 + (int(alts[0][12]) % 4)
    refs[2][20] = 5  # an N in both windows
    alts[2][17] = 5
    lengths = lambda windows: torch.tensor([len(w) for w in windows])  # noqa: E731
    profiles = model.pair_profiles(torch.cat(refs), lengths(refs), torch.cat(alts), lengths(alts))
    assert profiles.shape == (3, 4**k)
    for row, ref, alt in zip(profiles, refs, alts):
        expected = torch.zeros(4**k)
        for sign, window in ((-1, ref), (1, alt)):
            for kmer, count in _kmer_counts(window.tolist(), k).items():
                expected[sum((t - 1) * 4 ** (k - 1 - i) for i, t in enumerate(kmer))] += sign * count
        assert torch.equal(row, expected)


def test_the_profile_adds_to_the_network_and_given_logits_replace_it():
    plain = _model(output_size=2, embedding_type="kmer")
    model = _model(output_size=2, embedding_type="kmer", kmer_profile=True)
    batch = _batch([40, 17, 64], [40, 18, 63])
    with torch.no_grad():
        assert torch.equal(model(*batch), plain(*batch))  # the profile starts at zero
        model.profile.linear.weight.normal_()
        model.profile.fit_statistics(model.pair_profiles(*batch))
        network = plain(*batch)
        profile = model.profile(batch[0], None, profiles=model.pair_profiles(*batch))
        torch.testing.assert_close(model(*batch), network + profile)
        given = torch.randn(3, 2)
        torch.testing.assert_close(model(*batch, profile_logits=given), network + given)
        alone = torch.cat([model(*(piece for piece in (r, rl.view(1), a, al.view(1))))
                           for r, rl, a, al in zip(_pieces(batch[0], batch[1]), batch[1],
                                                   _pieces(batch[2], batch[3]), batch[3])])
        torch.testing.assert_close(model(*batch), alone, atol=1e-5, rtol=1e-5)  # batch invariant
    assert RefAltModel(**model.config()).profile is not None
    with pytest.raises(ValueError, match="kmer_profile"):
        plain(*batch, profile_logits=given)


def test_motif_changes_follow_the_kmer_changes_in_the_profile():
    """``motif_count``: the profile is the k-mer change, then MotifChange's columns; the matrices are buffers that
    a rebuilt model's state restores."""
    from genomix.models.motifs import MotifChange, log_odds

    model = _model(output_size=1, embedding_type="kmer", kmer_profile=True, motif_count=2, motif_width=5)
    site = [3, 1, 4, 1, 1]  # GATAA: motif 0's consensus, planted in the first ref window below
    matrices = log_odds([50 * torch.eye(4)[[b - 1 for b in site]].T.numpy(), torch.ones(4, 3).numpy()])
    model.set_motifs(matrices)
    plain = _model(output_size=1, embedding_type="kmer", kmer_profile=True)
    ref, ref_lengths, alt, alt_lengths = _batch([30, 25, 40], [30, 24, 41])
    ref[10:15] = torch.tensor(site)
    alt[:30] = ref[:30]
    alt[12] = 2  # the site broken
    batch = (ref, ref_lengths, alt, alt_lengths)
    profiles = model.pair_profiles(*batch)
    scanner = MotifChange(2, 5)
    scanner.set_matrices(matrices)
    assert profiles.shape == (3, 256 + 2) and model.profile.linear.in_features == 258
    torch.testing.assert_close(profiles[:, :256], plain.pair_profiles(*batch))
    torch.testing.assert_close(profiles[:, 256:], scanner(*batch))
    assert profiles[0, 256] < -6  # the site's score fell by more than SITE_BITS
    rebuilt = RefAltModel(**json.loads(json.dumps(model.config())))
    assert rebuilt.motifs.matrices.abs().sum() == 0
    rebuilt.load_state_dict(model.state_dict())
    torch.testing.assert_close(rebuilt.pair_profiles(*batch), profiles)
    with pytest.raises(ValueError, match="needs kmer_profile"):
        _model(motif_count=2, motif_width=5)
    with pytest.raises(ValueError, match="motif_count > 0"):
        plain.set_motifs(matrices)
