"""Client API keys and their limits: the key store (beside the ledger, in its database), the
server's copy of the key table (`KeyRing`), admission by RPM/TPM/budget on one process
(`LocalLimiter`) or shared through Redis (`SharedLimiter`), and the operations the CLI and
the admin API share (`KeyAdmin`). A service: built once by `app`, imported by nothing else."""

from .admin import KeyAdmin
from .limiter import Decision, LocalLimiter
from .record import ClientKey
from .ring import KeyRing, Limiter
from .store import KeyExists, KeyNotFound, KeyRefused, KeyStore, open_store

__all__ = ["ClientKey", "Decision", "KeyAdmin", "KeyExists", "KeyNotFound", "KeyRefused", "KeyRing", "KeyStore",
           "Limiter", "LocalLimiter", "open_store"]  # fmt: skip
