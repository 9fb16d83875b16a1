/** Sender and recipient of every benchmark message; the servers discard everything. */
export const FROM = 'bench@example.com';
export const TO = 'sink@example.com';

/**
 * Octets of the headers a client writes around a composed message's text (From, To, Subject, Date, Message-ID,
 * MIME-Version, Content-Type, Content-Transfer-Encoding): about what @smtpkit/mime writes, so that composed
 * messages are about as large as the pre-built ones.
 */
export const COMPOSED_HEADERS = 270;

/** Subject of every benchmark message. */
export const SUBJECT = 'smtpkit bench';

/**
 * A plain-text message of about `size` octets (headers included), CRLF line endings, 76-character lines, no line
 * starting with "." so that no peer pays for dot-stuffing the others do not.
 */
export function makeMessage(size: number, seq = 0): Buffer {
  const head =
    `From: Bench <${FROM}>\r\nTo: <${TO}>\r\nSubject: ${SUBJECT} ${seq}\r\n` +
    `Date: Mon, 23 Nov 2026 12:00:00 +0000\r\nMessage-ID: <bench.${seq}@example.com>\r\n` +
    'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n';
  return Buffer.from(head + makeText(size - head.length), 'latin1');
}

/**
 * The text of a message body of about `size` octets: the same 76-character lines as {@link makeMessage}, for the
 * composed rows, where each client builds the message around it (a composed message comes out about as large).
 */
export function makeText(size: number): string {
  const line = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod temp\r\n';
  let body = '';
  while (body.length + line.length <= size) body += line;
  const rest = size - body.length;
  if (rest > 2) body += 'x'.repeat(rest - 2) + '\r\n';
  return body;
}
