"""Shipped demo records: one short PhysioNet/CinC 2017 record per class (see README.md here).

`RECORDS` maps class code (N, A, O, ~) to the record path without extension, ready for
`core.records.open_record`; `DEFAULT_RECORD` is the normal-rhythm one the monitor starts with.
"""

from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent

RECORDS: dict[str, Path] = {
    "N": DEMO_DIR / "A00001",  # normal sinus rhythm
    "A": DEMO_DIR / "A00004",  # atrial fibrillation
    "O": DEMO_DIR / "A00013",  # other rhythm
    "~": DEMO_DIR / "A00034",  # too noisy to classify
}

DEFAULT_RECORD: Path = RECORDS["N"]
