"""The variant-effect builder on real data: MITOMAP + rCRS, Kircher 2019 MPRA, and edited copies."""

from __future__ import annotations

import re

import numpy as np
import pytest
from variant_files import MITO_ALIAS, copy_mito, copy_mpra, edit_vcf, read_fasta_sequence

from genomix.alphabet import DNA
from genomix.datasets.store import open_dataset
from genomix.datasets.variants import build_variant_dataset, parse_label_map
from genomix.errors import ConfigError, InputFormatError


@pytest.fixture
def mito(shared_data, tmp_path):
    return copy_mito(shared_data, tmp_path / "in")


def _build(fasta, vcf, out, **options):
    options.setdefault("label", "INFO/STATUS")
    options.setdefault("label_map", "Cfrm*=1,*=0")
    options.setdefault("contig_aliases", MITO_ALIAS)
    return build_variant_dataset(fasta, vcf, out, **options)


def _all_rows(path):
    """Every variant of every split: (id, ref window, alt window, meta dict, label)."""
    rows = []
    with open_dataset(path) as dataset:
        for name in dataset.split_names:
            split = dataset.split(name)
            columns = {c: split.meta(c) for c in split.meta_columns}
            for k in range(len(split)):
                rows.append((split.ids[k], DNA.decode(split[k]), DNA.decode(split.read_extra("alt", k)),
                             {c: v[k] for c, v in columns.items()}, split.labels[k], name))
    return rows


def _expected_window(sequence, pos, window):
    p = pos - 1
    start = max(0, p - window // 2)
    return start, sequence[start:min(len(sequence), p - window // 2 + window)]


def test_mitomap_build(mito, tmp_path):
    fasta, vcf = mito
    out = tmp_path / "mito.h5"
    summary = _build(fasta, vcf, out, window=256, seed=3)
    assert summary["records_read"] == 953 and summary["kept"] == 953
    assert summary["skipped"] == {}  # every REF matches rCRS
    assert summary["label_kind"] == "classification"
    assert {name: sum(c.values()) for name, c in summary["classes"].items()} == {"other": 859, "Cfrm*": 94}
    assert sum(summary["splits"].values()) == 953 and min(summary["splits"].values()) > 0
    with open_dataset(out) as dataset:
        assert dataset.task == "variant_effect" and dataset.classes == ["other", "Cfrm*"]
        assert dataset.attrs["label_kind"] == "classification" and dataset.attrs["window"] == 256
        split = dataset.split("train")
        assert {"alt_tokens", "alt_offsets"} <= set(split.extra_names)
        assert {"chrom", "pos", "ref", "alt", "group", "contig"} <= set(split.meta_columns)
    sequence = read_fasta_sequence(fasta)
    rows = _all_rows(out)
    assert len({row[0] for row in rows}) == 950  # MITOMAP lists 3 variants twice
    assert len({(row[0], row[5]) for row in rows}) == 950  # ... and each pair stays in one split
    for _, ref_window, _, meta, _, _ in rows:
        start, expected = _expected_window(sequence, int(meta["pos"]), 256)
        assert ref_window == expected and int(meta["window_start"]) == start
        offset = int(meta["variant_offset"])
        assert ref_window[offset:offset + len(meta["ref"])] == meta["ref"]


def test_insertion_and_clipping_base_by_base(mito, tmp_path):
    fasta, vcf = mito
    out = tmp_path / "mito.h5"
    _build(fasta, vcf, out, window=2048)
    sequence = read_fasta_sequence(fasta)
    rows = {row[0]: row for row in _all_rows(out)}
    # chrM:16018 T>TTCTCTGTTCTTTCAT, an insertion whose window is clipped at the contig's end
    _, ref_window, alt_window, meta, _, _ = rows["chrM:16018:T:TTCTCTGTTCTTTCAT"]
    p = 16018 - 1
    assert ref_window == sequence[p - 1024:] and len(ref_window) == 16569 - (p - 1024)
    assert alt_window == sequence[p - 1024:p] + "TTCTCTGTTCTTTCAT" + sequence[p + 1:]
    assert len(alt_window) - len(ref_window) == 15
    # chrM:114 C>T: clipped at the start, the variant at index 113
    _, ref_window, alt_window, meta, _, _ = rows["chrM:114:C:T"]
    assert ref_window == sequence[:113 + 1024] and int(meta["variant_offset"]) == 113
    assert alt_window == sequence[:113] + "T" + sequence[114:113 + 1024]


def test_one_corrupted_ref_is_one_mismatch(mito, tmp_path):
    fasta, vcf = mito

    def corrupt(number, line):  # record 5: chrM 195 T>C; REF T becomes A
        return line.replace("\t195\tMITOMAP206\tT\t", "\t195\tMITOMAP206\tA\t") if number == 5 else line

    bad = edit_vcf(vcf, tmp_path / "bad.vcf", corrupt)
    summary = _build(fasta, bad, tmp_path / "bad.h5", window=64)
    assert summary["skipped"] == {"ref_mismatch": 1} and summary["kept"] == 952
    assert "chrM:195" in summary["first_skipped"]["ref_mismatch"]
    with pytest.raises(InputFormatError, match=r"record 5 \(chrM:195\): REF 'A' but the reference .* has 'T' \(--strict\)"):
        _build(fasta, bad, tmp_path / "strict.h5", window=64, strict=True)
    assert not (tmp_path / "strict.h5").exists()


def test_missing_contig_is_a_clear_error(mito, tmp_path):
    fasta, vcf = mito
    with pytest.raises(InputFormatError, match=r"contig 'chrM' is not in the reference .*NC_012920\.1.*--contig-alias"):
        _build(fasta, vcf, tmp_path / "x.h5", contig_aliases=None)
    assert list(tmp_path.glob("*.h5")) == [] and list(tmp_path.glob(".*")) == []


def test_multiallelic_symbolic_and_deletion(mito, tmp_path):
    fasta, vcf = mito
    sequence = read_fasta_sequence(fasta)
    deletion_ref = sequence[999:1004]  # chrM:1000-1004, deleted down to its first base

    def edit(number, line):
        if number == 1:  # chrM 114 C>T becomes multi-allelic with symbolic ALTs
            return line.replace("\tC\tT\t", "\tC\tT,<DEL>,*,G\t")
        if number == 2:
            return f"chrM\t1000\tDEL1\t{deletion_ref}\t{deletion_ref[0]}\t.\t.\tSTATUS=Cfrm"
        return line

    edited = edit_vcf(vcf, tmp_path / "edited.vcf", edit)
    out = tmp_path / "edited.h5"
    summary = _build(fasta, edited, out, window=101)
    assert summary["skipped"] == {"symbolic_alt": 2}
    assert summary["alleles_read"] == 956 and summary["kept"] == 954
    rows = {row[0]: row for row in _all_rows(out)}
    assert {"chrM:114:C:T", "chrM:114:C:G"} <= set(rows)
    assert int(rows["chrM:114:C:G"][3]["allele"]) == 4 and rows["chrM:114:C:G"][3]["vcf_id"] == "MITOMAP205"
    _, ref_window, alt_window, meta, label, _ = rows[f"chrM:1000:{deletion_ref}:{deletion_ref[0]}"]
    assert ref_window == sequence[999 - 50:999 + 51]
    assert alt_window == sequence[999 - 50:1000] + sequence[1004:999 + 51]
    assert len(ref_window) - len(alt_window) == 4 and label == 1


def test_group_by_window_keeps_overlaps_together(mito, tmp_path):
    fasta, vcf = mito
    out = tmp_path / "grouped.h5"
    summary = _build(fasta, vcf, out, window=16, group_by=["window"], seed=1)
    spans = {}
    for _, ref_window, _, meta, _, split in _all_rows(out):
        spans.setdefault(split, []).append((int(meta["window_start"]), int(meta["window_start"]) + len(ref_window)))
    assert summary["groups"] < 953 and set(spans) == {"train", "valid", "test"}
    for a in ("train", "valid", "test"):
        for b in ("train", "valid", "test"):
            if a < b:
                assert not any(s1 < e2 and s2 < e1 for s1, e1 in spans[a] for s2, e2 in spans[b])


def test_categorical_classes_and_errors(mito, tmp_path):
    fasta, vcf = mito
    summary = _build(fasta, vcf, tmp_path / "c.h5", window=32, label_map=None, classes=["Reported", "Cfrm"])
    assert summary["kept"] == 785 + 82 and summary["skipped"] == {"label_not_in_classes": 953 - 867}
    summary = _build(fasta, vcf, tmp_path / "r.h5", window=32, label="INFO/GBFREQ", label_map=None)
    assert summary["label_kind"] == "regression" and summary["kept"] == 953
    with pytest.raises(ConfigError, match="declares no such INFO field"):
        _build(fasta, vcf, tmp_path / "x.h5", label="INFO/NOPE")
    for text in ("Cfrm", "Cfrm=1", "Cfrm=x,Reported=0", "Cfrm=2,Reported=0"):
        with pytest.raises(ConfigError, match="--label-map"):
            parse_label_map(text)
    with pytest.raises(ConfigError, match="--window"):
        _build(fasta, vcf, tmp_path / "x.h5", window=0)


def test_mpra_build_split_by_element(shared_data, tmp_path):
    fasta, vcf = copy_mpra(shared_data, tmp_path / "in")
    out = tmp_path / "mpra.h5"
    summary = build_variant_dataset(fasta, vcf, out, window=1024, label="INFO/COEF", element_field="ELEMENT",
                                    group_by=["INFO/ELEMENT", "window"], seed=0)
    assert summary["records_read"] == 44622 and summary["kept"] == 44621
    # the one skip: SORT1's left-anchored deletion at 1:109274651, one base before the SORT1 element
    assert summary["skipped"] == {"outside_reference": 1} and "1:109,274,651" in summary["first_skipped"]["outside_reference"]
    assert summary["label_kind"] == "regression" and min(summary["splits"].values()) > 0
    elements = {}
    deletion_checked = False
    with open_dataset(out) as dataset:
        assert dataset.attrs["label_kind"] == "regression" and dataset.classes is None
        for name in dataset.split_names:
            split = dataset.split(name)
            elements[name] = set(split.meta("contig"))
            assert split.labels.dtype == np.float32
            refs, alts, offsets = split.meta("ref"), split.meta("alt"), split.meta("variant_offset")
            k = int(np.flatnonzero([len(r) > len(a) for r, a in zip(refs, alts)])[0])
            ref_window, alt_window = DNA.decode(split[k]), DNA.decode(split.read_extra("alt", k))
            o = int(offsets[k])
            assert ref_window[o:o + len(refs[k])] == refs[k]
            assert alt_window == ref_window[:o] + alts[k] + ref_window[o + len(refs[k]):]
            deletion_checked = True
    assert deletion_checked
    assert not elements["train"] & elements["valid"] and not elements["train"] & elements["test"]
    assert not elements["valid"] & elements["test"]
    # overlapping elements (SORT1, SORT1.2, SORT1-flip) share a split through --group-by window
    assert any({"SORT1", "SORT1.2", "SORT1-flip"} <= names for names in elements.values())


def test_read_pairs_for_the_trainer(mito, tmp_path):
    from genomix.datasets.variant_batches import pair_lengths, read_pairs

    fasta, vcf = mito
    out = tmp_path / "mito.h5"
    _build(fasta, vcf, out, window=50)
    with open_dataset(out) as dataset:
        split = dataset.split("train")
        indices = np.array([5, 0, 7, 5])
        ref_tokens, ref_lengths, alt_tokens, alt_lengths = read_pairs(split, indices)
        assert ref_lengths.sum() == len(ref_tokens) and alt_lengths.sum() == len(alt_tokens)
        refs = np.split(ref_tokens, np.cumsum(ref_lengths)[:-1])
        alts = np.split(alt_tokens, np.cumsum(alt_lengths)[:-1])
        for k, ref, alt in zip(indices, refs, alts):
            np.testing.assert_array_equal(ref, split[k])
            np.testing.assert_array_equal(alt, split.read_extra("alt", k))
        lengths = pair_lengths(split)
        assert lengths[5] == ref_lengths[0] + alt_lengths[0]


def test_element_reference_errors(shared_data, tmp_path):
    fasta, vcf = copy_mpra(shared_data, tmp_path / "in")
    records = fasta.read_text().split(">")[1:]
    no_interval = tmp_path / "no_interval.fasta"
    no_interval.write_text("".join(">" + (r.split(" ", 1)[0] + "\n" + r.split("\n", 1)[1] if r.startswith("SORT1-flip ")
                                          else r) for r in records))
    with pytest.raises(InputFormatError, match=r"record 'SORT1-flip' has no genomic interval"):
        build_variant_dataset(no_interval, vcf, tmp_path / "x.h5", label="INFO/COEF", element_field="ELEMENT")
    without_sort1 = tmp_path / "without.fasta"
    without_sort1.write_text("".join(">" + r for r in records if not r.startswith("SORT1-flip ")))
    with pytest.raises(InputFormatError, match=r"record 1 \(1:109,274,651\): element \(INFO/ELEMENT\) 'SORT1-flip' "
                                               r"is not in the reference"):
        build_variant_dataset(without_sort1, vcf, tmp_path / "x.h5", label="INFO/COEF", element_field="ELEMENT")
    assert not (tmp_path / "x.h5").exists()


def test_weights_from_info_and_what_is_skipped(shared_data, tmp_path):
    """``weight``: each kept variant's ``meta/weight`` is its INFO value; a missing or negative one is skipped."""
    import gzip

    fasta, vcf = copy_mpra(shared_data, tmp_path / "in")
    lines = gzip.open(vcf, "rt").read().splitlines()
    header = [line for line in lines if line.startswith("#")]
    body = [line for line in lines if not line.startswith("#")][:600]
    body[10] = re.sub(r"BARCODES=\d+", "BARCODES=.", body[10])
    body[20] = re.sub(r"BARCODES=\d+", "BARCODES=-4", body[20])
    small = tmp_path / "small.vcf"
    small.write_text("\n".join(header + body) + "\n")
    expected = {}
    for line in body:
        chrom, pos, _, ref, alt, *_, info = line.split("\t")
        fields = dict(item.split("=") for item in info.split(";"))
        expected[f"{chrom}:{pos}:{ref}:{alt}@{fields['ELEMENT']}"] = fields["BARCODES"]
    out = tmp_path / "weighted.h5"
    summary = build_variant_dataset(fasta, small, out, window=64, label="INFO/COEF", element_field="ELEMENT",
                                    weight="INFO/BARCODES", seed=0)
    assert summary["skipped"].get("missing_weight") == 1 and summary["skipped"].get("bad_weight") == 1
    assert "(INFO weight -4)" in summary["first_skipped"]["bad_weight"]
    checked = 0
    with open_dataset(out) as dataset:
        assert dataset.attrs["weight_field"] == "BARCODES"
        for name in dataset.split_names:
            split = dataset.split(name)
            for variant, weight in zip(split.ids, split.meta("weight")):
                assert weight == float(expected[variant]) and weight >= 0
                checked += 1
    assert checked == summary["kept"] == len(body) - sum(summary["skipped"].values())  # one ALT per record
    plain = tmp_path / "plain.h5"
    build_variant_dataset(fasta, small, plain, window=64, label="INFO/COEF", element_field="ELEMENT", seed=0)
    with open_dataset(plain) as dataset:
        assert "weight" not in dataset.split("train").meta_columns and dataset.attrs["weight_field"] == ""
    with pytest.raises(ConfigError, match=r"--weight INFO/NOPE: .* declares no such INFO field"):
        build_variant_dataset(fasta, small, tmp_path / "x.h5", label="INFO/COEF", element_field="ELEMENT",
                              weight="INFO/NOPE")
    assert not (tmp_path / "x.h5").exists()
