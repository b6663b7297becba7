"""OpenAI's Responses API spoken inbound (`POST /v1/responses`), stateless: its request becomes
the internal chat request (`request.py`), the internal answer becomes a `response` object
(`response.py`) or the typed stream events the SDK parses (`stream.py`). Pure functions over
dicts and chunks; the codec that plugs them into the pipeline is `server/openai_responses.py`."""
