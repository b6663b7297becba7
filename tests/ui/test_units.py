"""The UI's pure parts, run in the browser as the page loads them: the SSE parser over awkward
chunkings, the request built from a conversation, and the numbers shown to people."""

from __future__ import annotations


def run(session, module: str, body: str):  # type: ignore[no-untyped-def]
    page = session.open()
    return page.evaluate(f"async () => {{ const m = await import('/ui/js/{module}'); {body} }}")


def test_sse_parser_handles_any_chunking(session):
    events = run(
        session,
        "sse.js",
        """
        const enc = new TextEncoder();
        const wire = ': keep-alive\\r\\n\\r\\ndata: {"a":1}\\r\\n\\r\\ndata: line one\\ndata: line two\\n\\n'
                   + 'event: x\\ndata:{"b":"é"}\\n\\ndata: [DONE]\\n\\ndata: never finished';
        const bytes = enc.encode(wire);
        const results = [];
        for (const size of [1, 2, 3, 7, bytes.length]) {   // every split, incl. inside CRLF and UTF-8
            const p = new m.SseParser();
            const out = [];
            for (let i = 0; i < bytes.length; i += size) out.push(...p.push(bytes.slice(i, i + size)));
            out.push(...p.push(null));
            results.push(out);
        }
        return results;
        """,
    )
    expected = ['{"a":1}', "line one\nline two", '{"b":"é"}', "[DONE]"]
    assert events == [expected] * 5


def test_request_messages_system_images_files_and_skipped_failures(session):
    out = run(
        session,
        "runner.js",
        """
        const conv = {system: 'Be brief.', params: {temperature: '0.5', max_tokens: '', top_p: null,
                      reasoning_effort: 'high'}, messages: [
            {role: 'user', content: 'Hi', attachments: [{kind: 'text', name: 'a.py', text: 'x = 1'}]},
            {role: 'assistant', content: '', error: {message: 'boom'}},
            {role: 'user', content: 'Look',
             attachments: [{kind: 'image', name: 'i.png', dataUrl: 'data:image/png;base64,AA=='}]},
            {role: 'assistant', content: 'A dot.'},
            {role: 'user', content: 'Thanks'},
        ]};
        return {messages: m.requestMessages(conv), params: m.requestParams(conv.params)};
        """,
    )
    assert out["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi\n\na.py:\n```python\nx = 1\n```"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}},
            ],
        },
        {"role": "assistant", "content": "A dot."},
        {"role": "user", "content": "Thanks"},
    ]
    assert out["params"] == {"temperature": 0.5, "reasoning_effort": "high"}


def test_numbers_for_people(session):
    out = run(
        session,
        "format.js",
        """
        const p = m.parsePricing('0.000003/0.000015');
        return [
            m.formatCost(m.costOf({prompt_tokens: 1000, completion_tokens: 500}, p)),
            m.formatCost(0), m.formatCost(1.23456), m.formatCost(null),
            m.formatMs(42.4), m.formatMs(1234), m.formatMs(75000),
            m.formatPricePerMillion(p), m.formatPricePerMillion({input: 0, output: 0}),
            m.parsePricing('free'), m.formatCount(12345),
        ];
        """,
    )
    assert out == [
        "$0.0105",
        "$0",
        "$1.2346",
        "",
        "42 ms",
        "1.23 s",
        "1 min 15 s",
        "$3 / $15 per 1M",
        "free",
        None,
        "12,345",
    ]
