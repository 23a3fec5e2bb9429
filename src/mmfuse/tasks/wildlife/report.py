"""The wildlife sections of report.html: what was seen, where, when, and the pictures.

- Counts: files and events per species, animal files per site and per camera, and activity
  by hour of day (animal files by the hour of their ``datetime``).
- Events: each animal event (``events.csv``) as a strip of its animal files' thumbnails with
  the detection boxes drawn; a video shows its middle frame, without boxes (they belong to
  another frame). Blank files are left out of the strips, and no file or event with a person
  is ever shown: people are counted, never pictured.
- The events table (events.csv).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from mmfuse.report.charts import bar_chart, charts, column_chart
from mmfuse.report.page import Html, Section, numbers, tag
from mmfuse.report.table import table
from mmfuse.report.thumbnails import VIDEO_SUFFIXES, img, thumbnail
from mmfuse.tasks.wildlife.boxes import parse_boxes
from mmfuse.tasks.wildlife.events import EVENT_COLUMNS, event_rows

# Events pictured (the first by site, camera and start) and files per event strip.
EVENTS_SHOWN = 30
FILES_PER_EVENT = 8
# Rows of the events table in the page (events.csv has them all).
EVENTS_LISTED = 200


def _ok(rows: Sequence[dict]) -> list[dict]:
    return [r for r in rows if not r.get("error")]


def _what(row: dict) -> str:
    """A file's species (or group), for an animal; else its category."""
    if row.get("category") == "animal":
        return row.get("species") or "animal"
    return row.get("category") or ""


def _hour(row: dict) -> int | None:
    text = str(row.get("datetime") or "")
    return int(text[11:13]) if len(text) >= 13 and text[11:13].isdigit() else None


def _counted(counter: Counter) -> tuple[list[str], list[int]]:
    ordered = counter.most_common()
    return [k or "(none)" for k, _ in ordered], [v for _, v in ordered]


def counts_section(rows: Sequence[dict], events: list[dict]) -> Section:
    ok = _ok(rows)
    animals = [r for r in ok if r.get("category") == "animal"]
    categories = Counter(r.get("category") for r in ok)
    animal_events = [e for e in events if e["category"] == "animal"]
    headline = numbers(
        {
            "files": len(ok),
            "with animals": len(animals),
            "blank": categories["blank"],
            "with people": categories["person"],
            "with vehicles": categories["vehicle"],
            "animal events": len(animal_events),
            "species": len({_what(r) for r in animals}),
        }
    )
    hours = Counter(h for r in animals if (h := _hour(r)) is not None)
    sites = Counter(r.get("site") or "" for r in animals)
    figures = [
        bar_chart(
            "files-per-species",
            "Files per species",
            *_counted(Counter(map(_what, animals))),
            "files with the animal",
        ),
        bar_chart(
            "events-per-species",
            "Events per species",
            *_counted(Counter(e["species"] or "animal" for e in animal_events)),
            "events",
        ),
        bar_chart("files-per-site", "Animal files per site", *_counted(sites), "files")
        if set(sites) - {""}
        else None,
        bar_chart(
            "files-per-camera",
            "Animal files per camera",
            *_counted(
                Counter("/".join(filter(None, (r.get("site"), r.get("camera")))) for r in animals)
            ),
            "files",
        ),
        column_chart(
            "activity-by-hour",
            "Activity by hour of day",
            range(24),
            [hours.get(h, 0) for h in range(24)],
            "hour (animal files)",
        ),
    ]
    return Section(
        "Species, sites and activity",
        [
            headline,
            charts(*[f for f in figures if f]) if animals else tag("p", "No animals were found."),
        ],
        "Counts of files (photos and videos) and of events (a camera's files within the event "
        "gap); a name rolled up to a group (--rollup) is counted as that group.",
        id="wildlife-counts",
    )


def _strip(event: dict, by_file: dict[str, dict], files: Mapping[str, Sequence[Path]]) -> Html:
    """The event's animal files as thumbnails with their boxes (people and blanks left out)."""
    pictures = []
    for name in event["files"].split("; "):
        row = by_file.get(name)
        if row is None or row.get("category") != "animal":
            continue
        path = next(iter(files.get(row["id"], ())), None)
        if path is None:
            continue
        boxes = (
            []
            if Path(path).suffix.lower() in VIDEO_SUFFIXES
            else parse_boxes(row.get("boxes") or "")
        )
        label = f"{row['id']}: {_what(row)} ({row.get('count') or 0})"
        pictures.append(img(thumbnail(path, boxes), label))
        if len(pictures) == FILES_PER_EVENT:
            break
    return tag("div", [p for p in pictures if p], class_="strip")


def events_section(rows: Sequence[dict], events: list[dict], files) -> Section:
    by_file = {str(r.get("file")): r for r in _ok(rows)}
    animal = [e for e in events if e["category"] == "animal"]
    parts: list[Html] = []
    for event in animal[:EVENTS_SHOWN]:
        score = event.get("species_score")
        confidence = f" (score {score:.2f})" if score else ""
        span = (
            event["start"]
            if event["start"] == event["end"]
            else f"{event['start']} to {event['end']}"
        )
        heading = (
            f"{event['event_id']} · {event['species'] or 'animal'}{confidence} · {span} · "
            f"{event['n_files']} files, up to {event['max_count']} individuals"
        )
        parts += [tag("h3", heading), _strip(event, by_file, files)]
    hidden = Counter(e["category"] for e in events if e["category"] != "animal")
    note = (
        f"The first {min(len(animal), EVENTS_SHOWN)} of {len(animal)} animal events, with "
        f"the detection boxes. Never shown: {hidden['person']} event(s) with people; blank "
        f"files ({hidden['blank']} blank event(s)) and vehicles are left out."
    )
    if not animal:
        parts = [tag("p", "No animal events.")]
    parts += [
        tag("h3", "Events (events.csv)"),
        table([c for c in EVENT_COLUMNS if c != "files"], events[:EVENTS_LISTED]),
    ]
    return Section("Events", parts, note, id="wildlife-events")


def report_sections(
    rows: Sequence[dict], out_dir: Path, files: Mapping[str, Sequence[Path]]
) -> list[Section]:
    """The wildlife sections, in reading order."""
    events = event_rows(rows)
    return [counts_section(rows, events), events_section(rows, events, files)]
