import csv

import numpy as np

from app.demo import DEFAULT_RECORD, DEMO_DIR, RECORDS
from core.records import open_record


def test_one_demo_record_per_class_with_its_reference_label(data_dir):
    with open(data_dir / "cinc2017" / "REFERENCE-v3.csv") as f:
        labels = dict(csv.reader(f))
    assert set(RECORDS) == {"N", "A", "O", "~"}
    assert DEFAULT_RECORD == RECORDS["N"]
    for label, path in RECORDS.items():
        assert labels[path.name] == label
        rec = open_record(path)
        assert rec.fs == 300.0 and 9 <= rec.duration_s <= 30
        # shipped unchanged: the same samples as the shared data
        np.testing.assert_array_equal(rec.signal, open_record(data_dir / "cinc2017" / path.name).signal)


def test_demo_readme_attributes_the_data():
    text = (DEMO_DIR / "README.md").read_text()
    for needed in ("ODC-By 1.0", "Clifford", "Goldberger", "Circulation 101(23)", "A00004 | A"):
        assert needed in text
