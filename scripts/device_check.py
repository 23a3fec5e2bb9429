"""Every task on a device and on the CPU: a parity table and the throughput.

    python scripts/device_check.py cuda [--data ../shared/data] [--work DIR] [--tweets 20000]

Runs the commands a user runs (``mmfuse.cli.main``, in this process, so each device loads its
models once) on small real sets, once with ``--device DEVICE`` and once with ``--device cpu``,
each with a cache folder of its own and no results cache, then compares the two tables item
by item: the share of items whose labels agree (at least 99 % passes) and the largest
difference of each score (at most 0.01 of the score's range passes). The sets:
``sample_data/`` (posts with text, a photo, a voice note and a clip; four candidates with CVs
and interviews; the camera-trap survey) and, from ``--data`` when present, videos and photos
of camera traps, speech, and tweets for training. Training runs on each device from the same
labels; its parity is the evaluation of the CPU-trained model on both devices, and the two
models' held-out scores.

Throughput on DEVICE, after a warm-up, through the whole pipeline with its default batch size
(printed): social-media posts/s on ``--tweets`` text posts (against MiniLM alone, plain
sentence-transformers in batches of 256, when installed), wildlife photos/s on the camera-trap
photos, and seconds of audio transcribed per second. Prints markdown tables; ``--json`` also
writes them. Exit code 1 when a check fails or a command fails.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data"
LABEL_AGREEMENT = 0.99  # share of items whose labels agree
SCORE_TOLERANCE = 0.01  # of a score's range
TRAIN_TWEETS, TEST_TWEETS = 600, 300
LABELS = "temple,garden,headphones,phone,person,dog,food,city"
PHOTO_SETS = ("images/speciesnet", "images/camtrapdp_example", "images/camtrapr_borneo",
              "images/squirrel_sequence")  # fmt: skip


@dataclass
class Check:
    """One command on both devices, and how its tables compare.

    Attributes:
        name: the row of the parity table.
        argv: (work folder, device) -> the command line (without ``--device``).
        table: (work folder) -> the file whose rows are compared.
        labels: columns compared for equality.
        scores: column -> its range (1 for probabilities, 100 for 0-100 scores).
        needs: a path under ``--data`` the check needs (skipped without it).
        trains: the model the check's ``--model`` names, trained on the CPU first.
    """

    name: str
    argv: Callable[[Path, str], list[str]]
    table: Callable[[Path], Path]
    labels: tuple[str, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)
    needs: str | None = None
    trains: str | None = None


def run_flags(work: Path) -> list[str]:
    return [
        "--no-cache",
        "--no-report",
        "--no-progress",
        "--overwrite",
        "-q",
        "--cache-dir",
        str(work / "cache"),
    ]


def mmfuse(argv: list[str]) -> int:
    from mmfuse import cli

    return cli.main([str(a) for a in argv])


def read_rows(path: Path) -> dict[str, dict]:
    """Rows of a CSV or Parquet table by their first column (``id`` or ``file``)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        records = pq.read_table(path).to_pylist()
    else:
        with open(path, encoding="utf-8-sig", newline="") as stream:
            records = list(csv.DictReader(stream))
    key = "id" if records and "id" in records[0] else next(iter(records[0]), "id")
    keyed = {}
    for record in records:  # label's CSV: one row per frame of a file
        name = f"{record[key]}@{record.get('time', '')}"
        keyed[name] = record
    return keyed


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _difference(a, b) -> float | None:
    """|a - b| for numbers; 1 - cosine for embeddings; None where either is missing."""
    if isinstance(a, list | np.ndarray) and isinstance(b, list | np.ndarray):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        norms = np.linalg.norm(a) * np.linalg.norm(b)
        return None if norms == 0 else float(1 - a @ b / norms)
    x, y = _number(a), _number(b)
    return None if x is None or y is None else abs(x - y)


def compare(check: Check, device_rows: dict, cpu_rows: dict) -> dict:
    """The parity of two tables: items, label agreement, largest score difference."""
    common = sorted(set(device_rows) & set(cpu_rows))
    failed = sum(bool(r.get("error")) for r in device_rows.values())
    agree = [
        all(str(device_rows[k].get(c, "")) == str(cpu_rows[k].get(c, "")) for c in check.labels)
        for k in common
    ]
    worst = 0.0
    for column, scale in check.scores.items():
        for k in common:
            gap = _difference(device_rows[k].get(column), cpu_rows[k].get(column))
            worst = max(worst, 0.0 if gap is None else gap / scale)
    share = float(np.mean(agree)) if agree else 0.0
    ok = bool(common) and len(common) == len(cpu_rows) and not failed
    return {
        "items": len(common),
        "failed": failed,
        "labels_agree": round(share, 4),
        "largest_score_difference": round(worst, 5),
        "pass": ok and share >= LABEL_AGREEMENT and worst <= SCORE_TOLERANCE,
    }


def tweets(data: Path, n: int) -> list[tuple[str, str]]:
    """(text, sentiment) of up to ``n`` labelled tweets from the SemEval and TweetEval files."""
    found = []
    for path in sorted((data / "text/semeval2017_sentiment_train").glob("*.tsv")):
        with open(path, encoding="utf-8") as stream:
            for line in stream:
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 3 and parts[1] in ("positive", "negative", "neutral"):
                    found.append((parts[2], parts[1]))
    tweeteval = data / "text/tweeteval/sentiment"
    if (tweeteval / "val_text.txt").is_file():
        names = ("negative", "neutral", "positive")
        texts = (tweeteval / "val_text.txt").read_text(encoding="utf-8").splitlines()
        labels = (tweeteval / "val_labels.txt").read_text(encoding="utf-8").split()
        found += [(t, names[int(y)]) for t, y in zip(texts, labels, strict=False)]
    return found[:n]


def write_csv(path: Path, header: list[str], rows: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as stream:
        csv.writer(stream).writerows([header, *rows])
    return path


def prepare(work: Path, data: Path) -> None:
    """Inputs made once: labelled tweets, past candidates and their decisions, camera-trap
    photos of three species with their labels, a folder of sound files."""
    labelled = tweets(data, TRAIN_TWEETS + TEST_TWEETS)
    if len(labelled) == TRAIN_TWEETS + TEST_TWEETS:
        rows = [(f"t{i}", text, y) for i, (text, y) in enumerate(labelled)]
        write_csv(work / "in/train.csv", ["id", "text", "sentiment"], rows[:TRAIN_TWEETS])
        write_csv(work / "in/test.csv", ["id", "text", "sentiment"], rows[TRAIN_TWEETS:])
    skills = ["Kubernetes", "Spark", "PostgreSQL", "Docker"]
    past, decisions = [], []
    for n in range(16):
        held = [s for i, s in enumerate(skills) if (n >> i) & 1]
        cv = (
            f"Data engineer since {2010 + n % 12}. Built Python pipelines"
            f"{' with ' + ', '.join(held) if held else ''}.\nSkills: Python, SQL, "
            f"{', '.join(held)}\nEducation: BSc Computer Science"
        )
        past.append((f"past-{n}", cv))
        decisions.append((f"past-{n}", "hire" if "Kubernetes" in held else "reject"))
    write_csv(work / "in/past.csv", ["id", "cv_text"], past)
    write_csv(work / "in/decisions.csv", ["id", "decision"], decisions)
    borneo = data / "images/camtrapr_borneo"
    if (borneo / "labels.csv").is_file():
        with open(borneo / "labels.csv", encoding="utf-8-sig", newline="") as stream:
            rows = list(csv.DictReader(stream))
        labels = [("id", "species")]
        for label in ("leopard_cat", "mouse_deer", "moonrat"):
            for file in sorted(r["file"] for r in rows if r["label"] == label)[:8]:
                target = work / "in/borneo" / Path(file).name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(borneo / file, target)
                labels.append((target.stem, label.replace("_", " ")))
        write_csv(work / "in/borneo_labels.csv", *labels[:1], labels[1:])
        (work / "in/borneo_species.txt").write_text("leopard cat\nmouse deer\nmoonrat\n")
    speech = work / "in/speech"
    speech.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SAMPLE / "social_media/post04_headphones.wav", speech / "headphones.wav")
    for path in sorted((data / "speech").glob("*/*")):
        if path.suffix in (".wav", ".flac"):
            shutil.copyfile(path, speech / f"{path.parent.name}-{path.name}")


def checks() -> list[Check]:
    social, screening = SAMPLE / "social_media", SAMPLE / "screening"
    wild = SAMPLE / "wildlife"

    def out(name):
        return lambda work, device: ["-o", work / device / name]

    return [
        Check("run social-media (text, photo, voice note, clip)",
              lambda w, d: ["run", "social-media", social, *out("social")(w, d), *run_flags(w / d)],
              lambda w: w / "social/results.csv",
              ("sentiment", "emotion", "topics", "language"),
              {"sentiment_score": 2, "sentiment_prob": 1, "sarcasm_prob": 1, "valence": 2,
               "incongruity": 1}),
        Check("run screening (CVs, interviews)",
              lambda w, d: ["run", "screening", screening / "candidates", "--job",
                            screening / "job.txt", *out("screening")(w, d), *run_flags(w / d)],
              lambda w: w / "screening/results.csv",
              ("rank", "must_have_met", "knocked_out", "interview_transcript"),
              {"fit_score": 100, "cv_match_score": 100, "cv_job_similarity": 1,
               "answer_relevance": 1}),
        Check("run wildlife (photos)",
              lambda w, d: ["run", "wildlife", wild / "survey", "--species", wild / "species.txt",
                            *out("wildlife")(w, d), *run_flags(w / d)],
              lambda w: w / "wildlife/results.csv",
              ("category", "species", "count"), {"species_score": 1}),
        Check("run wildlife (videos)",
              lambda w, d: ["run", "wildlife", w / "data/video/zamba", "--species",
                            wild / "species.txt", *out("wildlife-video")(w, d), *run_flags(w / d)],
              lambda w: w / "wildlife-video/results.csv",
              ("category", "species"), {"species_score": 1}, needs="video/zamba"),
        Check("label (photos, a video's frames)",
              lambda w, d: ["label", *sorted(social.glob("*.jpg")), social / "post05_launch.mp4",
                            "--labels", LABELS, "-o", w / d / "labels.csv", "--no-progress",
                            "-q", "--no-cache", "--cache-dir", w / d / "cache"],
              lambda w: w / "labels.csv", ("top_label",), {"top_prob": 1}),
        Check("transcribe (speech)",
              lambda w, d: ["run", "transcribe", w / "in/speech",
                            *out("transcribe")(w, d), *run_flags(w / d)],
              lambda w: w / "transcribe/results.csv", ("text",)),
        Check("encode (posts: embeddings)",
              lambda w, d: ["run", "encode", social, *out("encode")(w, d), *run_flags(w / d)],
              lambda w: w / "encode/results.parquet", ("language",),
              {"text_embedding": 1, "visual_embedding": 1, "speech_embedding": 1,
               "voice_embedding": 1}),
        Check("train + evaluate (fusion, tuned top layers)",
              lambda w, d: ["evaluate", "--model", w / "cpu/model", "--labels",
                            w / "in/test.csv", "--out", w / d / "evaluation", "-q"],
              lambda w: w / "evaluation/predictions.csv", ("sentiment_predicted",),
              {"sentiment_probability": 1}, needs="text/tweeteval", trains="fusion"),
        Check("train + run screening --model (head)",
              lambda w, d: ["run", "screening", screening / "candidates", "--job",
                            screening / "job.txt", "--model", w / "cpu/screening-head",
                            *out("screening-head")(w, d), *run_flags(w / d)],
              lambda w: w / "screening-head/results.csv", ("learned_prediction", "rank"),
              {"learned_score": 100}, trains="screening-head"),
        Check("train + run wildlife --model (head)",
              lambda w, d: ["run", "wildlife", w / "in/borneo", "--model",
                            w / "cpu/wildlife-head", "--cameras", "input",
                            *out("wildlife-head")(w, d), *run_flags(w / d)],
              lambda w: w / "wildlife-head/results.csv", ("category", "species"),
              {"species_score": 1}, needs="images/camtrapr_borneo", trains="wildlife-head"),
    ]  # fmt: skip


def train_models(work: Path, device: str, wanted: set[str]) -> dict:
    """Trains on ``device`` what the ``wanted`` checks' ``--model`` flags name (in WORK/DEVICE)."""
    here, inputs = work / device, work / "in"
    trained = {"--device": device, "--overwrite": None, "-q": None}
    flags = [str(a) for k, v in trained.items() for a in (k, v) if a is not None]
    record = {}
    if "fusion" in wanted and (inputs / "train.csv").is_file():
        tune = ["--tune-layers", "1", "--tune-epochs", "1"]
        argv = ["train", "--labels", inputs / "train.csv", "--out", here / "model", *tune]
        record["fusion"] = mmfuse([*argv, *flags])
        if record["fusion"] == 0:
            metrics = json.loads((here / "model/training.json").read_text())["holdout_metrics"]
            record["fusion_held_out_macro_f1"] = round(metrics["sentiment"]["macro_f1"], 4)
    if "screening-head" in wanted:
        job = SAMPLE / "screening/job.txt"
        mmfuse(["run", "screening", inputs / "past.csv", "--job", job, "-o", here / "past",
                *run_flags(here)])  # fmt: skip
        argv = ["train", "--labels", inputs / "decisions.csv", "--data", here / "past"]
        record["screening_head"] = mmfuse([*argv, "--out", here / "screening-head", *flags])
    if "wildlife-head" in wanted and (inputs / "borneo").is_dir():
        species = ["--species", inputs / "borneo_species.txt", "--cameras", "input"]
        mmfuse(["run", "wildlife", inputs / "borneo", *species, "-o", here / "borneo",
                *run_flags(here)])  # fmt: skip
        argv = ["train", "--labels", inputs / "borneo_labels.csv", "--data", here / "borneo"]
        record["wildlife_head"] = mmfuse([*argv, "--out", here / "wildlife-head", *flags])
    return record


def run_check(check: Check, work: Path, device: str) -> int:
    from mmfuse import config

    config.use_cache_root(work / device / "cache")
    return mmfuse([*check.argv(work, device), "--device", device])


def parity(work: Path, device: str, data: Path, only: list[str]) -> tuple[list[dict], dict]:
    """The checks (those whose name holds one of ``only``, when given) on the CPU and on
    ``device``; the table's rows and the training record."""
    chosen = [c for c in checks() if not only or any(o in c.name for o in only)]
    wanted = {c.trains for c in chosen if c.trains}
    devices = list(dict.fromkeys(("cpu", device)))
    trained = {d: train_models(work, d, wanted) for d in devices}
    rows = []
    for check in chosen:
        if check.needs and not (data / check.needs).exists():
            rows.append({"check": check.name, "skipped": f"no {check.needs} under --data"})
            continue
        codes, seconds = {}, {}
        for d in devices:
            started = time.perf_counter()
            codes[d] = run_check(check, work, d)
            seconds[d] = round(time.perf_counter() - started, 1)
        try:
            tables = [read_rows(check.table(work / d)) for d in (device, "cpu")]
            result = compare(check, *tables)
        except (OSError, StopIteration, KeyError) as error:
            result = {"pass": False, "error": f"{type(error).__name__}: {error}"}
        result["pass"] = result["pass"] and set(codes.values()) == {0}
        rows.append({"check": check.name, **result, "exit_codes": codes, "seconds": seconds})
    return rows, trained


def timed_run(argv: list, out: Path) -> tuple[float, int, int]:
    """Seconds of one run, its batch size and workers (from its manifest)."""
    started = time.perf_counter()
    code = mmfuse([*argv, "-o", out])
    seconds = time.perf_counter() - started
    if code not in (0, 1):
        raise RuntimeError(f"exit code {code}: {' '.join(map(str, argv))}")
    options = json.loads((out / "manifest.json").read_text())["run_options"]
    return seconds, options["batch_size"], options["workers"]


def minilm_rate(texts: list[str], device: str) -> float | None:
    """Tweets/s of MiniLM alone (sentence-transformers, float32, batches of 256)."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return None
    from mmfuse.registry import default_model, resolve

    model = SentenceTransformer(resolve(default_model("text")).source, device=device)
    model.encode(texts[:256], batch_size=256)
    started = time.perf_counter()
    model.encode(texts, batch_size=256)
    return len(texts) / (time.perf_counter() - started)


def audio_seconds(folder: Path) -> float:
    from mmfuse.io.audio import load_audio

    return sum(len(load_audio(p)) / 16_000 for p in sorted(folder.iterdir()))


def copy_photos(data: Path, photos: Path) -> int:
    """The camera-trap photos under ``data`` (a truncated file left out), copied flat."""
    for folder in PHOTO_SETS:
        for path in sorted((data / folder).rglob("*")):
            if path.suffix.lower() in (".jpg", ".jpeg", ".png") and "truncated" not in path.name:
                photos.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, photos / f"{path.parent.name}-{path.name}")
    return len(list(photos.iterdir())) if photos.is_dir() else 0


def throughput(work: Path, device: str, data: Path, n_tweets: int) -> list[dict]:
    """Posts/s, photos/s and audio seconds/s on ``device`` after a warm-up, with the default
    engine and, where it helps on a many-core machine, more decode threads or Ray actors."""
    flags = [*run_flags(work / "rate"), "--device", device]
    cores = os.cpu_count() or 1
    rows = []

    def measure(what, argv, n, unit, out, extra=()):
        seconds, batch, workers = timed_run([*argv, *flags, *extra], work / "rate" / out)
        engine = "ray" if "ray" in extra else "local"
        rows.append({"what": what, "items": n, "rate": f"{n / seconds:.1f} {unit}/s",
                     "engine": f"{engine}, {workers} workers", "batch_size": batch})  # fmt: skip

    texts = [t for t, _ in tweets(data, n_tweets)]
    if texts:
        posts = write_csv(work / "in/tweets.csv", ["id", "text"], list(enumerate(texts)))
        warm = write_csv(work / "in/warm.csv", ["id", "text"], [(0, texts[0])])
        timed_run(["run", "social-media", warm, *flags], work / "rate/warm")
        measure("social-media, text posts", ["run", "social-media", posts], len(texts),
                "posts", "posts")  # fmt: skip
        if cores > 2 and importlib.util.find_spec("ray"):
            actors = ["--engine", "ray", "--workers", str(min(8, cores // 2))]
            measure("social-media, text posts", ["run", "social-media", posts], len(texts),
                    "posts", "posts-ray", actors)  # fmt: skip
        baseline = minilm_rate(texts, device)
        if baseline is not None:
            rows.append({"what": "MiniLM alone (sentence-transformers, batch 256)",
                         "items": len(texts), "rate": f"{baseline:.0f} tweets/s"})  # fmt: skip
    n = copy_photos(data, work / "in/photos")
    if n:
        wildlife = ["run", "wildlife", work / "in/photos", "--species",
                    SAMPLE / "wildlife/species.txt", "--cameras", "input"]  # fmt: skip
        timed_run([*wildlife[:2], SAMPLE / "wildlife/survey", *wildlife[3:], *flags],
                  work / "rate/warm-wildlife")  # fmt: skip
        measure("wildlife, camera-trap photos", wildlife, n, "photos", "photos")
        if cores > 4:
            measure("wildlife, camera-trap photos", wildlife, n, "photos", "photos-threads",
                    ["--workers", str(cores)])  # fmt: skip
    speech = work / "in/speech"
    measure("transcribe, speech files", ["run", "transcribe", speech],
            round(audio_seconds(speech)), "audio s", "speech")  # fmt: skip
    return rows


def markdown(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def device_name(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"CPU ({os.cpu_count()} cores)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("device", help="cpu, cuda or cuda:N")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared/data")
    parser.add_argument("--work", type=Path, default=Path("device-check"))
    parser.add_argument("--tweets", type=int, default=20_000, help="posts for the throughput")
    parser.add_argument("--only", nargs="+", default=[], help="checks whose name holds one")
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the tables here")
    args = parser.parse_args()
    import torch

    work = args.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    if args.data.is_dir():
        (work / "data").symlink_to(args.data.resolve())
    prepare(work, args.data)
    print(f"device: {args.device} = {device_name(args.device)}; torch {torch.__version__}; "
          f"Python {sys.version.split()[0]}", flush=True)  # fmt: skip
    rows, trained = parity(work, args.device, args.data, args.only)
    columns = ["check", "items", "failed", "labels_agree", "largest_score_difference", "pass"]
    print("\n" + markdown(rows, [*columns, "seconds", "skipped"]))
    print(f"\ntraining (exit codes, held-out macro-F1): {json.dumps(trained)}", flush=True)
    rates = [] if args.no_throughput else throughput(work, args.device, args.data, args.tweets)
    print("\n" + markdown(rates, ["what", "items", "rate", "engine", "batch_size"]), flush=True)
    if args.json:
        tables = {"parity": rows, "training": trained, "throughput": rates}
        args.json.write_text(json.dumps({"device": device_name(args.device), **tables}, indent=1))
    return 0 if all(r.get("pass", True) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
