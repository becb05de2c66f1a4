"""Resumable outputs know which weights made them: a retrained model under an old name is never mixed in."""

from __future__ import annotations

import shutil

from reasoner.jobs import JobConfig
from reasoner.engine.models import BUNDLED_DIR, weights_fingerprint
from reasoner.eval.sweep import stale_models


def copy_of_tiny(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(BUNDLED_DIR / "tiny", folder)
    return folder


def flip_byte(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_fingerprint_is_stable_and_follows_the_weights(tmp_path):
    folder = copy_of_tiny(tmp_path)
    before = weights_fingerprint(str(folder))
    assert before == weights_fingerprint(str(folder)) == weights_fingerprint("tiny")
    weights = folder / "model.safetensors"
    flip_byte(weights, weights.stat().st_size // 2)
    assert weights_fingerprint(str(folder)) != before
    assert weights_fingerprint("small") != weights_fingerprint("tiny")


def big_model_folder(tmp_path, megabytes=6):
    """A folder that resolves as a model, with one weight file larger than any head-and-tail window."""
    import os

    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(os.urandom(megabytes << 20))
    return folder


def test_a_change_in_the_middle_of_a_large_weight_file_changes_the_fingerprint(tmp_path):
    folder = big_model_folder(tmp_path)
    weights = folder / "model.safetensors"
    before = weights_fingerprint(str(folder))
    flip_byte(weights, weights.stat().st_size // 2)
    assert weights_fingerprint(str(folder)) != before


def test_fingerprint_is_cached_by_path_size_and_mtime(tmp_path):
    import os

    folder = big_model_folder(tmp_path, megabytes=1)
    weights = folder / "model.safetensors"
    before = weights_fingerprint(str(folder))
    stat = weights.stat()
    flip_byte(weights, 10)
    # Same size and the old mtime: the cached digest is used, so the file is not read again.
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert weights_fingerprint(str(folder)) == before
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert weights_fingerprint(str(folder)) != before


def test_names_that_are_not_local_folders_have_no_fingerprint(tmp_path):
    assert weights_fingerprint("hub:org/name") is None
    assert weights_fingerprint("gpt-served-elsewhere") is None


def test_job_hash_changes_with_the_weights(tmp_path):
    folder = copy_of_tiny(tmp_path)
    config = JobConfig(dataset="arith", model=str(folder))
    before = config.hash
    flip_byte(folder / "model.safetensors", 1000)
    assert config.hash != before


def test_sweep_names_models_whose_records_came_from_other_weights():
    records = [{"model": "tiny", "weights": "aaa"}, {"model": "small", "weights": "bbb"},
               {"model": "small", "weights": "bbb"}, {"model": "old", "weights": "zzz"}]
    assert stale_models(records, {"tiny": "aaa", "small": "bbb"}) == []
    assert stale_models(records, {"tiny": "ccc", "small": "bbb"}) == ["tiny"]
    # Records written before they carried a fingerprint cannot be trusted either.
    assert stale_models([{"model": "tiny"}], {"tiny": "aaa"}) == ["tiny"]


def test_sweep_refuses_to_resume_over_other_weights(tmp_path, verifiers):
    import json

    import pytest

    from reasoner.errors import ResumeMismatchError
    from reasoner.eval.sweep import make_config, run_sweep

    config = make_config(dataset="arith", limit=2, models="tiny", strategies="cot", budgets="1")
    out = tmp_path / "sweep"
    out.mkdir()
    record = {"problem_id": "arith-test-00000", "model": "tiny", "run": "cot@1", "weights": "retrained",
              "config_hash": config.generation_hash, "candidates": []}
    (out / "results.jsonl").write_text(json.dumps(record) + "\n")
    before = (out / "results.jsonl").read_text()

    def no_engine(model):
        raise AssertionError("the check must come before any generation")

    with pytest.raises(ResumeMismatchError, match="tiny made with other weights"):
        run_sweep(config, out, no_engine, verifiers, progress=False)
    assert (out / "results.jsonl").read_text() == before


def test_a_job_with_a_retrained_prm_does_not_resume_the_old_prms_records(tmp_path):
    folder = tmp_path / "prm"
    shutil.copytree(BUNDLED_DIR / "tiny-prm", folder)
    weights = next(folder.glob("*.safetensors"))

    def job(**scorer_options):
        return JobConfig(dataset="arith", strategy="best_of_n", model="tiny",
                         strategy_options={"n": 4, "scorer": "prm", "scorer_options": scorer_options})

    before = job(prm=str(folder)).hash
    assert job(prm=str(folder)).hash == before
    flip_byte(weights, weights.stat().st_size // 2)
    assert job(prm=str(folder)).hash != before
    # A job without a PRM (and without engine options) keeps the digest it had before PRM weights and engine
    # options were hashed.
    plain = JobConfig(dataset="arith", strategy="cot", model="tiny")
    from reasoner.jobs.runner import config_digest

    before_fields = plain.model_dump(mode="json", exclude={"engine_options"})
    assert plain.hash == config_digest({**before_fields, "weights": weights_fingerprint("tiny")})
