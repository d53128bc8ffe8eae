"""Ranks from GenBank lineages."""

from __future__ import annotations

import pytest

from genomix.datasets.ranks import rank_from_lineage

ORCHID = ("Eukaryota", "Viridiplantae", "Streptophyta", "Embryophyta", "Tracheophyta", "Spermatophyta",
          "Magnoliophyta", "Liliopsida", "Asparagales", "Orchidaceae", "Cypripedioideae", "Cypripedium")
FLY = ("Eukaryota", "Metazoa", "Arthropoda", "Hexapoda", "Insecta", "Pterygota", "Neoptera",
       "Endopterygota", "Diptera", "Brachycera", "Muscomorpha", "Ephydroidea", "Drosophilidae", "Drosophila")
FLU = ("Viruses", "ssRNA negative-strand viruses", "Orthomyxoviridae", "Influenzavirus A")


@pytest.mark.parametrize("lineage, organism, rank, expected", [
    (ORCHID, "Cypripedium irapeanum", "genus", "Cypripedium"),
    (ORCHID[:-1], "Cypripedium irapeanum", "genus", "Cypripedium"),   # lineage lacks the genus
    (ORCHID, "Cypripedium irapeanum", "family", "Orchidaceae"),
    (ORCHID, "Cypripedium irapeanum", "order", "Asparagales"),
    (ORCHID, "Cypripedium irapeanum", "class", "Liliopsida"),
    (ORCHID, "Cypripedium irapeanum", "phylum", "Streptophyta"),
    (ORCHID, "Cypripedium irapeanum", "kingdom", "Viridiplantae"),
    (ORCHID, "Cypripedium irapeanum", "superkingdom", "Eukaryota"),
    (FLY, "Drosophila melanogaster", "order", "Diptera"),
    (FLY, "Drosophila melanogaster", "family", "Drosophilidae"),
    (FLY, "Drosophila melanogaster", "class", "Insecta"),
    (FLU, "Influenza A virus (A/Quail/Hong Kong/NT28/99(H9N2))", "family", "Orthomyxoviridae"),
    ((), "Homo sapiens", "family", None),                              # Unclassified lineage
    ((), "synthetic DNA construct", "genus", None),
    (ORCHID, "uncultured bacterium", "genus", None),
])
def test_ranks(lineage, organism, rank, expected):
    assert rank_from_lineage(lineage, organism, rank) == expected


def test_unknown_rank():
    with pytest.raises(ValueError, match="rank must be one of"):
        rank_from_lineage(ORCHID, "x y", "tribe")
