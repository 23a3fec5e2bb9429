"""Measures the wildlife pipeline on the development data: what the README and issue report.

    python scripts/eval_wildlife.py --out DIR [--only speciesnet,squirrel,zamba,zebra,borneo]

- speciesnet: category and species per image, with the five species as plain names and with
  short descriptions;
- squirrel: events, species and the mean IoU of the boxes with the YOLO labels;
- zamba: the species of each video from the four in the file names;
- zebra: the rendered zebras of ``sample_data/wildlife`` ranked against a list whose zebra
  entry is a name the text model does not know ("punda milia", Swahili), plain and described;
- borneo: few-shot (k examples per species from ``--examples``) against zero-shot on the rest.

Writes ``DIR/evaluation.json`` and prints the numbers; runs ``mmfuse run wildlife`` in-process.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from collections import defaultdict
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


def run(folder: Path, out: Path, species_text: str, *extra: str) -> list[dict]:
    """``mmfuse run wildlife`` on ``folder`` with a species list; the result rows."""
    out.mkdir(parents=True, exist_ok=True)
    species = out.parent / f"{out.name}-species.txt"
    species.write_text(species_text, encoding="utf-8")
    argv = ["run", "wildlife", str(folder), "--species", str(species), "-o", str(out)]
    cli.main([*argv, "--overwrite", "--no-cache", "--no-progress", "-q", *extra])
    with open(out / "results.csv", encoding="utf-8", newline="") as stream:
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


def borneo(data: Path, out: Path, seed: int = 0) -> dict:
    folder = data / "images" / "camtrapr_borneo"
    with open(folder / "labels.csv", encoding="utf-8", newline="") as stream:
        labels = [r for r in csv.DictReader(stream) if r["label"] in BORNEO]
    by_species = defaultdict(list)
    for row in labels:
        by_species[row["label"]].append(row["file"])
    rng = random.Random(seed)
    examples, test = out / "borneo-examples", out / "borneo-test"
    for base in (examples, test):
        base.mkdir(parents=True, exist_ok=True)
    truth = {}
    for label, files in sorted(by_species.items()):
        files = sorted(files)
        rng.shuffle(files)
        (examples / label).mkdir(exist_ok=True)
        for i, name in enumerate(files):
            source = folder / name
            if i < BORNEO_SHOTS:
                target = examples / label / Path(name).name
            else:
                target = test / f"{label}-{i:02d}{source.suffix}"
                truth[target.stem] = BORNEO[label]
            if not target.exists():
                target.symlink_to(source)
    text = "\n".join(BORNEO.values()) + "\n"
    zero = run(test, out / "borneo-zero", text)
    few = run(test, out / "borneo-few", text, "--examples", str(examples))
    score = {}
    for name, rows in (("zero_shot", zero), ("few_shot", few)):
        top1 = [r["top_species"].split(";")[0].rsplit(" ", 1)[0] for r in rows]
        score[name] = round(
            float(np.mean([t == truth[r["id"]] for t, r in zip(top1, rows, strict=True)])), 3
        )
    return {"test_images": len(truth), "shots": BORNEO_SHOTS, **score}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--only", default="speciesnet,squirrel,zamba,zebra,borneo")
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
