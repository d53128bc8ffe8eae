"""Taxonomic ranks from a GenBank lineage.

A GenBank ORGANISM lineage is a list of taxon names without rank names, so ranks are recognised by
the nomenclature codes' suffixes plus a short list of well-known names whose rank the suffix does not
give. ``genus`` is the first word of the ORGANISM name (the lineage often stops above it), checked
against the lineage when the lineage holds it. A record whose lineage does not show the rank gets no
label (the builder skips it, counted as ``no <rank> in lineage``).
"""

from __future__ import annotations

RANKS = ("superkingdom", "kingdom", "phylum", "class", "order", "family", "genus")

_DOMAINS = {"Eukaryota", "Bacteria", "Archaea", "Viruses"}
_KINGDOMS = {"Metazoa", "Viridiplantae", "Fungi", "Rhodophyta", "Heunggongvirae", "Orthornavirae",
             "Bamfordvirae", "Shotokuvirae", "Pararnavirae", "Stramenopiles", "Alveolata", "Amoebozoa"}
_PHYLA = {"Chordata", "Arthropoda", "Mollusca", "Nematoda", "Annelida", "Cnidaria", "Porifera",
          "Echinodermata", "Platyhelminthes", "Rotifera", "Tardigrada", "Streptophyta", "Chlorophyta",
          "Proteobacteria", "Pseudomonadota", "Firmicutes", "Bacillota", "Actinobacteria",
          "Actinomycetota", "Bacteroidetes", "Bacteroidota", "Spirochaetes", "Spirochaetota",
          "Cyanobacteria", "Tenericutes", "Chlamydiae", "Euryarchaeota", "Crenarchaeota",
          "Ascomycota", "Basidiomycota", "Apicomplexa", "Ciliophora", "Euglenozoa"}
_CLASSES = {"Mammalia", "Aves", "Reptilia", "Amphibia", "Actinopteri", "Actinopterygii",
            "Chondrichthyes", "Insecta", "Arachnida", "Malacostraca", "Branchiopoda", "Gastropoda",
            "Bivalvia", "Cephalopoda", "Chromadorea", "Enoplea", "Bacilli", "Clostridia",
            "Mollicutes", "Spirochaetia", "Leptospirae", "Actinomycetes", "Lepidosauria"}
_ORDERS = {"Primates", "Rodentia", "Carnivora", "Artiodactyla", "Cetartiodactyla", "Chiroptera",
           "Lagomorpha", "Perissodactyla", "Proboscidea", "Sirenia", "Squamata", "Testudines",
           "Crocodylia", "Anura", "Caudata", "Araneae", "Odonata", "Mantodea", "Blattodea",
           "Phasmatodea", "Decapoda", "Scorpiones", "Rhabditida", "Diptera", "Hymenoptera"}
_NOT_ORDERS = {"Neoptera", "Paraneoptera", "Polyneoptera", "Endopterygota", "Holometabola"}
_NOT_GENUS = {"uncultured", "unidentified", "unclassified", "synthetic", "unknown", "environmental"}


def rank_from_lineage(lineage: tuple[str, ...] | list[str], organism: str, rank: str) -> str | None:
    """The taxon at ``rank`` for a record, or ``None`` when its lineage does not show it.

    Args:
        lineage: the ORGANISM lineage, highest taxon first (``()`` when unclassified).
        organism: the ORGANISM name (binomial for cellular life).
        rank: one of :data:`RANKS`.

    Raises:
        ValueError: ``rank`` is not one of :data:`RANKS`.
    """
    if rank not in RANKS:
        raise ValueError(f"rank must be one of {', '.join(RANKS)}, got {rank!r}")
    lineage = [taxon for taxon in lineage if taxon]
    if rank == "genus":
        return _genus(lineage, organism)
    if not lineage:
        return None
    matches = [taxon for taxon in lineage if _is_rank(taxon, rank)]
    if not matches:
        return None
    # The highest matching taxon for broad ranks, the lowest for narrow ones (sub-ranks share suffixes).
    return matches[0] if rank in ("superkingdom", "kingdom", "phylum", "class") else matches[-1]


def _is_rank(taxon: str, rank: str) -> bool:
    if " " in taxon:
        return False
    if rank == "superkingdom":
        return taxon in _DOMAINS
    if rank == "kingdom":
        return taxon in _KINGDOMS
    if rank == "phylum":
        return taxon in _PHYLA or taxon.endswith(("mycota", "viricota"))
    if rank == "class":
        return taxon in _CLASSES or taxon.endswith(("opsida", "phyceae", "mycetes", "proteobacteria",
                                                    "viricetes"))
    if rank == "order":
        return taxon not in _NOT_ORDERS and (taxon in _ORDERS or taxon.endswith(
            ("ales", "formes", "ptera", "virales")))
    return taxon.endswith(("idae", "aceae")) and not taxon.endswith("oideae")  # family


def _genus(lineage: list[str], organism: str) -> str | None:
    words = organism.split()
    if words and words[0] == "Candidatus" and len(words) > 1:
        words = words[1:]
    if lineage and lineage[0] == "Viruses":
        viral = [taxon for taxon in lineage if taxon.endswith("virus") and " " not in taxon]
        return viral[-1] if viral else None
    if not words or words[0].lower() in _NOT_GENUS or not words[0][:1].isupper() or not words[0].isalpha():
        return None
    return words[0]
