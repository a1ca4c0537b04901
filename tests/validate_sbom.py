#!/usr/bin/env python3
"""Validates a CycloneDX JSON file against the official schema of one version (1.5 unless given:
`validate_sbom.py FILE [1.5|1.6|1.7]`), offline, with the independent cyclonedx-python-lib
(pip install 'cyclonedx-python-lib[json-validation]'). The document's specVersion must be that
version too. Exit 0 when valid, 1 with the error when not, 3 when the library is missing."""
import json
import sys

try:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator
except ImportError as e:  # pragma: no cover
    print(f"cyclonedx-python-lib is not installed: {e}", file=sys.stderr)
    sys.exit(3)

version = sys.argv[2] if len(sys.argv) > 2 else "1.5"
with open(sys.argv[1], encoding="utf-8") as f:
    text = f.read()
spec = json.loads(text).get("specVersion")
if spec != version:
    print(f"specVersion is {spec!r}, expected {version!r}", file=sys.stderr)
    sys.exit(1)
error = JsonStrictValidator(SchemaVersion.from_version(version)).validate_str(text)
if error is not None:
    print(f"invalid CycloneDX {version}: {error}", file=sys.stderr)
    sys.exit(1)
print(f"valid CycloneDX {version}")
