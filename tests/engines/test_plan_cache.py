import dataclasses
import json

import pytest

from engines.plan_cache import PlanCache, PlanKey, default_cache_dir

KEY = PlanKey("ab" * 32, "10.3.0", "NVIDIA H100 80GB HBM3", "9.0", "fp16", (1, 64, 512))
CHANGES = {"onnx_sha256": "cd" * 32, "tensorrt_version": "10.5.0", "gpu_name": "NVIDIA A100-SXM4-40GB",
           "compute_capability": "8.0", "precision": "fp32", "profile": (1, 64, 1024)}


class PlanBuilder:
    """Builds a 'plan' (bytes naming the key it was built for) and deserialises it, counting builds."""

    def __init__(self):
        self.builds = 0

    def build_for(self, key):
        def build():
            self.builds += 1
            return json.dumps({"built_for": key.digest(), "n": self.builds}).encode()
        return build

    @staticmethod
    def deserialize(plan: bytes) -> dict:
        return json.loads(plan.decode())  # raises on a damaged plan, like deserialize_cuda_engine failing


def test_key_digest_changes_with_each_field():
    digests = {KEY.digest()}
    for field, value in CHANGES.items():
        changed = dataclasses.replace(KEY, **{field: value})
        assert changed.digest() not in digests, field
        digests.add(changed.digest())
        assert changed.differences(KEY.as_dict()) == [f"{field}: {KEY.as_dict()[field]!r} -> "
                                                      f"{changed.as_dict()[field]!r}"]
    assert len(digests) == 1 + len(CHANGES)
    assert KEY.digest() == PlanKey(**{**dataclasses.asdict(KEY)}).digest()


def test_first_use_builds_then_the_cache_serves(tmp_path):
    cache, builder = PlanCache(tmp_path / "plans"), PlanBuilder()
    engine, status = cache.load_or_build("scattering", KEY, builder.build_for(KEY), builder.deserialize)
    assert status == "built: no cached plan" and builder.builds == 1
    assert engine["built_for"] == KEY.digest()
    again, status = cache.load_or_build("scattering", KEY, builder.build_for(KEY), builder.deserialize)
    assert status == "cached" and builder.builds == 1 and again == engine
    assert (tmp_path / "plans" / "scattering-fp16.trtplan").is_file()
    assert json.loads((tmp_path / "plans" / "scattering-fp16.json").read_text())["digest"] == KEY.digest()


@pytest.mark.parametrize("field", list(CHANGES))
def test_plan_built_for_another_key_is_rebuilt(tmp_path, field, caplog):
    cache, builder = PlanCache(tmp_path), PlanBuilder()
    cache.load_or_build("encoder", KEY, builder.build_for(KEY), builder.deserialize)
    new = dataclasses.replace(KEY, **{field: CHANGES[field]})
    caplog.set_level("WARNING", logger="engines.plan_cache")
    engine, status = cache.load_or_build("encoder", new, builder.build_for(new), builder.deserialize)
    if field == "precision":  # another precision has its own slot: a first build, not a mismatch
        assert status == "built: no cached plan"
    else:
        assert status.startswith(f"built: key mismatch ({field}: ")
        assert "key mismatch" in caplog.text and field in caplog.text
    assert builder.builds == 2 and engine["built_for"] == new.digest()
    assert cache.load_or_build("encoder", new, builder.build_for(new), builder.deserialize)[1] == "cached"


def test_corrupt_plan_file_is_rebuilt(tmp_path):
    cache, builder = PlanCache(tmp_path), PlanBuilder()
    cache.load_or_build("encoder", KEY, builder.build_for(KEY), builder.deserialize)
    plan_path, _ = cache.slot("encoder", "fp16")
    plan_path.write_bytes(plan_path.read_bytes()[:-3])
    _, status = cache.load_or_build("encoder", KEY, builder.build_for(KEY), builder.deserialize)
    assert status == "built: encoder-fp16.trtplan is corrupt (SHA-256 differs from the one recorded)"
    assert builder.builds == 2


def test_plan_that_fails_to_load_is_rebuilt(tmp_path, caplog):
    cache, builder = PlanCache(tmp_path), PlanBuilder()
    cache.store("scattering", KEY, b"\x00 not a plan")  # stored with a valid key and hash, but unloadable
    caplog.set_level("WARNING", logger="engines.plan_cache")
    engine, status = cache.load_or_build("scattering", KEY, builder.build_for(KEY), builder.deserialize)
    assert status.startswith("built: cached plan failed to load (")
    assert "failed to load" in caplog.text and engine["built_for"] == KEY.digest()
    assert cache.load_or_build("scattering", KEY, builder.build_for(KEY), builder.deserialize)[1] == "cached"


def test_unreadable_key_file_is_rebuilt(tmp_path):
    cache, builder = PlanCache(tmp_path), PlanBuilder()
    cache.load_or_build("scattering", KEY, builder.build_for(KEY), builder.deserialize)
    cache.slot("scattering", "fp16")[1].write_text("{not json")
    _, status = cache.load_or_build("scattering", KEY, builder.build_for(KEY), builder.deserialize)
    assert status.startswith("built: unreadable key file scattering-fp16.json")


def test_default_cache_dir_is_beside_a_writable_bundle(tmp_path):
    assert default_cache_dir(tmp_path) == tmp_path / "plans"
