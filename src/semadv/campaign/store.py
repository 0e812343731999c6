"""Per-sample records in SQLite (WAL). A batch's records are committed in one transaction together with
the batch marker, so a crash at any moment leaves either the whole batch or none of it."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from semadv.errors import InputError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (batch INTEGER PRIMARY KEY, size INTEGER NOT NULL, seconds REAL NOT NULL);
CREATE TABLE IF NOT EXISTS records (idx INTEGER PRIMARY KEY, batch INTEGER NOT NULL, data TEXT NOT NULL);
"""


class Store:
    """``records.sqlite`` of a run directory."""

    def __init__(self, path: str | Path, readonly: bool = False) -> None:
        """Open (and create) the store; ``readonly=True`` opens an existing one without writing anything
        (``semadv report``: a run directory may be read-only, or another run may be writing to it)."""
        self.path = Path(path)
        self.readonly = readonly
        if readonly:
            if not self.path.is_file():
                raise InputError(f"no records store at {self.path}")
            self.db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
            return
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        """Close; a writer leaves the file in rollback-journal mode with the WAL folded in, so that a later
        read-only open (``semadv report``) creates no ``-wal``/``-shm`` files in the run directory. A killed
        writer leaves its WAL, which the next open (reader or writer) uses."""
        if not self.readonly:
            # another connection still reading keeps it in WAL mode, which is still correct
            with contextlib.suppress(sqlite3.OperationalError):
                self.db.execute("PRAGMA journal_mode=DELETE")
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def done_batches(self) -> set[int]:
        return {int(r[0]) for r in self.db.execute("SELECT batch FROM batches")}

    def commit_batch(self, batch: int, rows: list[dict[str, Any]], seconds: float) -> None:
        """Insert ``rows`` (each with an ``idx``) and the batch marker atomically."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany(
                "INSERT INTO records (idx, batch, data) VALUES (?, ?, ?)",
                [(int(r["idx"]), batch, json.dumps(r, sort_keys=True)) for r in rows],
            )
            self.db.execute("INSERT INTO batches (batch, size, seconds) VALUES (?, ?, ?)", (batch, len(rows), seconds))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(r[0]) for r in self.db.execute("SELECT data FROM records ORDER BY idx")]

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])
