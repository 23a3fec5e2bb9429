"""Measures the wildlife pipeline on the development data: what the README and issue report.

    python scripts/eval_wildlife.py --out DIR [--only speciesnet,squirrel,zamba,zebra,borneo]

- speciesnet: category and species per image, with the five species as plain names and with
  short descriptions;
- squirrel: events, species and the mean IoU of the boxes with the YOLO labels;
- zamba: the species of each video from the four in the file names;
- zebra: the rendered zebras of ``sample_data/wildlife`` ranked against a list whose zebra
  entry is a name the text model does not know ("punda milia", Swahili), plain and described;
- borneo: few-shot (k examples per species from ``--examples``) against zero-shot on the rest;
- borneo_many: zero-, few- and many-shot (a species head trained with ``mmfuse train`` on a
  labelled run) on one half, the other half being the examples and the training files;
- versus_label: species accuracy of ``mmfuse run wildlife`` against ``mmfuse label`` with the
  same names, file for file, on every labelled image set (``LABELLED_SETS``; the integration
  test ``test_wildlife_never_worse_than_label`` uses the same function);
- borneo_loco: few-shot against zero-shot, leave one camera station out (the examples come
  from the other stations).

Writes ``DIR/evaluation.json`` and prints the numbers; runs ``mmfuse run wildlife`` in-process.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmfuse import cli, config
from mmfuse.tasks.wildlife.boxes import iou, parse_boxes

ROOT = Path(__file__).resolve().parents[1]
SPECIESNET = {
    "african_elephants": "African elephant",
    "american_black_bear": "American black bear",
    "domestic_cattle": "domestic cattle",
    "domestic_dog": "domestic dog",
    "ocelot": "ocelot",
}
SPECIESNET_DESCRIBED = (
    "African elephant: a very large grey animal with a trunk and tusks\n"
    "American black bear: a large black bear\n"
    "domestic cattle: a cow, bull or ox\n"
    "domestic dog: a dog\n"
    "ocelot: a small wild cat with a spotted coat\n"
)
EXPECTED_CATEGORY = {"blank": "blank", "blank2": "blank", "blank3": "blank", "human": "person"}
ZAMBA = ("baboon", "eland", "hyena", "chimpanzee")
ZEBRA_LIST = ("African elephant", "giraffe", "lion", "warthog", "wildebeest")
BORNEO = {
    "leopard_cat": "leopard cat",
    "mouse_deer": "mouse deer",
    "pig-tailed_macaque": "pig-tailed macaque",
    "moonrat": "moonrat",
    "malay_civet": "Malay civet",
}
BORNEO_SHOTS = 3


@dataclass(frozen=True)
class LabelledSet:
    """A labelled image set of ``../shared/data`` and the species list it is named with.

    Attributes:
        folder: the set's folder under the data folder (the run's input).
        names: the species list, as a user would write it for this survey.
        truth: file (relative to ``folder``) -> its species, for the labelled animal files.
        flags: extra ``mmfuse run wildlife`` flags.
    """

    folder: str
    names: tuple[str, ...]
    truth: dict[str, str]
    flags: tuple[str, ...] = ()


def labelled_sets(data: Path) -> dict[str, LabelledSet]:
    """The labelled image sets with their truth (read from their label files)."""
    images = data / "images"
    sets = {}
    with open(images / "camtrapr_borneo" / "labels.csv", encoding="utf-8", newline="") as stream:
        borneo = {
            r["file"].removeprefix("images/"): BORNEO[r["label"]]
            for r in csv.DictReader(stream)
            if r["label"] in BORNEO
        }
    sets["borneo"] = LabelledSet("images/camtrapr_borneo/images", tuple(BORNEO.values()), borneo)
    speciesnet = {
        p.name: name
        for p in sorted((images / "speciesnet").glob("*.jpg"))
        for key, name in SPECIESNET.items()
        if p.stem.startswith(key) and "truncated" not in p.stem
    }
    sets["speciesnet"] = LabelledSet("images/speciesnet", tuple(SPECIESNET.values()), speciesnet)
    with open(images / "camtrapdp_example" / "labels.csv", encoding="utf-8", newline="") as f:
        # the package's heron is "Ardea" (genus); its deployment's herons are Ardea cinerea
        herons = {r["file"].removeprefix("media/"): "grey heron" for r in csv.DictReader(f)}
    # the common names of the species the example package's observations hold
    camtrapdp = (
        "mallard",
        "grey heron",
        "brown rat",
        "gadwall",
        "European polecat",
        "stone marten",
        "red fox",
    )
    sets["camtrapdp"] = LabelledSet("images/camtrapdp_example/media", camtrapdp, herons)
    burst = images / "squirrel_sequence" / "data_example" / "images"
    squirrels = {str(p.relative_to(burst)): "squirrel" for p in sorted(burst.rglob("*.jpg"))}
    sets["squirrel"] = LabelledSet(
        "images/squirrel_sequence/data_example/images",
        ("squirrel", "chipmunk", "rabbit", "raccoon", "bird"),
        squirrels,
        ("--cameras", "input"),
    )
    return sets


def label_rows(folder: Path, out: Path, names: Sequence[str]) -> dict[str, str]:
    """``mmfuse label`` on ``folder`` with ``names``: file (relative to ``folder``) -> its top
    label."""
    out.mkdir(parents=True, exist_ok=True)
    table = out / "labels.csv"
    argv = ["label", str(folder), "--labels", ",".join(names), "-o", str(table)]
    cli.main([*argv, "--overwrite", "--no-progress", "-q"])
    with open(table, encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    found = {}
    for row in rows:
        path = Path(row["file"])
        path = path if path.is_absolute() else Path.cwd() / path
        try:
            found[str(path.resolve().relative_to(folder.resolve()))] = row["top_label"]
        except ValueError:
            continue
    return found


def versus_label(data: Path, out: Path, only: Sequence[str] = ()) -> dict:
    """Per labelled set: files right by the wildlife task and by ``mmfuse label`` with the same
    names, and the files where each is right and the other wrong."""
    results = {}
    for name, labelled in labelled_sets(data).items():
        if only and name not in only:
            continue
        folder = data / labelled.folder
        text = "\n".join(labelled.names) + "\n"
        rows = run(folder, out / f"versus-{name}", text, *labelled.flags)
        wildlife = {r["file"]: r["species"] for r in rows}
        outside = sorted({s for s in wildlife.values() if s and s not in labelled.names})
        label = label_rows(folder, out / f"versus-{name}-label", labelled.names)
        truth = labelled.truth
        wild_right = {f for f, t in truth.items() if wildlife.get(f) == t}
        label_right = {f for f, t in truth.items() if label.get(f) == t}
        results[name] = {
            "files": len(truth),
            "names": len(labelled.names),
            "wildlife": len(wild_right),
            "label": len(label_right),
            "only_wildlife": sorted(wild_right - label_right),
            "only_label": sorted(label_right - wild_right),
            "called_blank": sorted(f for f in truth if not wildlife.get(f)),
            "outside_list": outside,
        }
    return results


def borneo_loco(data: Path, out: Path, shots: Sequence[int] = (2, 5), repeats: int = 3) -> dict:
    """Few-shot against zero-shot with leave one camera station out: for each station, ``k``
    examples of each species from the other stations (``repeats`` random draws); scored on the
    held-out station's files (a file called blank counts as wrong). A species seen at one
    station only has no examples when that station is held out."""
    labelled = labelled_sets(data)["borneo"]
    folder = data / labelled.folder
    text = "\n".join(labelled.names) + "\n"
    stations = sorted({f.split("/")[0] for f in labelled.truth})
    results: dict = {"zero_shot": {}, **{f"few_shot_{k}": {} for k in shots}}
    for station in stations:
        held = {f: t for f, t in labelled.truth.items() if f.startswith(station + "/")}
        rows = run(folder / station, out / f"loco-{station}-zero", text)
        right = sum(r["species"] == held.get(f"{station}/{r['file']}") for r in rows)
        results["zero_shot"][station] = [right, len(held)]
        others = sorted(f for f in labelled.truth if f not in held)
        for k in shots:
            scores = []
            for repeat in range(repeats):
                rng = random.Random(repeat)
                pool = others[:]
                rng.shuffle(pool)
                examples = out / f"loco-{station}-examples-{k}-{repeat}"
                taken: dict[str, int] = defaultdict(int)
                for f in pool:
                    species = labelled.truth[f]
                    if taken[species] < k:
                        taken[species] += 1
                        _link(folder / f, examples / species.replace(" ", "_") / Path(f).name)
                rows = run(
                    folder / station,
                    out / f"loco-{station}-few-{k}-{repeat}",
                    text,
                    "--examples",
                    str(examples),
                )
                scores.append(sum(r["species"] == held.get(f"{station}/{r['file']}") for r in rows))
            results[f"few_shot_{k}"][station] = [float(np.mean(scores)), len(held)]
    for key, per in list(results.items()):
        right = sum(v[0] for v in per.values())
        total = sum(v[1] for v in per.values())
        results[key]["all"] = round(right / total, 3)
    return results


def run(folder: Path, out: Path, species_text: str, *extra: str) -> list[dict]:
    """``mmfuse run wildlife`` on ``folder`` with a species list; the result rows."""
    out.mkdir(parents=True, exist_ok=True)
    species = out.parent / f"{out.name}-species.txt"
    species.write_text(species_text, encoding="utf-8")
    argv = ["run", "wildlife", str(folder), "--species", str(species), "-o", str(out)]
    cli.main([*argv, "--overwrite", "--no-cache", "--no-progress", "-q", *extra])
    with open(out / "results.csv", encoding="utf-8-sig", newline="") as stream:
        return list(csv.DictReader(stream))


def speciesnet(data: Path, out: Path) -> dict:
    results = {}
    for variant, text in (
        ("plain", "\n".join(SPECIESNET.values()) + "\n"),
        ("described", SPECIESNET_DESCRIBED),
    ):
        rows = run(data / "images" / "speciesnet", out / f"speciesnet-{variant}", text)
        table = {r["id"]: r for r in rows}
        right = [table[k]["species"] == v for k, v in SPECIESNET.items()]
        results[variant] = {
            "animals_right": int(sum(right)),
            "animals_top_ranked": sum(
                table[k]["top_species"].startswith(v + " ") for k, v in SPECIESNET.items()
            ),
            "categories": {k: table[k]["category"] for k in table if k != "README"},
            "category_right": {
                k: table[k]["category"] == v
                for k, v in {**EXPECTED_CATEGORY, "vehicle": "vehicle"}.items()
            },
            "damaged": {
                k: table[k]["species"] or table[k]["error"]
                for k in table
                if k.startswith("african_elephants_")
            },
            "rows": [
                {c: r[c] for c in ("id", "category", "species", "species_score", "count", "error")}
                for r in rows
                if r["id"] != "README"
            ],
        }
    return results


def squirrel(data: Path, out: Path) -> dict:
    folder = data / "images" / "squirrel_sequence" / "data_example"
    rows = run(
        folder / "images",
        out / "squirrel",
        "squirrel\nchipmunk\nrabbit\nraccoon\nbird\n",
        "--cameras",
        "input",
    )
    ious = []
    for row in rows:
        label = folder / "labels" / (row["file"].removesuffix(".jpg") + ".txt")
        truth = []
        for line in label.read_text().splitlines():
            cx, cy, w, h = (float(v) for v in line.split()[1:5])
            truth.append((cx - w / 2, cy - h / 2, w, h))
        found = parse_boxes(row["boxes"])
        ious += [max([iou(t, b) for b in found] or [0.0]) for t in truth]
    return {
        "files": len(rows),
        "events": len({r["event_id"] for r in rows}),
        "squirrel": sum(r["species"] == "squirrel" for r in rows),
        "mean_iou": round(float(np.mean(ious)), 3),
        "labelled_boxes": len(ious),
    }


def zamba(data: Path, out: Path) -> dict:
    rows = run(data / "video" / "zamba", out / "zamba", "\n".join(ZAMBA) + "\n")
    found = {}
    for row in rows:
        truth = next(
            s
            for s in ZAMBA
            if s in row["file"].lower() or (s == "chimpanzee" and "chimp" in row["file"].lower())
        )
        found[row["file"]] = {
            "truth": truth,
            "species": row["species"],
            "top": row["top_species"],
            "category": row["category"],
        }
    return {"right": sum(v["truth"] == v["species"] for v in found.values()), "videos": found}


def zebra(out: Path) -> dict:
    folder = ROOT / "sample_data" / "wildlife" / "survey"
    results = {}
    for variant, entry in (
        ("plain", "punda milia"),
        ("described", "punda milia: a horse with black and white stripes"),
        ("zebra, described", "zebra: a horse with black and white stripes"),
    ):
        text = "\n".join((entry, *ZEBRA_LIST)) + "\n"
        rows = run(folder, out / f"zebra-{variant.replace(', ', '-')}", text)
        animals = [r for r in rows if r["category"] == "animal"]
        first = sum(r["top_species"].startswith(entry.split(":")[0] + " ") for r in animals)
        results[variant] = {"images": len(rows), "animal": len(animals), "zebra_first": first}
    return results


def _borneo_files(data: Path, seed: int) -> tuple[Path, dict[str, list[str]]]:
    """The Borneo folder and each species' files, shuffled with ``seed``."""
    folder = data / "images" / "camtrapr_borneo"
    with open(folder / "labels.csv", encoding="utf-8-sig", newline="") as stream:
        labels = [r for r in csv.DictReader(stream) if r["label"] in BORNEO]
    by_species = defaultdict(list)
    for row in labels:
        by_species[row["label"]].append(row["file"])
    rng = random.Random(seed)
    for _, files in sorted(by_species.items()):
        files.sort()
        rng.shuffle(files)
    return folder, dict(sorted(by_species.items()))


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        target.symlink_to(source)


def _top1(rows: list[dict], truth: dict[str, str]) -> float:
    """Share of the files whose first species in ``top_species`` is the true one."""
    top1 = [r["top_species"].split(";")[0].rsplit(" ", 1)[0] for r in rows]
    return round(float(np.mean([t == truth[r["id"]] for t, r in zip(top1, rows, strict=True)])), 3)


def borneo(data: Path, out: Path, seed: int = 0) -> dict:
    folder, by_species = _borneo_files(data, seed)
    examples, test = out / "borneo-examples", out / "borneo-test"
    truth = {}
    for label, files in by_species.items():
        for i, name in enumerate(files):
            source = folder / name
            if i < BORNEO_SHOTS:
                _link(source, examples / label / Path(name).name)
            else:
                target = test / f"{label}-{i:02d}{source.suffix}"
                _link(source, target)
                truth[target.stem] = BORNEO[label]
    text = "\n".join(BORNEO.values()) + "\n"
    zero = run(test, out / "borneo-zero", text)
    few = run(test, out / "borneo-few", text, "--examples", str(examples))
    score = {"zero_shot": _top1(zero, truth), "few_shot": _top1(few, truth)}
    return {"test_images": len(truth), "shots": BORNEO_SHOTS, **score}


def borneo_many(data: Path, out: Path, seeds: int = 5) -> dict:
    """Zero-, few- and many-shot on random halves of the Borneo thumbnails (``half_split``),
    and their means over ``seeds`` splits."""
    splits = [half_split(data, out / f"borneo-half-{seed}", seed) for seed in range(seeds)]
    means = {
        name: round(float(np.mean([s[name] for s in splits])), 3)
        for name in ("zero_shot", "few_shot", "many_shot")
    }
    return {"splits": splits, "mean": means}


def half_split(data: Path, half: Path, seed: int) -> dict:
    """Zero-, few- and many-shot on one test half of the Borneo thumbnails: the other half is
    both the examples (few-shot) and the labelled run a species head is trained on."""
    folder, by_species = _borneo_files(data, seed)
    truth, labels = {}, ["id,species"]
    for label, files in by_species.items():
        for i, name in enumerate(files):
            source = folder / name
            if i < (len(files) + 1) // 2:
                _link(source, half / "examples" / label / Path(name).name)
                _link(source, half / "train" / f"{label}-{i:02d}{source.suffix}")
                labels.append(f"{label}-{i:02d},{BORNEO[label]}")
            else:
                target = half / "test" / f"{label}-{i:02d}{source.suffix}"
                _link(source, target)
                truth[target.stem] = BORNEO[label]
    (half / "labels.csv").write_text("\n".join(labels) + "\n", encoding="utf-8")
    text = "\n".join(BORNEO.values()) + "\n"
    run(half / "train", half / "past", text)
    train = ["train", "--labels", str(half / "labels.csv"), "--data", str(half / "past")]
    cli.main([*train, "--out", str(half / "head"), "--overwrite"])
    record = json.loads((half / "head" / "training.json").read_text(encoding="utf-8"))
    rows = {
        "zero_shot": run(half / "test", half / "zero", text),
        "few_shot": run(half / "test", half / "few", text, "--examples", str(half / "examples")),
        "many_shot": run(half / "test", half / "many", text, "--model", str(half / "head")),
    }
    return {
        "seed": seed,
        "train_images": len(labels) - 1,
        "test_images": len(truth),
        "head_trained_on": record["labelled"],
        "head_kept": record["kept"],
        **{name: _top1(found, truth) for name, found in rows.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--only",
        default="speciesnet,squirrel,zamba,zebra,borneo,borneo_many,versus_label,borneo_loco",
    )
    args = parser.parse_args(argv)
    data = config.shared_data_dir()
    report = {}
    for name in args.only.split(","):
        if name == "zebra":
            report[name] = zebra(args.out)
        else:
            report[name] = globals()[name](data, args.out)
        print(name, json.dumps(report[name], indent=1)[:3000])
    (args.out / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
