#!/usr/bin/env python3
"""Validate tandem output against the JSON Schemas in Schemas/ (draft 2020-12).

Usage:
  schema_check.py journal FILE   # NDJSON journal lines: entry schema + each payload by its type
  schema_check.py SCHEMA FILE    # NDJSON documents against one schema file (path under Schemas/)
  schema_check.py openapi        # Schemas/openapi.json is a valid OpenAPI 3.1 document

Exit 0 when every line validates; 1 with one message per failure otherwise.
"""
import json
import pathlib
import sys

try:
    import jsonschema
    from referencing import Registry, Resource
except ImportError:
    sys.exit("schema_check.py needs the jsonschema package: pip install jsonschema")

SCHEMAS = pathlib.Path(__file__).resolve().parent.parent / "Schemas"


def load(path):
    return json.loads(path.read_text())


def registry():
    resources = []
    for path in SCHEMAS.rglob("*.json"):
        doc = load(path)
        if "$id" in doc:
            resources.append((doc["$id"], Resource.from_contents(doc)))
    return Registry().with_resources(resources)


def validator(schema, reg):
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, registry=reg, format_checker=cls.FORMAT_CHECKER)


def check_openapi():
    from openapi_spec_validator import validate

    document = load(SCHEMAS / "openapi.json")
    validate(document, base_uri=SCHEMAS.as_uri() + "/")
    # Every frame kind of Schemas/sse/ is one branch of the stream's SSEEvent, with its own
    # document as `data` (a kind missing there fails every client that validates streams).
    kinds = {path.name.removesuffix(".schema.json") for path in (SCHEMAS / "sse").glob("*.schema.json")}
    branches = {}
    for branch in document["components"]["schemas"]["SSEEvent"]["oneOf"]:
        kind = branch["properties"]["event"]["const"]
        branches[kind] = branch["properties"]["data"]["contentSchema"]["$ref"]
    if set(branches) != kinds:
        sys.exit(f"openapi: SSEEvent describes {sorted(branches)}, Schemas/sse/ has {sorted(kinds)}")
    for kind, ref in branches.items():
        if ref != f"sse/{kind}.schema.json":
            sys.exit(f"openapi: SSEEvent's {kind} frame points at {ref}")
    print("openapi: valid OpenAPI 3.1 document; SSEEvent has every frame kind of Schemas/sse/")


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "openapi":
        check_openapi()
        return
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    mode, file = sys.argv[1], pathlib.Path(sys.argv[2])
    reg = registry()
    failures = []
    lines = [line for line in file.read_text().splitlines() if line.strip()]
    if mode == "journal":
        entry = validator(load(SCHEMAS / "journal-entry.schema.json"), reg)
        index = load(SCHEMAS / "events" / "index.json")["types"]
        payloads = {t: validator(load(SCHEMAS / "events" / f), reg) for t, f in index.items()}
        for number, line in enumerate(lines, 1):
            doc = json.loads(line)
            failures += [f"line {number}: {e.message}" for e in entry.iter_errors(doc)]
            keys = list(doc.keys())
            if keys != ["seq", "ts", "run_id", "type", "data", "prev"]:
                failures.append(f"line {number}: keys out of canonical order: {keys}")
            check = payloads.get(doc.get("type"))
            if check is None:
                failures.append(f"line {number}: unknown event type {doc.get('type')!r}")
            else:
                failures += [f"line {number} ({doc['type']}): {e.message}" for e in check.iter_errors(doc["data"])]
    else:
        check = validator(load(SCHEMAS / mode), reg)
        for number, line in enumerate(lines, 1):
            failures += [f"line {number}: {e.message}" for e in check.iter_errors(json.loads(line))]
    for failure in failures:
        print(failure)
    bad = len(set(f.split(":")[0] for f in failures))
    print(f"schema check: {len(lines) - bad} valid, {bad} invalid")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
