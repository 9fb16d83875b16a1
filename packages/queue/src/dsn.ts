import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { buildMessage, type BuiltMessage } from '@smtpkit/mime';
import type { DsnOptions, RecipientStatus, StoredMessage } from './types.js';

/** Largest part of the original message returned in the report: its header section only (RFC 3462 §1). */
const MAX_RETURNED_HEADERS = 64 * 1024;

function headerSection(body: Uint8Array): string {
  const bytes = Buffer.from(body.buffer, body.byteOffset, Math.min(body.byteLength, MAX_RETURNED_HEADERS));
  const end = bytes.indexOf('\r\n\r\n');
  const text = bytes.toString('utf8', 0, end < 0 ? bytes.length : end + 2);
  return text.replace(/\r?\n/g, '\r\n');
}

// RFC 3464 §2.3.4: Status is a 3-digit RFC 3463 code; a failed recipient without one gets a generic 5.0.0 or,
// when it expired, 4.4.7 (message too old).
function statusOf(r: RecipientStatus): string {
  if (r.reply?.enhanced !== undefined) return r.reply.enhanced;
  if (r.state === 'expired') return '4.4.7';
  return r.reply?.code !== undefined && r.reply.code < 500 ? '4.0.0' : '5.0.0';
}

function oneLine(text: string): string {
  return text.replace(/[\r\n\t]+/g, ' ').replace(/[^\x20-\x7e]/g, '?').slice(0, 900);
}

/** The message/delivery-status body (RFC 3464 §2): per-message fields, then one block per recipient. */
export function deliveryStatus(message: StoredMessage, failed: readonly RecipientStatus[], options: DsnOptions, arrival: Date): string {
  const lines = [`Reporting-MTA: dns; ${options.reportingMta}`, `X-Smtpkit-Queue-ID: ${message.id}`, `Arrival-Date: ${arrival.toUTCString()}`, ''];
  for (const r of failed) {
    lines.push(`Final-Recipient: rfc822; ${r.recipient}`, 'Action: failed', `Status: ${statusOf(r)}`);
    if (r.reply?.host !== undefined) lines.push(`Remote-MTA: dns; ${oneLine(r.reply.host)}`);
    if (r.reply?.code !== undefined) lines.push(`Diagnostic-Code: smtp; ${r.reply.code} ${oneLine(r.reply.text)}`);
    else if (r.reply !== undefined) lines.push(`X-Smtpkit-Diagnostic: ${oneLine(r.reply.text)}`);
    lines.push('');
  }
  return lines.join('\r\n');
}

/**
 * Builds the RFC 3464 / RFC 6522 report for the recipients of `message` that failed (bounced or expired): a
 * human-readable part, the machine-readable `message/delivery-status`, and the original header section
 * (`text/rfc822-headers`). The caller sends it from `<>` (RFC 5321 §4.5.5) to `message.from`.
 */
export function buildDsn(message: StoredMessage, failed: readonly RecipientStatus[], original: Uint8Array, options: DsnOptions): BuiltMessage {
  const boundary = `smtpkit-report-${randomBytes(12).toString('hex')}`;
  const expired = failed.every((r) => r.state === 'expired');
  const human = [
    `This is the mail system at ${options.reportingMta}.`,
    '',
    expired
      ? 'Your message could not be delivered to the recipients below before the queue gave up retrying.'
      : 'Your message could not be delivered to the recipients below.',
    '',
    ...failed.map((r) => `<${r.recipient}>: ${r.reply ? oneLine(`${r.reply.code ?? ''} ${r.reply.text}`.trim()) : r.state}`),
    '',
  ].join('\r\n');
  const parts = [
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    'Content-Description: Notification',
    '',
    human,
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    'Content-Description: Delivery report',
    '',
    deliveryStatus(message, failed, options, new Date(message.enqueuedAt)),
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    'Content-Description: Undelivered message headers',
    '',
    headerSection(original),
    `--${boundary}--`,
    '',
  ].join('\r\n');
  return buildMessage({
    from: options.from,
    to: message.from,
    subject: expired ? 'Delayed Mail (gave up retrying): Undelivered Mail Returned to Sender' : 'Undelivered Mail Returned to Sender',
    text: parts,
    headers: [
      ['Content-Type', `multipart/report; report-type=delivery-status; boundary="${boundary}"`],
      ['Content-Transfer-Encoding', '8bit'],
      ['Auto-Submitted', 'auto-replied'],
    ],
    transferEncoding: { eightBit: true },
    dangerouslyAllowStructuralHeaders: true,
  });
}
