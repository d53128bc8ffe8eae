"""score_vcf on MITOMAP + rCRS with a small untrained RefAltModel: one record per input record, in order,
scores defined as documented, REF mismatches flagged, and nothing written on an input error."""

from __future__ import annotations

import numpy as np
import pysam
import pytest
import torch
from variant_files import MITO_ALIAS, copy_mito, edit_vcf

from genomix.alphabet import DNA, reverse_complement
from genomix.errors import ConfigError, InputFormatError
from genomix.inference.variants import DIFF_FIELD, REF_MISMATCH, SCORE_FIELD, pair_scores, score_vcf
from genomix.models.variant import RefAltModel

WINDOW = 24


@pytest.fixture(scope="module")
def model() -> RefAltModel:
    torch.manual_seed(0)
    return RefAltModel(16, 2, max_seq_len=64, track_size=4, hidden_size=8).eval()


@pytest.fixture
def mito(shared_data, tmp_path):
    return copy_mito(shared_data, tmp_path / "in")


def _score(model, fasta, vcf, out, **options):
    options.setdefault("label_kind", "classification")
    options.setdefault("contig_aliases", MITO_ALIAS)
    return score_vcf(model, reference=fasta, vcf=vcf, out=out, window=WINDOW, **options)


def test_mitomap_one_record_per_input_record(model, mito, tmp_path):
    fasta, vcf = mito
    out = tmp_path / "scored.vcf.gz"
    summary = _score(model, fasta, vcf, out, classes=["other", "Cfrm"], batch_tokens=5000)
    assert summary == {"records": 953, "alleles_scored": 953, "ref_mismatch": 0, "outside_reference": 0,
                       "symbolic_alt": 0, "out": str(out)}
    assert (tmp_path / "scored.vcf.gz.tbi").exists()
    with pysam.VariantFile(str(out)) as scored, pysam.VariantFile(str(vcf)) as source:
        assert "'Cfrm'" in scored.header.info[SCORE_FIELD].description
        pairs = list(zip(scored, source, strict=True))
    for new, old in pairs:
        assert (new.chrom, new.pos, new.id, new.ref, new.alts) == (old.chrom, old.pos, old.id, old.ref, old.alts)
        assert dict(old.info).items() <= dict(new.info).items()
        assert 0.0 <= new.info[SCORE_FIELD][0] <= 1.0 and -1.0 <= new.info[DIFF_FIELD][0] <= 1.0
        assert list(new.filter) == []


def test_scores_match_their_definition(model, mito, tmp_path):
    fasta, vcf = mito
    sequence = open(fasta).read().split("\n", 1)[1].replace("\n", "")
    out = tmp_path / "scored.vcf"
    _score(model, fasta, vcf, out, region=None)
    with pysam.VariantFile(str(out)) as scored:
        record = next(r for r in scored if r.pos == 3902)  # ACCTTGC>GCAAGGT
    p = 3902 - 1
    ref_window = sequence[p - WINDOW // 2:p - WINDOW // 2 + WINDOW]
    alt_window = ref_window[:WINDOW // 2] + "GCAAGGT" + ref_window[WINDOW // 2 + 7:]
    ref, alt = torch.from_numpy(DNA.encode(ref_window).astype(np.int64)), torch.from_numpy(DNA.encode(alt_window).astype(np.int64))
    with torch.no_grad():
        p_alt = torch.softmax(model(ref, torch.tensor([len(ref)]), alt, torch.tensor([len(alt)])), -1)[0, -1]
        p_ref = torch.softmax(model(ref, torch.tensor([len(ref)]), ref, torch.tensor([len(ref)])), -1)[0, -1]
    assert record.info[SCORE_FIELD][0] == pytest.approx(float(p_alt), abs=1e-5)
    assert record.info[DIFF_FIELD][0] == pytest.approx(float(p_alt - p_ref), abs=1e-5)


def test_regression_and_reverse_strand(mito, tmp_path):
    torch.manual_seed(1)
    model = RefAltModel(16, 1, max_seq_len=64, track_size=4, hidden_size=8).eval()
    ref_tokens = DNA.encode("ACGTTGCAAGCTTAGC")
    alt_tokens = DNA.encode("ACGTTGCTAGCTTAGC")
    def tensors(tokens):
        return torch.from_numpy(tokens.astype(np.int64)), torch.tensor([len(tokens)])
    with torch.no_grad():
        score, diff = pair_scores(model, *tensors(ref_tokens), *tensors(alt_tokens), label_kind="regression",
                                  target_scale=(2.0, 3.0))
        raw = model(*tensors(ref_tokens), *tensors(alt_tokens))[0, 0]
        null = model(*tensors(ref_tokens), *tensors(ref_tokens))[0, 0]
    assert float(score) == pytest.approx(float(raw) * 3 + 2, abs=1e-5)
    assert float(diff) == pytest.approx(float(raw - null) * 3, abs=1e-5)
    fasta, vcf = mito
    both = tmp_path / "rc.vcf"
    _score(model, fasta, vcf, both, label_kind="regression", target_scale=(2.0, 3.0), rc=True)
    with pysam.VariantFile(str(both)) as scored:
        first = next(iter(scored))  # chrM:114 C>T
    window = open(fasta).read().split("\n", 1)[1].replace("\n", "")[113 - WINDOW // 2:113 - WINDOW // 2 + WINDOW]
    ref_tokens = DNA.encode(window)
    alt_tokens = DNA.encode(window[:WINDOW // 2] + "T" + window[WINDOW // 2 + 1:])
    with torch.no_grad():
        f_score, _ = pair_scores(model, *tensors(ref_tokens), *tensors(alt_tokens), label_kind="regression",
                                 target_scale=(2.0, 3.0))
        r_score, _ = pair_scores(model, *tensors(reverse_complement(ref_tokens)),
                                 *tensors(reverse_complement(alt_tokens)), label_kind="regression",
                                 target_scale=(2.0, 3.0))
    assert first.info[SCORE_FIELD][0] == pytest.approx(float(f_score + r_score) / 2, abs=1e-5)


def test_ref_mismatch_is_flagged_not_scored(model, mito, tmp_path):
    fasta, vcf = mito
    bad = edit_vcf(vcf, tmp_path / "bad.vcf",
                   lambda n, line: line.replace("\t195\tMITOMAP206\tT\t", "\t195\tMITOMAP206\tA\t") if n == 5 else line)
    out = tmp_path / "scored.vcf"
    summary = _score(model, fasta, bad, out)
    assert summary["ref_mismatch"] == 1 and summary["alleles_scored"] == 952
    with pysam.VariantFile(str(out)) as scored:
        records = list(scored)
    assert len(records) == 953
    assert list(records[4].filter) == [REF_MISMATCH] and SCORE_FIELD not in records[4].info
    assert all(SCORE_FIELD in r.info for k, r in enumerate(records) if k != 4)


def test_symbolic_alts_get_missing_values(model, mito, tmp_path):
    fasta, vcf = mito
    edited = edit_vcf(vcf, tmp_path / "sym.vcf", lambda n, line: line.replace("\tC\tT\t", "\tC\t<DEL>,T\t") if n == 1 else line)
    out = tmp_path / "scored.vcf"
    summary = _score(model, fasta, edited, out)
    assert summary["symbolic_alt"] == 1 and summary["alleles_scored"] == 953
    with pysam.VariantFile(str(out)) as scored:
        first = next(iter(scored))
    assert first.alts == ("<DEL>", "T") and first.info[SCORE_FIELD][0] is None and first.info[SCORE_FIELD][1] is not None


def _nothing_written(folder):
    return not any(p.name.startswith(("out", ".out")) for p in folder.iterdir())


def test_input_errors_write_nothing(model, mito, tmp_path):
    fasta, vcf = mito
    out = tmp_path / "out.vcf.gz"
    with pytest.raises(InputFormatError, match=r"contig 'chrM' is not in the reference"):
        _score(model, fasta, vcf, out, contig_aliases=None)
    assert _nothing_written(tmp_path)
    bad = edit_vcf(vcf, tmp_path / "bad.vcf", lambda n, line: "\t".join(line.split("\t")[:3]) if n == 900 else line)
    with pytest.raises(InputFormatError, match=r"malformed VCF record at line 910 \(record 900\)"):
        _score(model, fasta, bad, out)
    assert _nothing_written(tmp_path)
    compressed = tmp_path / "in.vcf.gz"
    pysam.tabix_compress(str(vcf), str(compressed))
    with pytest.raises(InputFormatError, match="needs an index"):
        _score(model, fasta, compressed, out, region="chrM:1-1000")
    assert _nothing_written(tmp_path)


def test_bad_options_fail_before_work(model, mito, tmp_path):
    fasta, vcf = mito
    with pytest.raises(ConfigError, match="should end with one of"):
        _score(model, fasta, vcf, tmp_path / "out.tsv")
    with pytest.raises(ConfigError, match="label kind"):
        _score(model, fasta, vcf, tmp_path / "out.vcf", label_kind="ranking")
    with pytest.raises(ConfigError, match="is the input file"):
        _score(model, fasta, vcf, vcf)
