import type { MessageStatus, RecipientStatus, RecipientUpdate, StoredMessage } from './types.js';

/** A log record of the file spool. */
export type SpoolRecord =
  | { t: 'm'; m: StoredMessage }
  | { t: 'u'; id: string; u: RecipientUpdate[] }
  | { t: 'd'; id: string; at: number }
  | { t: 'c'; id: string };

/** True when nothing more will happen to this recipient. */
export function isFinal(r: Pick<RecipientStatus, 'state' | 'nextAttemptAt'>): boolean {
  if (r.state === 'delivered' || r.state === 'bounced' || r.state === 'expired') return true;
  return r.state === 'ambiguous' && r.nextAttemptAt === undefined;
}

/** Applies one recipient update in place (unknown recipients are ignored: they were never queued). */
export function applyUpdates(message: StoredMessage, updates: readonly RecipientUpdate[]): void {
  for (const u of updates) {
    const r = message.recipients.find((x) => x.recipient === u.recipient);
    if (r === undefined) continue;
    r.state = u.state;
    r.attempts = u.attempts;
    if (u.reply === undefined) delete r.reply;
    else r.reply = u.reply;
    if (u.nextAttemptAt === undefined) delete r.nextAttemptAt;
    else r.nextAttemptAt = u.nextAttemptAt;
    if (u.ambiguous === undefined) delete r.ambiguous;
    else r.ambiguous = u.ambiguous;
  }
}

/** Replays records onto a map of messages (the spool's state rebuilt by a scan). */
export function applyRecord(messages: Map<string, StoredMessage>, record: SpoolRecord): void {
  switch (record.t) {
    case 'm':
      messages.set(record.m.id, structuredClone(record.m));
      break;
    case 'u': {
      const m = messages.get(record.id);
      if (m !== undefined) applyUpdates(m, record.u);
      break;
    }
    case 'c': {
      const m = messages.get(record.id);
      if (m !== undefined) m.cancelled = true;
      break;
    }
    case 'd': {
      const m = messages.get(record.id);
      if (m !== undefined) {
        m.done = true;
        m.finishedAt = record.at;
      }
      break;
    }
  }
}

/** The public view of a stored message. */
export function toStatus(m: StoredMessage): MessageStatus {
  return {
    id: m.id,
    from: m.from,
    enqueuedAt: m.enqueuedAt,
    recipients: m.recipients.map((r) => ({ ...r })),
    final: m.recipients.every(isFinal),
    ...(m.cancelled === true ? { cancelled: true } : {}),
  };
}

/** The update that records a recipient as it is now (for building atomic writes). */
export function snapshot(r: RecipientStatus): RecipientUpdate {
  return { ...r };
}
