"""Progress is saved atomically, survives a restart and a corrupt file never crashes."""

from __future__ import annotations

import json
import threading

import pytest

from numdl.exercises import ProgressStore, data_dir


def test_data_dir_follows_numdl_home(numdl_home):
    assert data_dir() == numdl_home
    assert ProgressStore().path == numdl_home / "progress.json"


def test_record_then_read_back_in_a_new_store_as_after_a_restart(tmp_path):
    store = ProgressStore(tmp_path)
    store.record("ch.ex", "def f(): pass", passed=False, summary="0 of 3 cases passed.")
    entry = store.record("ch.ex", "def f(): return 1", passed=True, summary="All 3 cases passed.")
    assert (entry.attempts, entry.passed) == (2, True)
    fresh = ProgressStore(tmp_path).get("ch.ex")
    assert fresh == entry
    assert fresh.code == "def f(): return 1"
    assert fresh.passed_at is not None


def test_passing_is_kept_after_a_later_failure(tmp_path):
    store = ProgressStore(tmp_path)
    first = store.record("ch.ex", "good", passed=True)
    later = store.record("ch.ex", "broken", passed=False)
    assert later.passed and later.passed_at == first.passed_at and later.code == "broken"


def test_writes_leave_no_temporary_files(tmp_path):
    store = ProgressStore(tmp_path)
    for i in range(5):
        store.record(f"ch.ex{i}", "x", passed=bool(i % 2))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [".progress.lock", "progress.json"]
    data = json.loads((tmp_path / "progress.json").read_text())
    assert data["version"] == 1 and len(data["exercises"]) == 5


@pytest.mark.parametrize(
    "content",
    ["{not json", "[]", '{"exercises": {"a": {"code": 1}}}', '{"exercises": 3}', "\x00\x01"],
)
def test_corrupt_file_is_moved_aside_with_a_warning(tmp_path, content):
    (tmp_path / "progress.json").write_text(content)
    store = ProgressStore(tmp_path)
    with pytest.warns(UserWarning, match="not a valid progress file"):
        assert store.all() == {}
    aside = list(tmp_path.glob("progress.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text() == content
    # The learner carries on: the next save works and the next read is clean.
    store.record("ch.ex", "x", passed=True)
    assert ProgressStore(tmp_path).get("ch.ex").passed


def test_concurrent_sessions_do_not_lose_attempts(tmp_path):
    store = ProgressStore(tmp_path)

    def work():
        for _ in range(10):
            ProgressStore(tmp_path).record("ch.shared", "x", passed=False)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get("ch.shared").attempts == 40


def test_reset_one_and_all(tmp_path):
    store = ProgressStore(tmp_path)
    store.record("a", "x", passed=True)
    store.record("b", "y", passed=False)
    store.reset("a")
    assert set(store.all()) == {"b"}
    store.reset()
    assert store.all() == {}


def test_bad_exercise_id_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="exercise_id"):
        ProgressStore(tmp_path).record("", "x", passed=True)
