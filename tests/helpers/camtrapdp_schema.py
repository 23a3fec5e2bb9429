"""Camtrap DP 1.0.2 validation of the packages mmfuse writes, for the tests.

The standard's profile and table schemas are read from the development data
(``images/camtrapdp_example/schema`` of ``../shared/data``, copied there from tdwg/camtrap-dp
1.0.2); a test that validates skips when they are absent. The profile's two references to
outside schemas (the Frictionless Data Package profile and GeoJSON) are resolved to the
minimal structure they require (an object with ``resources``; an object with ``type``). The
tables are checked against their table schemas: required fields, types, enums, patterns,
bounds, unique primary keys and foreign keys.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from mmfuse import config
from mmfuse.tasks.wildlife.camtrapdp import TABLES

OUTSIDE_SCHEMAS = {
    "https://specs.frictionlessdata.io/schemas/data-package.json": {
        "type": "object",
        "required": ["resources"],
    },
    "http://json.schemastore.org/geojson.json": {"type": "object", "required": ["type"]},
}


def schema(name: str) -> dict:
    """One of the standard's schemas by name ("media-table-schema"); skips the test when the
    development data is absent."""
    path = config.shared_data_dir() / "images" / "camtrapdp_example" / "schema" / f"{name}.json"
    if not path.is_file():
        pytest.skip(f"Camtrap DP schemas not found at {path.parent} (set MMFUSE_DATA)")
    return json.loads(path.read_text(encoding="utf-8"))


def _check_value(value: str, field: dict) -> str | None:
    """Why a CSV cell does not fit its table-schema field, or None."""
    constraints = field.get("constraints", {})
    if value == "":
        return "required" if constraints.get("required") else None
    kind = field["type"]
    try:
        if kind == "number":
            float(value)
        elif kind == "integer":
            int(value)
        elif kind == "boolean" and value not in ("true", "false"):
            return "not a boolean"
        elif kind == "datetime":
            datetime.fromisoformat(value)
    except ValueError:
        return f"not a {kind}"
    if "enum" in constraints and value not in constraints["enum"]:
        return f"not one of {constraints['enum']}"
    if "pattern" in constraints and not re.fullmatch(constraints["pattern"], value):
        return "does not match its pattern"
    for bound, test in (("minimum", float.__ge__), ("maximum", float.__le__)):
        if bound in constraints and not test(float(value), float(constraints[bound])):
            return f"outside its {bound}"
    return None


def package_problems(folder: Path) -> list[str]:
    """The problems of a Camtrap DP 1.0.2 package ([] when it is valid)."""
    import jsonschema
    from referencing import Registry, Resource

    problems: list[str] = []
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    registry = Registry().with_resources(
        (url, Resource.from_contents({"$schema": "http://json-schema.org/draft-04/schema#", **s}))
        for url, s in OUTSIDE_SCHEMAS.items()
    )
    validator = jsonschema.Draft4Validator(schema("camtrap-dp-profile"), registry=registry)
    problems += [f"datapackage.json: {e.message}" for e in validator.iter_errors(descriptor)]
    keys: dict[str, set[str]] = {}
    for table in TABLES:
        table_schema = schema(f"{table}-table-schema")
        with open(folder / f"{table}.csv", encoding="utf-8", newline="") as stream:
            data = list(csv.DictReader(stream))
        fields = {f["name"]: f for f in table_schema["fields"]}
        for n, row in enumerate(data, start=2):
            for name, field in fields.items():
                why = _check_value(row.get(name, ""), field)
                if why:
                    problems.append(f"{table}.csv line {n}: {name} {why}")
            for foreign in table_schema.get("foreignKeys", []):
                value = row.get(foreign["fields"], "")
                target = foreign["reference"]["resource"]
                if value and value not in keys.get(target, set()):
                    problems.append(f"{table}.csv line {n}: {foreign['fields']} not in {target}")
        primary = table_schema.get("primaryKey")
        if primary:
            values = [row[primary] for row in data]
            if len(set(values)) != len(values):
                problems.append(f"{table}.csv: {primary} values are not unique")
            keys[table] = set(values)
    return problems
