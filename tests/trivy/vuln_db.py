"""A trivy vulnerability database (schema 2) holding given advisories, for tests that run offline.

trivy reads its database from CACHE/db/trivy.db (a bbolt file) and CACHE/db/metadata.json; with
`--skip-db-update --offline-scan` it never downloads one. The layout written here is trivy-db's:
  - bucket "cargo::GitHub Security Advisory Cargo" → bucket <crate name> → <advisory id> →
    {"VulnerableVersions": [...], "PatchedVersions": [...]}
  - bucket "data-source" → <that bucket's name> → {"ID", "Name", "URL"}
  - bucket "vulnerability" → <advisory id> → {"Title", "Severity", "Description"}

The bbolt file is written by PyPI's `boltdb` (a Python port of bolt), which leaves the meta pages'
checksum at 0; bbolt (Go) refuses that, so the FNV-1a checksum is set afterwards.

usage: vuln_db.py CACHE_DIR CRATE:VULNERABLE_RANGE:ADVISORY_ID ...
"""

import json
import os
import struct
import sys

from boltdb import BoltDB

SOURCE = "cargo::GitHub Security Advisory Cargo"


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for byte in data:
        h ^= byte
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def set_meta_checksums(path):
    """bbolt's meta page: a 16-byte page header, then magic, version, page size, flags (4 × u32),
    the root bucket (2 × u64), freelist, pgid, txid (3 × u64) and the checksum of those 56 bytes."""
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        page_size = struct.unpack_from("<I", data, 16 + 8)[0]
        for page in range(2):
            meta = page * page_size + 16
            struct.pack_into("<Q", data, meta + 56, fnv1a64(data[meta : meta + 56]))
        f.seek(0)
        f.write(data)


def main(cache, advisories):
    db_dir = os.path.join(cache, "db")
    os.makedirs(db_dir, exist_ok=True)
    path = os.path.join(db_dir, "trivy.db")
    if os.path.exists(path):
        os.remove(path)
    db = BoltDB(path)
    with db.update() as tx:
        cargo = tx.create_bucket(SOURCE.encode())
        vulns = tx.create_bucket(b"vulnerability")
        for spec in advisories:
            crate, vulnerable, advisory = spec.split(":", 2)
            package = cargo.bucket(crate.encode()) or cargo.create_bucket(crate.encode())
            package.put(
                advisory.encode(),
                json.dumps({"VulnerableVersions": [vulnerable], "PatchedVersions": []}).encode(),
            )
            vulns.put(
                advisory.encode(),
                json.dumps(
                    {"Title": f"test advisory for {crate}", "Severity": "HIGH", "Description": "test"}
                ).encode(),
            )
        sources = tx.create_bucket(b"data-source")
        sources.put(
            SOURCE.encode(),
            json.dumps(
                {"ID": "ghsa", "Name": "GitHub Security Advisory Cargo", "URL": "https://github.com/advisories"}
            ).encode(),
        )
    del db  # BoltDB.__del__ closes the file (an explicit close() would close it twice)
    set_meta_checksums(path)
    with open(os.path.join(db_dir, "metadata.json"), "w") as f:
        json.dump(
            {
                "Version": 2,
                "NextUpdate": "2099-01-01T00:00:00Z",
                "UpdatedAt": "2026-01-01T00:00:00Z",
                "DownloadedAt": "2026-01-01T00:00:00Z",
            },
            f,
        )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
