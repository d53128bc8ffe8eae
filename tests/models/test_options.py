"""Model options beyond the published ChordMixer: k-mer embedding, k-mer profile head, zero-initialised residuals.

Each keeps the model's invariants (a sequence's output does not depend on its batch, equal-length and
variable-length modes agree) and the fast paths (the options live outside the blocks).
"""

import logging

import numpy as np
import pytest
import torch

from genomix.models.chordmixer import ChordMixer
from genomix.models.kmers import KmerProfileHead, kmer_ids, kmer_profiles, kmer_vocab_size

OPTIONS = dict(embedding_type="kmer", kmer_size=3, kmer_vocab="acgt", kmer_profile=True, residual_init="zero")


def _model(**overrides):
    torch.manual_seed(0)
    kwargs = dict(input_size=16, output_size=3, max_seq_len=64, track_size=4, hidden_size=8, prenorm="LN",
                  norm="None", var_len=True, **OPTIONS)
    kwargs.update(overrides)
    return ChordMixer(**kwargs)


def _perturb(model):
    """Weights away from the zero initialisation, so every part contributes."""
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    return model


def _sequences(seed=0):
    rng = np.random.default_rng(seed)
    lengths = torch.tensor([17, 1, 64, 5, 40])
    return torch.from_numpy(rng.integers(1, 7, int(lengths.sum()))), lengths


def test_the_default_options_give_the_published_model():
    published = ChordMixer(16, 3, max_seq_len=64, track_size=4, hidden_size=8)
    assert published.profile is None and type(published.embedding) is torch.nn.Embedding
    assert not torch.equal(published.encoder.chordmixer_blocks[0].mix.fc2.weight,
                           torch.zeros_like(published.encoder.chordmixer_blocks[0].mix.fc2.weight))


@pytest.mark.parametrize("pooling", ["mean", "moments"])
def test_zero_residual_init_starts_every_block_as_the_identity_and_the_network_at_a_constant(pooling):
    model = _model(kmer_profile=False, pooling=pooling).eval()
    tokens, lengths = _sequences()
    with torch.no_grad():
        rows = model.embed(tokens, lengths)
        assert torch.equal(model.encoder(rows.clone(), lengths), rows)
        out = model(tokens, lengths)
    assert torch.equal(out, torch.zeros_like(out))


@pytest.mark.parametrize("options", [OPTIONS, dict(OPTIONS, kmer_vocab="hashed", kmer_buckets=97),
                                     dict(OPTIONS, pooling="moments")])
def test_a_sequence_does_not_depend_on_its_batch(options):
    model = _perturb(_model(**options)).eval()
    tokens, lengths = _sequences()
    starts = [0, *torch.cumsum(lengths, 0).tolist()]
    with torch.no_grad():
        together = model(tokens, lengths)
        alone = torch.cat([model(tokens[starts[i]:starts[i + 1]], lengths[i:i + 1]) for i in range(len(lengths))])
        order = torch.tensor([3, 0, 4, 2, 1])
        shuffled = model(torch.cat([tokens[starts[i]:starts[i + 1]] for i in order.tolist()]), lengths[order])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(shuffled, together[order], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("pooling", ["mean", "moments"])
def test_equal_length_mode_matches_variable_length_mode(pooling):
    variable = _perturb(_model(pooling=pooling))
    equal = _model(var_len=False, pooling=pooling)
    equal.load_state_dict(variable.state_dict())
    tokens = torch.from_numpy(np.random.default_rng(1).integers(1, 7, (3, 64)))
    with torch.no_grad():
        torch.testing.assert_close(equal.eval()(tokens), variable.eval()(tokens.reshape(-1), torch.tensor([64] * 3)),
                                   atol=1e-5, rtol=1e-5)


def test_every_part_gets_gradients_and_the_blocks_keep_their_fast_paths(caplog):
    model = _model()
    with torch.no_grad():  # as after a first optimizer step: a zero decoder passes no gradient back
        model.decoder.decoder.weight.normal_()
    tokens, lengths = _sequences()
    with caplog.at_level(logging.INFO, logger="genomix.models.fast.dispatch"):
        model(tokens, lengths).sum().backward()
    for name in ("embedding.weight", "profile.linear.weight", "decoder.decoder.weight",
                 "encoder.chordmixer_blocks.0.mix.fc2.weight"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name
    assert "fast paths" in caplog.text


def test_the_profile_head_is_a_linear_model_of_the_standardised_profile():
    tokens, lengths = _sequences(2)
    head = KmerProfileHead(2, k=2, vocab="acgt")
    profiles = head.profiles(tokens, lengths)
    head.fit_statistics(profiles)
    standardised = (profiles - head.mean) / head.scale
    varying = profiles.std(0) > 0
    torch.testing.assert_close(standardised[:, varying].mean(0), torch.zeros(int(varying.sum())), atol=1e-5,
                               rtol=0)
    with torch.no_grad():
        head.linear.weight.normal_()
    expected = standardised @ head.linear.weight.t() + head.linear.bias
    torch.testing.assert_close(head(tokens, lengths), expected)
    ids = kmer_ids(tokens, lengths, k=2, vocab="acgt")
    torch.testing.assert_close(profiles, kmer_profiles(ids, lengths, kmer_vocab_size(2, "acgt", 0)))


def test_the_profile_statistics_travel_with_the_weights():
    model = _model()
    tokens, lengths = _sequences()
    model.profile.fit_statistics(model.profile.profiles(tokens, lengths))
    state = model.state_dict()
    assert {"profile.mean", "profile.scale"} <= set(state)
    copy = _model()
    copy.load_state_dict(state)
    assert torch.equal(copy.profile.scale, model.profile.scale)


def _reverse_complements(tokens, lengths):
    from genomix.alphabet import reverse_complement

    pieces = torch.split(tokens, lengths.tolist())
    return torch.cat([torch.from_numpy(reverse_complement(piece.numpy()).copy()) for piece in pieces])


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_reverse_complement_codes_match_the_strings(k):
    from itertools import product

    from genomix.models.kmers import reverse_complement_codes

    kmers = ["".join(letters) for letters in product("ACGT", repeat=k)]  # code order: first base most significant
    complement = str.maketrans("ACGT", "TGCA")
    expected = [kmers.index(kmer.translate(complement)[::-1]) for kmer in kmers]
    assert reverse_complement_codes(k).tolist() == expected


def test_a_canonical_profile_head_gives_both_strands_the_same_output():
    tokens, lengths = _sequences(3)  # A C G T N and one IUPAC code: k-mers with N are not counted on either strand
    reverse = _reverse_complements(tokens, lengths)
    for canonical in (True, False):
        torch.manual_seed(0)
        head = KmerProfileHead(3, k=3, vocab="acgt", canonical=canonical)
        head.fit_statistics(head.profiles(tokens, lengths))
        with torch.no_grad():
            head.linear.weight.normal_()
        forward, backward = head(tokens, lengths), head(reverse, lengths)
        if canonical:
            torch.testing.assert_close(forward, backward, atol=1e-5, rtol=1e-5)
            plain = KmerProfileHead(3, k=3, vocab="acgt").profiles(tokens, lengths)
            torch.testing.assert_close(head.profiles(tokens, lengths) * 2,
                                       plain + KmerProfileHead(3, k=3, vocab="acgt").profiles(reverse, lengths))
        else:
            assert (forward - backward).abs().max() > 0.1  # a strand-specific head tells the strands apart
    assert "reverse_columns" not in head.state_dict()


def test_a_canonical_head_is_only_for_dna_kmers_and_loads_plain_weights():
    with pytest.raises(ValueError, match="canonical .* needs 'acgt' k-mers"):
        KmerProfileHead(2, k=3, vocab="hashed", canonical=True)
    plain = _model()
    canonical = _model(profile_canonical=True)
    canonical.load_state_dict(plain.state_dict())  # the same tensors: old checkpoints load either way
    model = _perturb(_model(profile_canonical=True)).eval()
    tokens, lengths = _sequences(4)
    with torch.no_grad():
        profile = model.profile(tokens, lengths)
        assert torch.allclose(profile, model.profile(_reverse_complements(tokens, lengths), lengths), atol=1e-5)
        alone = torch.stack([model(tokens[start:start + n], torch.tensor([n]))[0]
                             for start, n in zip((torch.cumsum(lengths, 0) - lengths).tolist(), lengths.tolist())])
        torch.testing.assert_close(model(tokens, lengths), alone, atol=1e-5, rtol=1e-4)  # batch invariant


@pytest.mark.parametrize("kwargs, message", [
    (dict(kmer_profile=True, decoder="none"), "kmer_profile needs the 'linear' decoder"),
    (dict(residual_init="orthogonal"), "residual_init"),
    (dict(pooling="max"), "pooling must be one of 'mean', 'moments'"),
    (dict(pooling="moments", kmer_profile=False, decoder="none"), "pooling='moments' needs the 'linear' decoder"),
    (dict(kmer_vocab="protein"), "kmer_vocab"),
])
def test_bad_options_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _model(**kwargs)


@pytest.mark.parametrize("length, window", [(1, 4), (4, 4), (5, 4), (17, 4), (64, 16), (100, 7), (4096, 4096),
                                            (15_001, 4096)])
def test_window_lengths_cut_nearly_equal_pieces(length, window):
    from genomix.models.chordmixer import window_lengths

    pieces = window_lengths(torch.tensor([length, 3]), window)
    mine = pieces[:-1] if length > 0 else pieces
    assert int(mine.sum()) == length and int(pieces[-1]) == min(3, 3)
    assert len(mine) == -(-length // window) and int(mine.max()) <= window and int(mine.max() - mine.min()) <= 1


def test_a_windowed_encoder_averages_its_pieces():
    """With single-token embeddings a long sequence's output is the length-weighted mean of the outputs of
    its pieces, each run alone (the decoder is affine in the pooled mean)."""
    from genomix.models.chordmixer import window_lengths

    model = _perturb(_model(embedding_type="sparse", kmer_profile=False, encoder_window=16)).eval()
    whole = _perturb(_model(embedding_type="sparse", kmer_profile=False)).eval()
    whole.load_state_dict(model.state_dict())
    rng = np.random.default_rng(3)
    tokens = torch.from_numpy(rng.integers(1, 7, 50))
    pieces = window_lengths(torch.tensor([50]), 16)
    with torch.no_grad():
        alone = [whole(part, part.new_tensor([len(part)])) for part in torch.split(tokens, pieces.tolist())]
        expected = sum(out * (len(part) / 50) for out, part in zip(alone, torch.split(tokens, pieces.tolist())))
        torch.testing.assert_close(model(tokens, torch.tensor([50])), expected, atol=1e-5, rtol=1e-5)
        assert not torch.allclose(whole(tokens, torch.tensor([50])), expected, atol=1e-3)  # windows change it


def test_a_windowed_model_is_batch_invariant_and_equal_to_the_whole_model_on_short_inputs():
    model = _perturb(_model(encoder_window=16)).eval()
    whole = _model()
    whole.load_state_dict(model.state_dict())
    whole.eval()
    tokens, lengths = _sequences()  # lengths 17, 1, 64, 5, 40: three longer than the window
    with torch.no_grad():
        batch = model(tokens, lengths)
        for i, part in enumerate(torch.split(tokens, lengths.tolist())):
            torch.testing.assert_close(model(part, lengths[i:i + 1])[0], batch[i], atol=1e-5, rtol=1e-5)
        short = lengths <= 16
        torch.testing.assert_close(batch[short], whole(tokens, lengths)[short], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="encoder_window"):
        _model(encoder_window=8, var_len=False)


@pytest.mark.parametrize("profile_k", [2, 4])
def test_a_profile_head_of_another_k_counts_its_own_kmers(profile_k):
    """``profile_kmer_size``: the head reads its own k-mers (not the embedding's 3-mers); the output is the
    network plus that head, batch invariant; 0 is the embedding's k."""
    model = _perturb(_model(profile_kmer_size=profile_k)).eval()
    assert model.profile.k == profile_k and model.profile.linear.in_features == 4 ** profile_k
    tokens, lengths = _sequences()
    with torch.no_grad():
        out = model(tokens, lengths)
        network = model(tokens, lengths, profile_logits=torch.zeros(len(lengths), 3))
        head = KmerProfileHead(3, k=profile_k, vocab="acgt")
        head.load_state_dict(model.profile.state_dict())
        torch.testing.assert_close(out, network + head(tokens, lengths))
        starts = np.concatenate([[0], np.cumsum(lengths.numpy())])
        for i in range(len(lengths)):
            alone = model(tokens[starts[i]:starts[i + 1]], lengths[i:i + 1])
            torch.testing.assert_close(alone[0], out[i], atol=1e-5, rtol=1e-5)
    same = _perturb(_model(profile_kmer_size=0)).eval()
    assert same.profile.k == OPTIONS["kmer_size"]
    with pytest.raises(ValueError, match="profile_kmer_size must be >= 0"):
        _model(profile_kmer_size=-1)


def test_moment_pooling_sees_where_a_feature_lies_and_mean_pooling_does_not():
    """The encoder is equivariant to cyclic shifts of a sequence (the rotation is cyclic, the MLP per position):
    a mean-pooled model of single tokens gives a sequence and its halves swapped the same output, one that
    pools moments tells them apart."""
    tokens = torch.from_numpy(np.random.default_rng(3).integers(1, 7, 64))
    swapped = torch.cat([tokens[32:], tokens[:32]])
    lengths = torch.tensor([64])
    outputs = {}
    for pooling in ("mean", "moments"):
        model = _perturb(_model(embedding_type="sparse", kmer_profile=False, pooling=pooling)).eval()
        with torch.no_grad():
            outputs[pooling] = model(tokens, lengths), model(swapped, lengths)
    torch.testing.assert_close(*outputs["mean"], atol=1e-5, rtol=1e-5)
    assert (outputs["moments"][0] - outputs["moments"][1]).abs().max() > 1e-2
