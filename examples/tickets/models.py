"""The values passed between the tickets operations. They cross a process boundary
(`tickets.classify` runs in a process pool), so they are plain picklable pydantic models."""

from __future__ import annotations

from pydantic import BaseModel


class Ticket(BaseModel):
    id: str
    customer: str
    plan: str
    subject: str
    body: str


class Inbox(BaseModel):
    mailbox: str
    tickets: list[Ticket]


class ClassifiedTicket(BaseModel):
    ticket: Ticket
    category: str
    confidence: float
    urgent: bool


class Classified(BaseModel):
    tickets: list[ClassifiedTicket]


class RoutedTicket(BaseModel):
    ticket: Ticket
    category: str
    queue: str
    priority: str


class Routing(BaseModel):
    tickets: list[RoutedTicket]


class StoreReport(BaseModel):
    """What the `tickets` flow returns, counted from the database after the write."""

    stored: int
    total_in_db: int
    by_queue: dict[str, int]
    by_priority: dict[str, int]
