"""The embedded graph store: a SQLite file with a node and an edge table.

The handle is shared by the operations that run after `kg.backend`. Prefect runs tasks in
threads, so its connection is opened with `check_same_thread=False`; writers that run in
parallel (the ingest operations) each open their own short-lived connection instead, with
WAL journaling and a busy timeout so they wait for each other rather than fail.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BUSY_TIMEOUT_S = 30


class Backend:
    """An open graph database. Not picklable on purpose: it never leaves the process."""

    def __init__(self, path: str) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        self.connection.execute("PRAGMA journal_mode=WAL")

    @contextmanager
    def writer(self) -> Iterator[sqlite3.Connection]:
        """A connection of its own for one unit of work, committed on success."""
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
        try:
            with connection:
                yield connection
        finally:
            connection.close()

    def query(self, sql: str, *args: object) -> list[tuple]:
        return self.connection.execute(sql, args).fetchall()

    def close(self) -> None:
        self.connection.close()

    def __reduce__(self):
        raise TypeError("a Backend holds an open database connection and cannot be pickled")
