"""Events and the survey summary, from the per-file rows.

``events.csv``: one row per event (files of one camera within the event gap, numbered in
``event_id``): the category and the species by vote of its files (each animal file votes for
its species with its score), ``species_score`` the mean score of the files that named it (a
probability, as in results.csv), ``vote_share`` the vote's share, the most individuals in one
file, start, end and the files. ``summary.csv``: per species (and "blank", "person",
"vehicle"), overall and per site and camera, the files that show it, the events named after it
in ``events.csv`` (so the two tables count the same events: an event of one leopard-cat file
and two blanks is a leopard-cat event, not a blank one too), the most individuals, and the
activity by hour of day (files per hour, from the files' times).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from mmfuse.io.writers import atomic_write, write_csv

EVENT_COLUMNS = (
    "event_id",
    "site",
    "camera",
    "category",
    "species",
    "species_score",
    "vote_share",
    "max_count",
    "start",
    "end",
    "n_files",
    "files",
)
HOURS = tuple(f"h{hour:02d}" for hour in range(24))
SUMMARY_COLUMNS = ("site", "camera", "species", "files", "events", "max_count", *HOURS)


def _label(row: dict) -> str:
    """What a file shows, for counting: its species (or group), else its category."""
    if row.get("category") == "animal":
        return row.get("species") or "animal"
    return row.get("category") or ""


def _ok(rows: Sequence[dict]) -> list[dict]:
    return [r for r in rows if not r.get("error") and r.get("event_id")]


def event_rows(rows: Sequence[dict]) -> list[dict]:
    """One dict per event, in order of camera and start."""
    grouped: dict[str, list[dict]] = defaultdict(list)
    for row in _ok(rows):
        grouped[row["event_id"]].append(row)
    events = []
    for event_id, members in grouped.items():
        members.sort(key=lambda r: (r["datetime"], r["file"]))
        categories = Counter(r["category"] for r in members if r["category"] != "blank")
        category = categories.most_common(1)[0][0] if categories else "blank"
        votes: Counter[str] = Counter()
        for r in members:
            if r["category"] == "animal" and r.get("species"):
                votes[r["species"]] += float(r.get("species_score") or 0.0) or 1e-6
        species, score, share = "", None, None
        if category == "animal" and votes:
            species, weight = votes.most_common(1)[0]
            share = round(weight / sum(votes.values()), 4)
            named = [
                float(r.get("species_score") or 0.0)
                for r in members
                if r["category"] == "animal" and r.get("species") == species
            ]
            score = round(sum(named) / len(named), 4)
        events.append(
            {
                "event_id": event_id,
                "site": members[0]["site"],
                "camera": members[0]["camera"],
                "category": category,
                "species": species,
                "species_score": score,
                "vote_share": share,
                "max_count": max(int(r.get("count") or 0) for r in members),
                "start": members[0]["datetime"],
                "end": members[-1]["datetime"],
                "n_files": len(members),
                "files": "; ".join(str(r["file"]) for r in members),
            }
        )
    events.sort(key=lambda e: (e["site"], e["camera"], e["start"], e["event_id"]))
    return events


def _event_label(event: dict) -> str:
    """What an event shows, for counting: its species, else its category."""
    if event["category"] == "animal":
        return event["species"] or "animal"
    return event["category"]


def summary_rows(rows: Sequence[dict]) -> list[dict]:
    """Per (site, camera, what) and per what overall ("all"): files, events (as
    ``event_rows`` names them), most individuals, files by hour of day."""
    table: dict[tuple[str, str, str], dict] = {}

    def entries(site: str, camera: str, label: str) -> list[dict]:
        return [
            table.setdefault(key, {"files": 0, "events": set(), "max_count": 0, "hours": Counter()})
            for key in ((site, camera, label), ("all", "all", label))
        ]

    for event in event_rows(rows):
        for entry in entries(event["site"], event["camera"], _event_label(event)):
            entry["events"].add(event["event_id"])
    for row in _ok(rows):
        for entry in entries(row["site"], row["camera"], _label(row)):
            entry["files"] += 1
            entry["max_count"] = max(entry["max_count"], int(row.get("count") or 0))
            entry["hours"][int(str(row["datetime"])[11:13] or 0)] += 1
    out = []
    for (site, camera, label), entry in sorted(table.items(), key=lambda kv: (kv[0][0] != "all",)):
        out.append(
            {
                "site": site,
                "camera": camera,
                "species": label,
                "files": entry["files"],
                "events": len(entry["events"]),
                "max_count": entry["max_count"],
                **{HOURS[h]: entry["hours"].get(h, 0) for h in range(24)},
            }
        )
    return out


def write_events(rows: Sequence[dict], path: Path) -> Path:
    """Writes ``events.csv``; returns its path."""
    with atomic_write(path) as stream:
        write_csv(event_rows(rows), EVENT_COLUMNS, stream)
    return path


def write_summary(rows: Sequence[dict], path: Path) -> Path:
    """Writes ``summary.csv``; returns its path."""
    with atomic_write(path) as stream:
        write_csv(summary_rows(rows), SUMMARY_COLUMNS, stream)
    return path
