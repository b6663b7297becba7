"""llms: an OpenAI-compatible LLM gateway with ordered failover across providers."""

__version__ = "0.1.0"
