"""The usage ledger: one `UsageRecord` per client request, handed to a `Sink` that stores it off
the hot path — SQLite by default, PostgreSQL for a shared deployment. Imported only by `app`."""

from .query import Page, SummaryRow
from .record import OUTCOMES, Attempt, Outcome, UsageRecord, new_request_id
from .sink import Sink, SinkStats

__all__ = ["OUTCOMES", "Attempt", "Outcome", "Page", "Sink", "SinkStats", "SummaryRow", "UsageRecord",
           "new_request_id"]
