"""Anthropic's Messages API spoken inbound (`POST /v1/messages`): its request becomes the
internal OpenAI chat request (`request.py`), the internal answer becomes a Messages answer
(`response.py`) or Anthropic's exact SSE event sequence (`stream.py`), and the gateway's errors
become Anthropic's envelope and statuses (`errors.py`). Pure functions over dicts and chunks;
the codec that plugs them into the pipeline is `server/anthropic_messages.py`."""
