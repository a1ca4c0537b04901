#!/usr/bin/env python3
"""Validates OpenVEX files against the OpenVEX v0.2.0 JSON schema (tests/data/openvex_json_schema_0.2.0.json,
from github.com/openvex/spec, CC0) with jsonschema (pip install jsonschema). Prints one line per file,
`valid PATH` or `invalid PATH: reason`; exit 0 when every file is valid, 1 when one is not, 3 when
jsonschema is missing."""
import json
import pathlib
import sys

try:
    import jsonschema
except ImportError as e:  # pragma: no cover
    print(f"jsonschema is not installed: {e}", file=sys.stderr)
    sys.exit(3)

schema = json.loads(
    (pathlib.Path(__file__).parent / "data" / "openvex_json_schema_0.2.0.json").read_text()
)
validator = jsonschema.Draft202012Validator(
    schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)
status = 0
for path in sys.argv[1:]:
    try:
        doc = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
        error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    except ValueError as e:
        error = e
    if error is None:
        print(f"valid {path}")
    else:
        print(f"invalid {path}: {getattr(error, 'message', error)}")
        status = 1
sys.exit(status)
