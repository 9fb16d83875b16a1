/** Sender and recipient of every benchmark message; the servers discard everything. */
export const FROM = 'bench@example.com';
export const TO = 'sink@example.com';

/**
 * A plain-text message of about `size` octets (headers included), CRLF line endings, 76-character lines, no line
 * starting with "." so that no peer pays for dot-stuffing the others do not.
 */
export function makeMessage(size: number, seq = 0): Buffer {
  const head =
    `From: Bench <${FROM}>\r\nTo: <${TO}>\r\nSubject: smtpkit bench ${seq}\r\n` +
    `Date: Mon, 23 Nov 2026 12:00:00 +0000\r\nMessage-ID: <bench.${seq}@example.com>\r\n` +
    'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n';
  const line = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod temp\r\n';
  let body = '';
  while (head.length + body.length + line.length <= size) body += line;
  const rest = size - head.length - body.length;
  if (rest > 2) body += 'x'.repeat(rest - 2) + '\r\n';
  return Buffer.from(head + body, 'latin1');
}
