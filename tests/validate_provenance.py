#!/usr/bin/env python3
"""Validates an in-toto Statement v1 carrying SLSA v1 provenance against the in-toto attestation
framework's own models (pip install in-toto-attestation): the statement and the predicate are
parsed strictly into its protobuf types (an unknown or misspelt field is an error), then checked
with its validators and the SLSA v1 required fields. Exit 0 when valid, 1 with the error when not,
3 when the library is missing."""
import json
import sys

try:
    from google.protobuf import json_format
    from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
    from in_toto_attestation.v1 import statement_pb2
    from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
    from in_toto_attestation.v1.statement import Statement
except ImportError as e:  # pragma: no cover
    print(f"in-toto-attestation is not installed: {e}", file=sys.stderr)
    sys.exit(3)

try:
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    statement = Statement.copy_from_pb(json_format.ParseDict(doc, statement_pb2.Statement()))
    statement.validate()
    if statement.pb.predicate_type != "https://slsa.dev/provenance/v1":
        raise ValueError(f"predicateType is {statement.pb.predicate_type}")
    prov = json_format.ParseDict(doc["predicate"], provenance_pb2.Provenance())
    bd, rd = prov.build_definition, prov.run_details
    # SLSA v1: buildType, externalParameters and builder.id are REQUIRED.
    if not bd.build_type or not bd.HasField("external_parameters") or not rd.builder.id:
        raise ValueError("buildType, externalParameters and runDetails.builder.id are required")
    for dep in bd.resolved_dependencies:
        ResourceDescriptor.copy_from_pb(dep).validate()
except (ValueError, KeyError, json_format.ParseError) as e:
    print(f"invalid SLSA v1 provenance statement: {e}", file=sys.stderr)
    sys.exit(1)
print("valid in-toto Statement v1 with SLSA v1 provenance")
