import { isIP } from 'node:net';
import { SmtpError, parseMailbox, type BodySource, type Reply } from '@smtpkit/wire';
import { inputError, toSmtpError } from './errors.js';
import { connect } from './connect.js';
import { dataSupply, type DataSupply } from './deliver/data.js';
import { nextStep } from './deliver/decide.js';
import { BodyWatch, mayHaveBeenDelivered, outcomeUnknown, watched } from './pool/retry.js';
import { normalizeDomain, resolveAddresses, resolveMailHosts, systemResolver, type MailHost, type MxResolver } from './mx.js';
import type { ConnectFn } from './pool.js';
import { deferredToAnotherSession, withContinuation } from './recipient-limit.js';
import type { ConnectOptions, SendOptions, SendResult, Session, TlsInfo } from './types.js';

/**
 * Options of {@link deliver}: connection settings (no host: it comes from DNS) and the message. MX delivery is SMTP
 * between mail hosts on TCP (RFC 5321 §5): no `protocol` (LMTP is for a local final delivery, RFC 2033) and no `path`.
 */
export interface DeliverOptions extends Omit<ConnectOptions, 'host' | 'stopAfter' | 'path' | 'protocol'>, Omit<SendOptions, 'to' | 'data'> {
  /** Recipients, in any number of domains; one transaction per domain. */
  to: readonly string[];
  /**
   * The message. With recipients in several domains (or to fall back to another MX after the body
   * was read) it must be re-readable: a string, a Uint8Array, an array of chunks, or a function
   * returning a fresh source each time.
   */
  data: BodySource | (() => BodySource);
  /** DNS lookups; default `node:dns/promises`. */
  resolver?: MxResolver;
  /** Orders MX records of equal preference (RFC 5321 §5.1); default `Math.random`. */
  random?: () => number;
  /**
   * Attempts per domain at most: each address of each MX host is one, and so is an MX host whose
   * address lookup failed. Default 10 (RFC 5321 §5.1 allows a limit and asks to try at least two addresses).
   */
  maxAttempts?: number;
  /** Domains delivered at the same time. Default 4. */
  concurrency?: number;
  /** Opens sessions; default {@link connect}. A hook for tests, proxies and instrumentation. */
  connectFn?: ConnectFn;
}

/** One connection attempt to one address of one mail host. */
export interface DeliveryAttempt {
  host: string;
  address?: string;
  /** What TLS gave the session, when it got that far. */
  tls?: TlsInfo | null;
  error?: SmtpError;
}

/** What happened to the recipients of one domain. */
export interface DomainDelivery {
  domain: string;
  recipients: string[];
  /** The mail host that took the transaction. */
  mx?: string;
  result?: SendResult;
  error?: SmtpError;
  attempts: DeliveryAttempt[];
}

/**
 * A recipient not confirmed delivered: refused by its server, or its whole domain failed (with
 * `ERR_SMTP_OUTCOME_UNKNOWN` when the message may have arrived but no reply confirmed it).
 */
export interface DeliveryRejection {
  address: string;
  domain: string;
  error: SmtpError;
  reply?: Reply;
}

/** The outcome of {@link deliver}. */
export interface DeliverResult {
  domains: DomainDelivery[];
  accepted: string[];
  rejected: DeliveryRejection[];
}

const DELIVER_KEYS = ['to', 'data', 'resolver', 'random', 'maxAttempts', 'concurrency', 'connectFn', 'stopAfter'] as const;
const SEND_KEYS = [
  'from',
  'size',
  'smtputf8',
  'eightBit',
  'binary',
  'dsn',
  'requireTls',
  'partial',
  'overLimit',
  'onProgress',
  'onEndOfData',
] as const;


/** Groups recipients by domain (case-insensitive, IDN as A-labels), keeping first-seen order. */
function groupByDomain(to: readonly string[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const address of to) {
    const { domain } = parseMailbox(address);
    const key = domain.startsWith('[') ? domain.toLowerCase() : normalizeDomain(domain);
    const list = groups.get(key);
    if (list) list.push(address);
    else groups.set(key, [address]);
  }
  return groups;
}

interface DomainJob {
  domain: string;
  recipients: string[];
  supply: DataSupply;
}

interface Shared {
  options: DeliverOptions;
  connectOptions: Omit<ConnectOptions, 'host'>;
  sendOptions: Omit<SendOptions, 'to' | 'data'>;
  connectFn: ConnectFn;
  resolver: MxResolver;
  maxAttempts: number;
}

async function addressesOf(host: MailHost, shared: Shared): Promise<string[]> {
  if (host.addresses) return host.addresses;
  return resolveAddresses(host.host, shared.resolver, shared.options.family ?? 0);
}

function connectTo(shared: Shared, host: MailHost, address: string): Promise<Session> {
  return shared.connectFn({
    ...shared.connectOptions,
    host: address,
    // TLS SNI and certificate name: the MX name, never the IP (RFC 6066 §3).
    ...(isIP(host.host) === 0 ? { servername: host.host } : {}),
  });
}

/**
 * Recipients the send deferred over the server's limit whose session ended before their transaction
 * (RFC 5321 §4.5.3.1.10): one more session to the same address takes them; its outcome completes `first`.
 */
async function continueOnAnotherSession(first: SendResult, job: DomainJob, shared: Shared, host: MailHost, address: string): Promise<SendResult> {
  const rest = deferredToAnotherSession(first);
  if (rest.length === 0 || !job.supply.canRetry) return first;
  const watch = new BodyWatch();
  let session: Session | undefined;
  try {
    session = await connectTo(shared, host, address);
    const next = await session.send(watched({ ...shared.sendOptions, to: rest, data: job.supply.next() }, watch));
    await session.quit();
    return withContinuation(first, job.recipients, next);
  } catch (e) {
    if (session?.usable) await session.quit();
    else session?.destroy();
    return withContinuation(first, job.recipients, mayHaveBeenDelivered(e, watch.endWritten) ? outcomeUnknown(e) : toSmtpError(e));
  }
}

async function deliverDomain(job: DomainJob, shared: Shared): Promise<DomainDelivery> {
  const out: DomainDelivery = { domain: job.domain, recipients: job.recipients, attempts: [] };
  const signal = shared.options.signal;
  let hosts: MailHost[];
  try {
    hosts = await resolveMailHosts(job.domain, {
      resolver: shared.resolver,
      ...(shared.options.random ? { random: shared.options.random } : {}),
      family: shared.options.family ?? 0,
    });
  } catch (e) {
    out.error = toSmtpError(e);
    return out;
  }
  let lastError: SmtpError | undefined;
  for (const host of hosts) {
    let addresses: string[];
    try {
      addresses = await addressesOf(host, shared);
      if (addresses.length === 0) throw new SmtpError(`mail host ${host.host} has no address`, {
        kind: 'connection',
        code: 'ERR_SMTP_NO_MAIL_HOST',
      });
    } catch (e) {
      lastError = toSmtpError(e);
      out.attempts.push({ host: host.host, error: lastError });
      continue;
    }
    for (const address of addresses) {
      if (out.attempts.length >= shared.maxAttempts) {
        // attempts is non-empty here, so a previous attempt set lastError
        out.error = lastError!;
        return out;
      }
      if (signal?.aborted) {
        out.error = toSmtpError(signal.reason);
        return out;
      }
      const attempt: DeliveryAttempt = { host: host.host, address };
      out.attempts.push(attempt);
      const watch = new BodyWatch();
      let session;
      try {
        session = await connectTo(shared, host, address);
        attempt.tls = session.tls;
        const result = await session.send(watched({ ...shared.sendOptions, to: job.recipients, data: job.supply.next() }, watch));
        out.mx = host.host;
        await session.quit();
        out.result = await continueOnAnotherSession(result, job, shared, host, address);
        return out;
      } catch (e) {
        const error = mayHaveBeenDelivered(e, watch.endWritten) ? outcomeUnknown(e) : toSmtpError(e);
        attempt.error = error;
        lastError = error;
        if (session) {
          if (session.usable) await session.quit();
          else session.destroy();
        }
        if (nextStep(error, { endWritten: watch.endWritten, canResend: job.supply.canRetry }) === 'stop') {
          out.error = error;
          return out;
        }
      }
    }
  }
  out.error = lastError ?? new SmtpError(`no mail host to try for ${job.domain}`, {
    kind: 'connection',
    code: 'ERR_SMTP_NO_MAIL_HOST',
    retryable: false,
  });
  return out;
}

/**
 * Delivers a message straight to the recipients' mail servers, without a relay (RFC 5321 §5.1):
 * recipients are grouped per domain (one transaction each); each domain's MX hosts are tried
 * lowest preference first (ties in random order, deterministic with `random`), a domain without
 * MX records falls back to its A/AAAA records (implicit MX), and a null MX (RFC 7505) fails the
 * domain with `ERR_SMTP_NULL_MX` without connecting. A connection failure or a transient (4xx)
 * reply moves on to the next address / MX host; a permanent (5xx) reply stops. A failure without a
 * reply after the end of data went out stops too, with `ERR_SMTP_OUTCOME_UNKNOWN`: the message may
 * have been delivered, so it is not sent twice.
 *
 * Defaults for MX delivery: port 25, `tls: 'opportunistic'` and — as opportunistic security
 * (RFC 7435) — `rejectUnauthorized: false` unless set: STARTTLS whenever offered, the certificate
 * not required to verify (each attempt's `tls.verified` says what was checked). Set
 * `tls: 'starttls'` and `rejectUnauthorized: true` to require authenticated TLS.
 *
 * Never rejects for a failed domain: each domain reports `result` or `error` and its `attempts`;
 * `accepted` and `rejected` list every recipient. Throws (before any connection) only for bad
 * input: an invalid address, or a one-shot `data` stream with recipients in several domains
 * (`ERR_SMTP_DATA_NOT_REREADABLE`).
 *
 * @example
 * ```ts
 * const r = await deliver({ from: 'a@example.org', to: ['b@example.com', 'c@example.net'], data: raw, clientName: 'mx.example.org' });
 * for (const d of r.domains) console.log(d.domain, d.mx, d.error?.code);
 * ```
 */
export async function deliver(options: DeliverOptions): Promise<DeliverResult> {
  if (!Array.isArray(options.to) || options.to.length === 0) throw inputError('ERR_SMTP_INPUT', 'deliver needs at least one recipient');
  const loose = options as DeliverOptions & Pick<ConnectOptions, 'path' | 'protocol'>;
  const lmtp = loose.protocol !== undefined && loose.protocol !== 'smtp';
  if (lmtp) throw inputError('ERR_SMTP_INPUT', `deliver speaks SMTP to MX hosts: protocol ${JSON.stringify(loose.protocol)} is for a server you name (connect or createPool)`);
  if (loose.path !== undefined) throw inputError('ERR_SMTP_INPUT', 'deliver connects to MX hosts over TCP: `path` (a Unix socket) is for connect or createPool');
  if (options.from !== '') parseMailbox(options.from);
  const groups = groupByDomain(options.to);
  const maxAttempts = options.maxAttempts ?? 10;
  const concurrency = options.concurrency ?? 4;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw inputError('ERR_SMTP_INPUT', 'maxAttempts must be a positive integer');
  if (!Number.isInteger(concurrency) || concurrency < 1) throw inputError('ERR_SMTP_INPUT', 'concurrency must be a positive integer');

  const connectOptions: Record<string, unknown> = { ...options };
  for (const key of [...DELIVER_KEYS, ...SEND_KEYS]) delete connectOptions[key];
  const sendOptions: Record<string, unknown> = {};
  for (const key of SEND_KEYS) if (options[key] !== undefined) sendOptions[key] = options[key];
  if (options.signal) sendOptions.signal = options.signal;

  const shared: Shared = {
    options,
    connectOptions: {
      ...(connectOptions as Omit<ConnectOptions, 'host'>),
      port: options.port ?? 25,
      // Port 25 relaying between MTAs: STARTTLS when offered (RFC 3207). Another port keeps the
      // usual default of connect() (465 implicit, 587 starttls) unless tls is given.
      ...(options.tls !== undefined || options.port === undefined || options.port === 25
        ? { tls: options.tls ?? 'opportunistic' }
        : {}),
      rejectUnauthorized: options.rejectUnauthorized ?? false,
    },
    sendOptions: sendOptions as unknown as Omit<SendOptions, 'to' | 'data'>,
    connectFn: options.connectFn ?? connect,
    resolver: options.resolver ?? systemResolver,
    maxAttempts,
  };
  const jobs: DomainJob[] = [];
  for (const [domain, recipients] of groups) jobs.push({ domain, recipients, supply: dataSupply(options.data, groups.size) });

  const domains: DomainDelivery[] = new Array(jobs.length);
  let nextJob = 0;
  const worker = async (): Promise<void> => {
    while (nextJob < jobs.length) {
      const i = nextJob++;
      domains[i] = await deliverDomain(jobs[i]!, shared);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));

  const accepted: string[] = [];
  const rejected: DeliveryRejection[] = [];
  for (const d of domains) {
    if (d.result) {
      accepted.push(...d.result.accepted);
      for (const r of d.result.rejected) rejected.push({ address: r.address, domain: d.domain, error: r.error, reply: r.reply });
    } else {
      const error = d.error!;
      for (const address of d.recipients) {
        rejected.push({ address, domain: d.domain, error, ...(error.reply ? { reply: error.reply } : {}) });
      }
    }
  }
  return { domains, accepted, rejected };
}
