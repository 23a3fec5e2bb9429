"""Builds src/mmfuse/data/imagenet_hierarchy.tsv: each ImageNet-1k class with its WordNet text.

mmfuse's image encoder turns ImageNet probabilities into free-text labels (ConSE) and coarse
concepts; both need, per class, more words than the class name alone: synonyms, the WordNet
gloss, the hypernym chain ("tabby: a kind of domestic cat, cat, feline, carnivore, ...") and
the coarse categories it falls under (animal, bird, vehicle, food, ...). WordNet is needed only
to run this script, never at mmfuse run time.

WordNet 3.0 is Debian's ``wordnet-base`` package (``apt-get install -y wordnet-base``); its
noun database ``data.noun`` is addressed by byte offset, and an ImageNet wnid ``n01440764`` is
the noun synset at offset 01440764. The class order and wnids come from timm's ImageNetInfo,
the order of every ImageNet-1k classifier.

Usage: python scripts/build_imagenet_hierarchy.py [--wordnet /usr/share/wordnet] [-o OUT.tsv]
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path

from timm.data import ImageNetInfo

DEFAULT_WORDNET = Path("/usr/share/wordnet")
DEFAULT_OUT = (
    Path(__file__).resolve().parents[1] / "src" / "mmfuse" / "data" / "imagenet_hierarchy.tsv"
)

# Coarse concept -> WordNet 3.0 noun synsets (offset, a lemma checked at build time) whose
# descendants it names. Order is from general to specific; a class gets every one that applies.
COARSE_ANCHORS: dict[str, tuple[tuple[str, str], ...]] = {
    "animal": (("00015388", "animal"),),
    "mammal": (("01861778", "mammal"),),
    "bird": (("01503061", "bird"),),
    "fish": (("02512053", "fish"),),
    "reptile": (("01661091", "reptile"),),
    "amphibian": (("01627424", "amphibian"),),
    "insect": (("02159955", "insect"),),
    "invertebrate": (("01905661", "invertebrate"),),
    "dog": (("02084071", "dog"),),
    "wild dog": (("02115335", "wild_dog"), ("02114100", "wolf"), ("02118333", "fox")),
    "cat": (("02120997", "feline"),),
    "bear": (("02131653", "bear"),),
    "primate": (("02469914", "primate"),),
    "hoofed mammal": (("02370806", "hoofed_mammal"),),
    "rodent": (("02329401", "rodent"),),
    "person": (("00007846", "person"),),
    "vehicle": (("04524313", "vehicle"),),
    "motor vehicle": (("03791235", "motor_vehicle"),),
    "boat": (("04530566", "vessel"),),
    "aircraft": (("02686568", "aircraft"),),
    "food": (("00021265", "food"), ("07555863", "food")),
    "fruit": (("13134947", "fruit"),),
    "vegetable": (("07707451", "vegetable"),),
    "plant": (("00017222", "plant"),),
    "flower": (("11669921", "flower"),),
    "fungus": (("12992868", "fungus"),),
    "building": (("02913152", "building"),),
    "structure": (("04341686", "structure"),),
    "furniture": (("03405725", "furniture"),),
    "clothing": (("03051540", "clothing"),),
    "musical instrument": (("03800933", "musical_instrument"),),
    "container": (("03094503", "container"),),
    "device": (("03183080", "device"),),
    "tool": (("04451818", "tool"),),
    "sports equipment": (("04285146", "sports_equipment"),),
    "landscape": (("09287968", "geological_formation"),),
}

# Coarse concept -> concepts that overrule it: WordNet files every wheeled vehicle under
# "container" too (it carries things), which is not what a person calls a car or a bicycle.
COARSE_OVERRULED_BY = {"container": ("vehicle",)}

# Synsets too general to describe anything: the hypernym chain written to the table stops
# before the first of these (it keeps "animal" and "device", drops "organism", "artifact").
GENERIC_STOPS = frozenset(
    {
        "00001740",  # entity
        "00001930",  # physical entity
        "00002137",  # abstraction
        "00002684",  # object, physical object
        "00003553",  # whole, unit
        "00004258",  # living thing
        "00004475",  # organism, being
        "00021939",  # artifact, artefact
        "00020827",  # matter
        "00019613",  # substance
        "00002452",  # thing (physical)
        "04424418",  # thing
        "00007347",  # causal agent
    }
)

# ImageNet classes whose wnid names another sense of the word than its images show: the
# class's images -> the synset that describes them (n07930864 is "cup", a punch drink; the
# class holds tea cups).
SENSE_FIXES = {"n07930864": "03147509"}

# The table's columns, in order (tab-separated, "|" between items of one cell).
COLUMNS = ("index", "wnid", "name", "synonyms", "gloss", "ancestors", "coarse")


@dataclass(frozen=True)
class Synset:
    """One WordNet noun synset.

    Attributes:
        offset: the 8-digit byte offset in data.noun that identifies it.
        lemmas: its words, underscores turned to spaces, in WordNet's order.
        hypernyms: offsets of its hypernyms and instance hypernyms, the first one first.
        gloss: its definition, without the quoted usage examples.
    """

    offset: str
    lemmas: tuple[str, ...]
    hypernyms: tuple[str, ...]
    gloss: str


def parse_data_noun(path: Path) -> dict[str, Synset]:
    """Every synset of WordNet's data.noun (format: wndb(5WN), one synset per line)."""
    synsets: dict[str, Synset] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("  "):  # the licence header
                continue
            fields, _, gloss = line.partition(" | ")
            parts = fields.split()
            n_words = int(parts[3], 16)
            lemmas = tuple(parts[4 + 2 * i].replace("_", " ") for i in range(n_words))
            at = 4 + 2 * n_words
            n_pointers = int(parts[at])
            pointers = [parts[at + 1 + 4 * i : at + 5 + 4 * i] for i in range(n_pointers)]
            hypernyms = tuple(p[1] for p in pointers if p[0] in ("@", "@i") and p[2] == "n")
            definition = gloss.split('; "')[0].strip().rstrip(";").strip()
            synsets[parts[0]] = Synset(parts[0], lemmas, hypernyms, definition)
    return synsets


def ancestors(offset: str, synsets: dict[str, Synset]) -> set[str]:
    """All hypernyms of a synset along every path, transitively."""
    seen: set[str] = set()
    todo = list(synsets[offset].hypernyms)
    while todo:
        parent = todo.pop()
        if parent not in seen:
            seen.add(parent)
            todo.extend(synsets[parent].hypernyms)
    return seen


def first_chain(offset: str, synsets: dict[str, Synset]) -> list[str]:
    """The first-hypernym path upward from a synset's parent, stopping at GENERIC_STOPS."""
    chain = []
    current = synsets[offset]
    while current.hypernyms and current.hypernyms[0] not in GENERIC_STOPS:
        current = synsets[current.hypernyms[0]]
        chain.append(current.lemmas[0])
    return chain


def check_anchors(synsets: dict[str, Synset]) -> None:
    """Fails loudly if an anchor offset does not hold the lemma it claims (a typo guard)."""
    for concept, anchors in COARSE_ANCHORS.items():
        for offset, lemma in anchors:
            if lemma.replace("_", " ") not in synsets[offset].lemmas:
                raise SystemExit(f"anchor {offset} of '{concept}' is not '{lemma}'")


def build_rows(synsets: dict[str, Synset]) -> list[dict[str, str]]:
    """One row per ImageNet-1k class, in classifier order."""
    info = ImageNetInfo()
    rows = []
    for index in range(info.num_classes()):
        wnid = info.index_to_label_name(index)
        synset = synsets[SENSE_FIXES.get(wnid, wnid[1:])]
        above = ancestors(synset.offset, synsets) | {synset.offset}
        found = {
            concept
            for concept, anchors in COARSE_ANCHORS.items()
            if any(offset in above for offset, _ in anchors)
        }
        coarse = [
            concept
            for concept in COARSE_ANCHORS
            if concept in found and not found & set(COARSE_OVERRULED_BY.get(concept, ()))
        ]
        rows.append(
            {
                "index": str(index),
                "wnid": wnid,
                "name": synset.lemmas[0],
                "synonyms": "|".join(synset.lemmas[1:]),
                "gloss": synset.gloss,
                "ancestors": "|".join(first_chain(synset.offset, synsets)),
                "coarse": "|".join(coarse),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wordnet", type=Path, default=DEFAULT_WORDNET, help="WordNet dict dir")
    parser.add_argument("-o", "--out", type=Path, default=DEFAULT_OUT, help="output TSV")
    args = parser.parse_args(argv)
    data_noun = args.wordnet / "data.noun"
    if not data_noun.is_file():
        print(f"{data_noun} not found: apt-get install -y wordnet-base", file=sys.stderr)
        return 2
    synsets = parse_data_noun(data_noun)
    check_anchors(synsets)
    rows = build_rows(synsets)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} classes to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
