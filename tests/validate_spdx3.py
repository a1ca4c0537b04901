#!/usr/bin/env python3
"""Validates SPDX 3.0.1 JSON-LD files with spdx3-validate (pip install spdx3-validate): the JSON schema
and the SHACL model, offline. spdx3-validate fetches the context, schema and model from spdx.org; this
serves them from tests/data/spdx-3.0.1/ (the published files, unchanged). Exit 0 when valid, non-zero
with spdx3-validate's report when not, 3 when the tool is missing."""
import io
import pathlib
import sys
import urllib.request

try:
    import spdx3_validate.main
except ImportError as e:  # pragma: no cover
    print(f"spdx3-validate is not installed: {e}", file=sys.stderr)
    sys.exit(3)

DATA = pathlib.Path(__file__).parent / "data" / "spdx-3.0.1"
LOCAL = {
    "https://spdx.org/rdf/3.0.1/spdx-context.jsonld": DATA / "spdx-context.jsonld",
    "https://spdx.org/rdf/3.0.1/spdx-model.ttl": DATA / "spdx-model.ttl",
    "https://spdx.org/schema/3.0.1/spdx-json-schema.json": DATA / "spdx-json-schema.json",
}

real_urlopen = urllib.request.urlopen


def urlopen(url, *args, **kwargs):
    target = url if isinstance(url, str) else url.full_url
    if target in LOCAL:
        return io.BytesIO(LOCAL[target].read_bytes())
    if target.startswith(("http://", "https://")):
        raise OSError(f"validate_spdx3.py: no network here, and no local copy of {target}")
    return real_urlopen(url, *args, **kwargs)


urllib.request.urlopen = urlopen

# rdflib opens URLs itself (the SHACL model is parsed from its URL): give it the local file.
import rdflib  # noqa: E402

real_parse = rdflib.Graph.parse


def parse(self, source=None, *args, **kwargs):
    if isinstance(source, str) and source in LOCAL:
        kwargs.setdefault("format", "turtle")
        return real_parse(self, str(LOCAL[source]), *args, **kwargs)
    return real_parse(self, source, *args, **kwargs)


rdflib.Graph.parse = parse

# …and fetches the JSON-LD context of each document through its own loader.
import rdflib.plugins.shared.jsonld.context as jsonld_context  # noqa: E402

real_source_to_json = jsonld_context.source_to_json


def source_to_json(source, *args, **kwargs):
    if isinstance(source, str) and source in LOCAL:
        source = LOCAL[source]
    return real_source_to_json(source, *args, **kwargs)


jsonld_context.source_to_json = source_to_json

args = ["--quiet"]
for path in sys.argv[1:]:
    args += ["--json", path]
sys.exit(spdx3_validate.main.main(args))
