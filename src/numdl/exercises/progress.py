"""Learner progress, saved atomically under ``$NUMDL_HOME``.

One JSON file, ``progress.json``, maps exercise ids to the learner's last code,
whether it passed, how many times it was checked and when.  Every save writes a
temporary file in the same directory and renames it over the old one, so a
crash or a full disk never leaves half a file; a lock file serialises the
read-modify-write of concurrent sessions (each chapter tab is its own session).
A file that cannot be read as progress is moved aside with a warning and the
learner starts afresh: progress is never worth a crash of the tutorial.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["FILE_NAME", "SCHEMA_VERSION", "ExerciseProgress", "ProgressStore", "data_dir"]

FILE_NAME = "progress.json"
SCHEMA_VERSION = 1


def data_dir() -> Path:
    """The directory numdl keeps learner data in: ``$NUMDL_HOME``, else the per-user data dir."""
    env = os.environ.get("NUMDL_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("numdl", appauthor=False))


@dataclass(frozen=True)
class ExerciseProgress:
    """One exercise's saved state."""

    code: str
    passed: bool
    attempts: int
    updated: str  # ISO 8601, UTC
    passed_at: str | None = None
    summary: str = ""


class ProgressStore:
    """Read and update ``progress.json`` in ``directory`` (default :func:`data_dir`)."""

    def __init__(self, directory: str | os.PathLike | None = None) -> None:
        self.directory = Path(directory) if directory is not None else data_dir()

    @property
    def path(self) -> Path:
        return self.directory / FILE_NAME

    # -- reading ---------------------------------------------------------------
    def _load(self) -> dict[str, dict]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            warnings.warn(f"numdl: cannot read {self.path} ({exc}); progress not shown", stacklevel=3)
            return {}
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or not isinstance(data.get("exercises"), dict):
                raise ValueError("not a numdl progress file")
            exercises = data["exercises"]
            for key, entry in exercises.items():
                ExerciseProgress(**entry)  # validates the fields
                if not isinstance(key, str):
                    raise ValueError("bad key")
            return exercises
        except (ValueError, TypeError) as exc:
            self._move_aside(exc)
            return {}

    def _move_aside(self, exc: Exception) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        target = self.path.with_name(f"{FILE_NAME}.corrupt-{stamp}-{os.getpid()}")
        try:
            os.replace(self.path, target)
            where = f"moved it to {target}"
        except OSError as move_exc:
            where = f"could not move it aside ({move_exc})"
        warnings.warn(
            f"numdl: {self.path} is not a valid progress file ({exc}); {where} and started afresh",
            stacklevel=4,
        )

    def get(self, exercise_id: str) -> ExerciseProgress | None:
        """The saved progress of one exercise, or None."""
        with self._locked():
            entry = self._load().get(exercise_id)
        return ExerciseProgress(**entry) if entry else None

    def all(self) -> dict[str, ExerciseProgress]:
        """Every saved exercise, by id."""
        with self._locked():
            return {k: ExerciseProgress(**v) for k, v in self._load().items()}

    # -- writing ---------------------------------------------------------------
    def record(self, exercise_id: str, code: str, passed: bool, summary: str = "") -> ExerciseProgress:
        """Save an attempt: the code, whether it passed, and bump the attempt count.

        Once passed, an exercise stays passed (``passed_at`` keeps the first
        time); a later failing attempt still saves its code.
        """
        if not isinstance(exercise_id, str) or not exercise_id:
            raise ValueError(f"exercise_id={exercise_id!r} must be a non-empty str")
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._locked():
            exercises = self._load()
            old = exercises.get(exercise_id)
            previous = ExerciseProgress(**old) if old else None
            entry = ExerciseProgress(
                code=code,
                passed=passed or bool(previous and previous.passed),
                attempts=(previous.attempts if previous else 0) + 1,
                updated=now,
                passed_at=(previous.passed_at if previous and previous.passed_at else (now if passed else None)),
                summary=summary,
            )
            exercises[exercise_id] = asdict(entry)
            self._write({"version": SCHEMA_VERSION, "exercises": exercises})
        return entry

    def reset(self, exercise_id: str | None = None) -> None:
        """Forget one exercise, or everything when ``exercise_id`` is None."""
        with self._locked():
            exercises = self._load() if exercise_id is not None else {}
            exercises.pop(exercise_id, None)
            self._write({"version": SCHEMA_VERSION, "exercises": exercises})

    def _write(self, data: dict) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".progress-", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=1, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)  # atomic on POSIX: readers see old or new, never half
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def _locked(self):
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            lock = open(self.directory / ".progress.lock", "a+")
        except OSError:
            yield  # read-only home: reads still work, writes will raise with a clear OSError
            return
        with lock:
            deadline = time.monotonic() + 5.0
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        break  # a stuck lock holder must not freeze the tutorial
                    time.sleep(0.01)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
