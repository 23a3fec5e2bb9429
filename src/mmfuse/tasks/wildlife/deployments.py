"""Deployments: where and when each camera stood, from ``--deployments deployments.csv``.

One row per deployment, with Camtrap DP's column names (a few plain aliases accepted)::

    deploymentID,folder,locationName,latitude,longitude,timezone,deploymentStart,deploymentEnd
    dep1,savanna/cam01,Waterhole north,-2.3331,34.8332,Africa/Nairobi,2024-05-01,2024-06-30

``folder`` names the camera the deployment belongs to: its folder under the input
(``site/camera``) or the camera folder's name alone; without a ``folder`` column the
``deploymentID`` is the folder. ``timezone`` is an IANA zone (``Europe/Brussels``) or a
fixed offset (``+01:00``): camera clocks carry none, so a file's EXIF time is read in it and
written with its offset. ``deploymentStart`` and ``deploymentEnd`` (dates or date-times in the
deployment's local time, optional) pick among deployments of one camera folder by the file's
time.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mmfuse.errors import UsageError

# Accepted spellings of each column (compared case-insensitively, "_" and " " ignored).
ALIASES = {
    "deploymentID": ("deploymentid", "deployment", "id"),
    "folder": ("folder", "camerafolder", "camera", "path"),
    "locationName": ("locationname", "location", "site"),
    "latitude": ("latitude", "lat"),
    "longitude": ("longitude", "lon", "lng", "long"),
    "timezone": ("timezone", "tz", "utcoffset"),
    "deploymentStart": ("deploymentstart", "start"),
    "deploymentEnd": ("deploymentend", "end"),
}
OFFSET = re.compile(r"^(?:UTC)?([+-])(\d{1,2}):?(\d{2})?$")


@dataclass(frozen=True)
class Deployment:
    """One camera's deployment.

    Attributes:
        id: the deploymentID.
        folder: the camera folder it belongs to (``site/camera`` or ``camera``).
        location: the location's name ("" when not given).
        latitude, longitude: decimal degrees (WGS84), None when not given.
        zone: the time zone of the camera's clock, None when not given.
        start, end: the deployment's local start and end, None when open.
    """

    id: str
    folder: str
    location: str = ""
    latitude: float | None = None
    longitude: float | None = None
    zone: tzinfo | None = None
    start: datetime | None = None
    end: datetime | None = None

    def holds(self, when: datetime) -> bool:
        """Whether a local camera time falls within the deployment."""
        return (self.start is None or when >= self.start) and (self.end is None or when <= self.end)

    def localise(self, when: datetime) -> datetime:
        """A naive camera time in the deployment's zone (naive when it has none)."""
        return when.replace(tzinfo=self.zone) if self.zone is not None else when


def parse_zone(text: str) -> tzinfo | None:
    """An IANA zone or a "+01:00" offset ("" gives None).

    Raises:
        ValueError: neither.
    """
    text = text.strip()
    if not text:
        return None
    if text.upper() in ("UTC", "Z", "GMT"):
        return UTC
    match = OFFSET.match(text)
    if match:
        sign = 1 if match.group(1) == "+" else -1
        delta = timedelta(hours=int(match.group(2)), minutes=int(match.group(3) or 0))
        return timezone(sign * delta)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {text!r} (an IANA name or +HH:MM)") from None


def _time(text: str, end: bool) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is not None:  # a stated offset: the camera's local time is what counts
        when = when.replace(tzinfo=None)
    if end and len(text) <= 10:  # a date alone ends at the day's end
        when += timedelta(days=1) - timedelta(seconds=1)
    return when


def _number(text: str, low: float, high: float, what: str) -> float | None:
    if not text.strip():
        return None
    value = float(text)
    if not low <= value <= high:
        raise ValueError(f"{what} {value} out of [{low}, {high}]")
    return value


def _columns(header: list[str]) -> dict[str, str]:
    """Our column name -> the file's header cell."""
    keyed = {re.sub(r"[\s_]+", "", h).casefold(): h for h in header}
    found = {}
    for name, aliases in ALIASES.items():
        for alias in aliases:
            if alias in keyed:
                found[name] = keyed[alias]
                break
    return found


def read_deployments(path: Path) -> list[Deployment]:
    """The deployments of a CSV file.

    Raises:
        UsageError: no deploymentID column, a bad value (with its line), or a deploymentID
            given twice.
    """
    try:
        with open(path, encoding="utf-8-sig", newline="") as stream:
            reader = csv.DictReader(stream)
            columns = _columns(reader.fieldnames or [])
            records = list(reader)
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"--deployments {path}: {error}") from None
    if "deploymentID" not in columns:
        raise UsageError(f"--deployments {path}: no deploymentID column")
    found = []
    for line, record in enumerate(records, start=2):

        def cell(name: str, record=record) -> str:
            return (record.get(columns.get(name, ""), "") or "").strip()

        try:
            deployment = Deployment(
                id=cell("deploymentID"),
                folder=(cell("folder") or cell("deploymentID")).strip("/"),
                location=cell("locationName"),
                latitude=_number(cell("latitude"), -90, 90, "latitude"),
                longitude=_number(cell("longitude"), -180, 180, "longitude"),
                zone=parse_zone(cell("timezone")),
                start=_time(cell("deploymentStart"), end=False),
                end=_time(cell("deploymentEnd"), end=True),
            )
        except ValueError as error:
            raise UsageError(f"--deployments {path} line {line}: {error}") from None
        if deployment.id in {d.id for d in found}:
            raise UsageError(f"--deployments {path} line {line}: {deployment.id!r} given twice")
        if deployment.id:
            found.append(deployment)
    return found


class Deployments:
    """Finds a file's deployment by its camera and time."""

    def __init__(self, deployments: list[Deployment]):
        self.by_id: dict[str, list[Deployment]] = {}
        for deployment in deployments:
            self.by_id.setdefault(deployment.folder.casefold(), []).append(deployment)

    def all(self) -> list[Deployment]:
        """Every deployment, in the file's order."""
        return [d for group in self.by_id.values() for d in group]

    def find(self, site: str, camera: str, when: datetime) -> Deployment | None:
        """The deployment of a camera (``site/camera`` first, then the camera alone) that
        holds the file's local time (one without start and end holds every time)."""
        for key in ("/".join(filter(None, (site, camera))), camera):
            holding = [d for d in self.by_id.get(key.casefold(), []) if d.holds(when)]
            if holding:
                return holding[0]
        return None
