"""Model → ordered provider candidates, and failover between them."""

from .failover import Router

__all__ = ["Router"]
