"""Raw-byte tests of the stream codecs: the upstream SSE and NDJSON decoders and the
downstream SSE encoder."""

from __future__ import annotations

import orjson
import pytest

from llms.core.errors import UpstreamTimeout
from llms.core.types import Chunk
from llms.server.openai_chat import DONE, encode_chunk
from llms.server.openai_chat import error_event as encode_error
from llms.transport import NDJSONDecoder, SSEDecoder
from llms.transport.codecs import StreamTooLarge

STREAM = (
    b": keep-alive comment\n\n"
    b'data: {"a":1}\n\n'
    b"event: message\r\n"
    b'data: {"b":\r\n'
    b"data: 2}\r\n\r\n"
    b"id: 7\r"
    b'data:{"c":3}\r\r'
    b"data: [DONE]\n\n"
)


def _all_events(decoder: SSEDecoder, pieces: list[bytes]) -> list[tuple[bytes, str | None, str | None]]:
    out = []
    for p in pieces:
        out += decoder.feed(p)
    out += decoder.flush()
    return [(e.data, e.event, e.id) for e in out]


EXPECTED = [
    (b'{"a":1}', None, None),
    (b'{"b":\n2}', "message", None),
    (b'{"c":3}', None, "7"),
    (b"[DONE]", None, "7"),
]


def test_sse_whole_stream():
    assert _all_events(SSEDecoder(), [STREAM]) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 13])
def test_sse_any_split(size):
    pieces = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]
    assert _all_events(SSEDecoder(), pieces) == EXPECTED


def test_sse_every_single_split_point():
    for cut in range(1, len(STREAM)):
        assert _all_events(SSEDecoder(), [STREAM[:cut], STREAM[cut:]]) == EXPECTED, cut


def test_sse_whole_events_per_read_decode_like_byte_by_byte():
    # What upstreams send: one or more whole `data:` events per read (the decoder's fast
    # path), mixed with reads it must leave to the general path.
    reads = [
        b'data: {"a":1}\n\n',
        b'data:{"b":2}\n\ndata: {"c":3}\n\n',
        b"id: 9\n\n",  # sets the last event id, no event
        b'data: {"d":4}\n\n',  # keeps id 9
        b"event: delta\n",  # an event name, then its data in the next read
        b'data: {"e":5}\n\n',
        b'data: {"f":\ndata: 6}\n\n',  # multi-line data
        b"\n\n",
        b"data: [DONE]\n\n",
    ]
    whole = b"".join(reads)
    byte_by_byte = _all_events(SSEDecoder(), [whole[i : i + 1] for i in range(len(whole))])
    assert _all_events(SSEDecoder(), reads) == byte_by_byte
    assert byte_by_byte[3] == (b'{"d":4}', None, "9")
    assert byte_by_byte[4] == (b'{"e":5}', "delta", "9")


def test_sse_whole_event_read_after_a_partial_line_continues_that_line():
    d = SSEDecoder()
    assert d.feed(b"data: ab") == []  # a line still without its end
    assert [e.data for e in d.feed(b"data: cd\n\n")] == [b"abdata: cd"]


def test_sse_final_event_without_blank_line_and_pending():
    d = SSEDecoder()
    assert d.feed(b'data: {"x":1}') == []
    assert d.pending
    assert [e.data for e in d.flush()] == [b'{"x":1}']
    assert not d.pending


def test_sse_comments_only_give_no_events():
    d = SSEDecoder()
    assert d.feed(b": ping\n\n: ping\n\n") == []
    assert not d.pending


def test_ndjson_any_split():
    data = b'{"a":1}\n\n{"b":2}\r\n{"c":3}'
    for cut in range(1, len(data)):
        d = NDJSONDecoder()
        lines = d.feed(data[:cut]) + d.feed(data[cut:]) + d.flush()
        assert [orjson.loads(x) for x in lines] == [{"a": 1}, {"b": 2}, {"c": 3}], cut


def test_encode_chunk_forwards_raw_bytes_untouched():
    raw = b'{"id":"x","choices":[],  "odd_spacing":true}'
    assert encode_chunk(Chunk({"id": "x"}, raw)) == b"data: " + raw + b"\n\n"


def test_encode_chunk_serialises_when_no_raw_or_multiline():
    assert encode_chunk(Chunk({"a": 1})) == b'data: {"a":1}\n\n'
    assert encode_chunk(Chunk({"a": 1}, b'{"a":\n1}')) == b'data: {"a":1}\n\n'


def test_encode_error_and_done():
    frame = encode_error(UpstreamTimeout("timeout: stalled", provider="groq"))
    assert frame.startswith(b"data: ") and frame.endswith(b"\n\n")
    body = orjson.loads(frame[6:])
    assert body == {
        "error": {"message": "timeout: stalled", "type": "timeout", "param": None, "code": "upstream_timeout"}
    }
    assert DONE == b"data: [DONE]\n\n"


def test_long_line_in_many_reads():
    # a (just under) 16 MiB event in 4 KiB reads (quadratic buffering would make this test take minutes)
    payload = b'{"x":"' + b"a" * (16 * 2**20 - 16) + b'"}'
    data = b"data: " + payload + b"\n\n"
    for decoder_cls, frame in ((SSEDecoder, data), (NDJSONDecoder, payload + b"\n")):
        d = decoder_cls()
        out = []
        for i in range(0, len(frame), 4096):
            out += d.feed(frame[i : i + 4096])
        assert len(out) == 1
        assert (out[0].data if decoder_cls is SSEDecoder else out[0]) == payload


def test_an_endless_event_is_cut_at_its_cap():
    # many `data:` lines and never the blank line: the decoder must not hold them without bound
    d = SSEDecoder(max_event=10_000)
    with pytest.raises(StreamTooLarge, match="an SSE event is over 10000 bytes"):
        for _ in range(100):
            d.feed(b"data: " + b"x" * 999 + b"\n")


def test_the_event_cap_counts_one_event_at_a_time():
    d = SSEDecoder(max_event=3000)
    events = []
    for _ in range(50):
        events += d.feed(b"data: " + b"x" * 1000 + b"\ndata: y\n\n")
    assert len(events) == 50
