"""Model → ordered provider candidates; retries, circuit breakers, the request time budget
and failover between them."""

from .breaker import BreakerPolicy
from .budget import BudgetExceeded
from .failover import DEFAULT_BUDGET, CommittedStream, Router, RouterPolicy, Table
from .lanes import ProviderPolicy, Unavailable
from .retry import RetryPolicy

__all__ = [
    "DEFAULT_BUDGET",
    "BreakerPolicy",
    "BudgetExceeded",
    "CommittedStream",
    "ProviderPolicy",
    "RetryPolicy",
    "Router",
    "RouterPolicy",
    "Table",
    "Unavailable",
]
