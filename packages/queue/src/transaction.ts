import { deliver, type ConnectOptions } from '@smtpkit/client';
import { outcomeOfError, outcomeOfResult, type TransactionOutcome } from './outcome.js';
import type { SessionCache, SessionLease } from './session-cache.js';
import type { RelayTarget, WorkerOptions } from './types.js';

/** One transaction to make: a message's recipients for one destination. */
export interface TransactionInput {
  id: string;
  from: string;
  recipients: readonly string[];
  body: Uint8Array;
  destination: string;
  options: WorkerOptions;
  /** Relay mode: where sessions come from, and the one reserved for this transaction. */
  cache?: SessionCache;
  reserved?: SessionLease | 'new';
  /** Tag of a new session (see {@link SessionLease.tag}). */
  tag?: string;
}

/** The client options for a relay. */
export function relayConnectOptions(target: RelayTarget, options: WorkerOptions): ConnectOptions {
  return {
    host: target.host,
    port: target.port ?? 25,
    ...(target.tls !== undefined ? { tls: target.tls } : {}),
    ...(target.auth !== undefined ? { auth: target.auth } : {}),
    ...(target.ca !== undefined ? { ca: target.ca } : {}),
    ...(target.rejectUnauthorized !== undefined ? { rejectUnauthorized: target.rejectUnauthorized } : {}),
    ...(target.allowInsecureAuth !== undefined ? { allowInsecureAuth: target.allowInsecureAuth } : {}),
    ...(options.clientName !== undefined ? { clientName: options.clientName } : {}),
    ...(options.timeouts !== undefined ? { timeouts: options.timeouts } : {}),
  };
}

/**
 * Sends one message to some of its recipients and says what happened to each: over a relay session, or by
 * `deliver` to the domain's MX hosts. Never throws for SMTP reasons; a failure after the end of data without a
 * reply comes back `ambiguous`.
 */
export async function transact(input: TransactionInput): Promise<TransactionOutcome> {
  const { options, recipients, body } = input;
  const info = { id: input.id, recipients };
  let endOfData = false;
  let rcptDone = false;
  // One transaction per attempt: its outcome is recorded before anything else is sent, so recipients the
  // server defers as over its limit (RFC 5321 §4.5.3.1.10) come back here and are retried by the queue.
  const hooks = {
    onProgress: () => {
      if (rcptDone) return;
      rcptDone = true;
      void options.onStep?.('rcpt-done', info);
    },
    onEndOfData: () => {
      endOfData = true;
      void options.onStep?.('data-ended', info);
    },
  };
  if (options.deliver === 'mx' || input.cache === undefined) {
    const result = await deliver({
      from: input.from, to: recipients, data: body, port: options.mxPort ?? 25, clientName: options.clientName,
      timeouts: options.timeouts, resolver: options.resolver, overLimit: 'report', ...hooks,
    });
    const d = result.domains[0];
    const host = d?.mx ?? input.destination;
    if (d?.result !== undefined) return outcomeOfResult(recipients, d.result, host);
    const error = d?.error;
    const outcome = outcomeOfError(recipients, error, host, endOfData || error?.code === 'ERR_SMTP_OUTCOME_UNKNOWN');
    const reached = d?.attempts.some((a) => a.error === undefined || a.error.replyCode !== undefined) ?? false;
    return reached || outcome.destination !== 'ok' ? outcome : { ...outcome, destination: 'down' };
  }
  const host = input.destination;
  let lease: SessionLease;
  try {
    lease = await input.cache.acquire(input.reserved ?? 'new', input.tag);
  } catch (error) {
    const outcome = outcomeOfError(recipients, error, host, false);
    return outcome.destination === 'ok' ? { ...outcome, destination: 'down' } : outcome;
  }
  try {
    const result = await lease.session.send({ from: input.from, to: recipients, data: body, overLimit: 'report', ...hooks });
    return outcomeOfResult(recipients, result, host);
  } catch (error) {
    return outcomeOfError(recipients, error, host, endOfData);
  } finally {
    await input.cache.release(lease);
  }
}
