"""A bundle carries the record head: written, validated, loaded by core, refused when its features differ."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from core.record_features import NAMES
from tests.training.test_record_head import CFG, synthetic
from training import record_head as rh


def test_bundle_carries_the_head_and_refuses_foreign_features(small_bundle, tmp_path):
    from core.record_head import RecordClassifier
    from engines.bundle import load_bundle
    from engines.bundle_spec import BundleError, check_record_block
    from engines.record_head import write_record_head

    out = tmp_path / "b"
    shutil.copytree(small_bundle, out)
    x, y = synthetic()
    head = rh.fit_record_head(x, y, np.arange(len(y)), CFG)
    block = write_record_head(out, head.to_onnx(), {"features": list(NAMES)}, x[:50], head.predict(x[:50]))
    assert block["max_ort_deviation"] < 1e-5
    classifier = RecordClassifier(load_bundle(out))
    np.testing.assert_allclose(classifier.engine.run(x[:5]), head.predict(x[:5]), atol=1e-5)
    manifest = json.loads((out / "manifest.json").read_text())
    with pytest.raises(BundleError, match="lacks field 'features'"):
        check_record_block({k: v for k, v in manifest["record_head"].items() if k != "features"})
    manifest["record_head"]["features"] = list(NAMES[::-1])
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="record_head.features differ"):
        RecordClassifier(load_bundle(out))
