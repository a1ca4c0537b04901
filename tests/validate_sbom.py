#!/usr/bin/env python3
"""Validates a CycloneDX 1.5 JSON file against the official schema, offline, with the independent
cyclonedx-python-lib (pip install 'cyclonedx-python-lib[json-validation]'). Exit 0 when valid,
1 with the error when not, 3 when the library is missing."""
import sys

try:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator
except ImportError as e:  # pragma: no cover
    print(f"cyclonedx-python-lib is not installed: {e}", file=sys.stderr)
    sys.exit(3)

with open(sys.argv[1], encoding="utf-8") as f:
    text = f.read()
error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(text)
if error is not None:
    print(f"invalid CycloneDX 1.5: {error}", file=sys.stderr)
    sys.exit(1)
print("valid CycloneDX 1.5")
