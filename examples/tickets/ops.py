"""The tickets operations, each with the retry policy its failure modes call for:

- `tickets.fetch` talks to a mail server: 3 retries with growing delays, a 30 s timeout;
- `tickets.classify` is CPU-bound and deterministic: one retry, in a process pool;
- `tickets.route` is pure rules: no retry (a failure is a bug, not bad luck);
- `tickets.migrate` and `tickets.store` write SQLite: retries for a locked database.

Binding: `classify(inbox: Inbox)` and `route(classified: Classified)` bind by *type*;
`store` names its input explicitly with `inputs=` and waits for `tickets.migrate` with
`depends_on` (ordering, no data); `mailbox` and `db_path` are flow parameters, `db_path`
shared by `migrate` and `store` (same annotation, same default).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from runtime import operation

from .classifier import NaiveBayes, tokens
from .models import Classified, ClassifiedTicket, Inbox, RoutedTicket, Routing, StoreReport, Ticket

DATA = Path(__file__).parent / "data"

URGENT_WORDS = {"urgent", "asap", "down", "outage", "immediately", "blocked"}
QUEUES = {"billing": "finance", "bug": "engineering", "account": "support", "feature": "product"}

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS tickets (
    id TEXT PRIMARY KEY, customer TEXT NOT NULL, subject TEXT NOT NULL,
    category TEXT NOT NULL, queue TEXT NOT NULL, priority TEXT NOT NULL);
"""


@contextmanager
def _database(db_path: str) -> Iterator[sqlite3.Connection]:
    """A connection that commits on success and is always closed."""
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(db_path, timeout=30)) as db, db:
        yield db


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@operation(name="tickets.fetch", retries=3, retry_delay_seconds=[1, 2, 4], timeout_seconds=30, tags=["io"])
async def fetch_tickets(mailbox: str = "support") -> Inbox:
    """Fetch the unread tickets of `mailbox` (a bundled JSON-lines file stands in for IMAP)."""
    path = DATA / f"{mailbox}.jsonl"
    if not path.is_file():
        raise ValueError(f"unknown mailbox {mailbox!r}")
    return Inbox(mailbox=mailbox, tickets=[Ticket(**row) for row in _read_jsonl(path)])


@operation(name="tickets.classify", executor="process", retries=1, tags=["cpu"])
def classify_tickets(inbox: Inbox) -> Classified:
    """Train the classifier on the bundled examples and label every ticket."""
    model = NaiveBayes([(row["text"], row["label"]) for row in _read_jsonl(DATA / "training.jsonl")])
    labelled = []
    for ticket in inbox.tickets:
        text = f"{ticket.subject} {ticket.body}"
        category, confidence = model.predict(text)
        urgent = not URGENT_WORDS.isdisjoint(tokens(text))
        labelled.append(ClassifiedTicket(ticket=ticket, category=category, confidence=confidence, urgent=urgent))
    return Classified(tickets=labelled)


@operation(name="tickets.route")
def route(classified: Classified) -> Routing:
    """Pick each ticket's queue from its category and its priority from urgency and plan."""
    routed = []
    for item in classified.tickets:
        queue = QUEUES[item.category] if item.confidence >= 0.5 else "triage"
        high = item.urgent or item.ticket.plan == "enterprise"
        priority = "p1" if item.urgent and item.ticket.plan == "enterprise" else "p2" if high else "p3"
        routed.append(RoutedTicket(ticket=item.ticket, category=item.category, queue=queue, priority=priority))
    return Routing(tickets=routed)


@operation(name="tickets.migrate", retries=2, retry_delay_seconds=1, tags=["db"])
def migrate(db_path: str = "tickets.sqlite") -> None:
    """Create the tickets table if needed (runs while the tickets are fetched and classified)."""
    with _database(db_path) as db:
        db.executescript(SCHEMA_SQL)


@operation(name="tickets.store", inputs={"batch": "tickets.route"}, depends_on=["tickets.migrate"],
           retries=5, retry_delay_seconds=0.5, tags=["db"])
def store(batch: Routing, db_path: str = "tickets.sqlite") -> StoreReport:
    """Upsert the routed tickets (re-running the flow stores nothing twice)."""
    rows = [(r.ticket.id, r.ticket.customer, r.ticket.subject, r.category, r.queue, r.priority)
            for r in batch.tickets]
    with _database(db_path) as db:
        db.executemany("INSERT OR REPLACE INTO tickets VALUES (?, ?, ?, ?, ?, ?)", rows)
        by_queue = dict(db.execute("SELECT queue, COUNT(*) FROM tickets GROUP BY queue ORDER BY queue"))
        by_priority = dict(db.execute("SELECT priority, COUNT(*) FROM tickets GROUP BY priority ORDER BY priority"))
        total = db.execute("SELECT COUNT(*) FROM tickets").fetchone()[0]
    return StoreReport(stored=len(rows), total_in_db=total, by_queue=by_queue, by_priority=by_priority)
