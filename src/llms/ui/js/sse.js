// Server-sent events from a fetch body: bytes in, the `data:` payload of each complete event out.

export class SseParser {
  constructor() {
    this.decoder = new TextDecoder();
    this.buffer = '';
  }

  /** Feeds a chunk of bytes (or `null` at the end); returns the events it completed. */
  push(bytes) {
    this.buffer += bytes ? this.decoder.decode(bytes, { stream: true }) : this.decoder.decode();
    // Normalise CRLF/CR line ends, keeping a trailing CR that may be half of a CRLF.
    const keepCr = this.buffer.endsWith('\r') && bytes;
    let text = keepCr ? this.buffer.slice(0, -1) : this.buffer;
    text = text.replace(/\r\n?/g, '\n');
    const events = [];
    let start = 0;
    let end;
    while ((end = text.indexOf('\n\n', start)) !== -1) {
      const data = dataOf(text.slice(start, end));
      if (data !== null) events.push(data);
      start = end + 2;
    }
    this.buffer = text.slice(start) + (keepCr ? '\r' : '');
    return events;
  }
}

function dataOf(block) {
  const lines = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('data:')) lines.push(line.slice(line.startsWith('data: ') ? 6 : 5));
  }
  return lines.length ? lines.join('\n') : null;
}
