import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import {
  connect, deliver, SmtpError,
  type ConnectOptions, type DeliverResult, type SendOptions, type SendResult, type Session, type TranscriptEvent,
} from '@smtpkit/client';
import { accountAuth, withAccountServer } from './account-auth.js';
import { connectOptions, describeError, errorJson, replyJson, serverLabel, type ConnectionContext } from './connection.js';
import { exitCodeFor, EXIT, InputFileError, UsageError, type ExitCode } from './exit-codes.js';
import { hasUtf8LocalPart, prepareMessage, type PreparedMessage } from './message.js';
import { Output } from './output.js';
import type { SendFlags } from './program.js';
import { stopAtEnvelope } from './quit-after.js';
import { resolvePassword, tokenSource, ttyPrompt } from './secrets.js';
import { resolveSend, type SendConfig } from './send-options.js';
import { takeRateSlot } from './rate.js';
import { extraConnectOptions } from './send-extras.js';

/** `--rate`: wait for a slot (shared by every run to the same server) before each transaction. */
function paceFor(cfg: SendConfig, out: Output): (() => Promise<void>) | undefined {
  const rate = cfg.rate;
  if (!rate) return undefined;
  const key = cfg.mx ? 'mx' : serverLabel(cfg);
  return () => takeRateSlot(key, rate, process.env, (ms) => out.info(`--rate ${rate.text}: waiting ${ms} ms`));
}

/** Messages at least this big get a progress bar (on a TTY). */
const PROGRESS_THRESHOLD = 1 << 20;

/** RFC 5321 §4.1.1.1: EHLO names a fully-qualified domain; an unusable host name falls back to `localhost`. */
export function defaultHeloName(name = hostname()): string {
  return /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(name) && name.length <= 253
    ? name
    : 'localhost';
}

async function authOptions(cfg: SendConfig, out: Output): Promise<ConnectOptions['auth']> {
  // RFC 4422 appendix A: the client certificate is the credential; --user, if given, is the authorization identity.
  if (cfg.auth === 'external') return { user: cfg.user ?? '', method: 'EXTERNAL' };
  if (cfg.account) return accountAuth({ ...cfg, account: cfg.account }, out);
  if (!cfg.user) return undefined;
  const user = cfg.user;
  const oauth = cfg.auth === 'xoauth2' || cfg.auth === 'oauthbearer';
  const token = tokenSource({ env: process.env, command: cfg.tokenCommand });
  if (process.env.SMTPKIT_OAUTH_TOKEN) out.addSecret(process.env.SMTPKIT_OAUTH_TOKEN, user);
  if (oauth && !token) {
    throw new UsageError(`--auth ${cfg.auth} needs a token: set SMTPKIT_OAUTH_TOKEN or pass --token-command CMD`);
  }
  const method = cfg.auth === 'auto' ? undefined : (cfg.auth.toUpperCase() as NonNullable<ConnectOptions['auth']>['method']);
  let pass: string | undefined;
  // With --auth auto and a token, OAuth is the plan; a password is only asked for when needed.
  if (!oauth && !(cfg.auth === 'auto' && token)) {
    pass = await resolvePassword(user, { env: process.env, command: cfg.passwordCommand, prompt: ttyPrompt() });
    out.addSecret(pass, user);
  }
  const accessToken = token
    ? async (ctx: { user: string; refresh: boolean }) => {
        const t = await token(ctx);
        out.addSecret(t, user);
        return t;
      }
    : undefined;
  return { user, ...(pass !== undefined ? { pass } : {}), ...(method ? { method } : {}), ...(accessToken ? { accessToken } : {}) };
}

interface Outcome {
  accepted: string[];
  rejected: Array<{ address: string; code: number | null; enhanced: string | null; text: string }>;
  reply: SendResult['reply'] | undefined;
  /** The server's recipient limit split the send (RFC 5321 §4.5.3.1.10): each transaction's recipients and reply. */
  transactions?: SendResult['transactions'];
}

function fromSendResult(r: SendResult): Outcome {
  return {
    accepted: r.accepted,
    rejected: r.rejected.map((x) => ({ address: x.address, code: x.reply.code, enhanced: x.error.enhancedStatus ?? null, text: x.reply.text })),
    reply: r.reply,
    ...(r.transactions ? { transactions: r.transactions } : {}),
  };
}

/** `deliver` reports per domain; the CLI reports one outcome with every recipient. */
function fromDeliverResult(r: DeliverResult): Outcome {
  return {
    accepted: r.accepted,
    rejected: r.rejected.map((x) => ({
      address: x.address,
      code: x.reply?.code ?? x.error.replyCode ?? null,
      enhanced: x.error.enhancedStatus ?? null,
      text: x.reply?.text ?? x.error.message,
    })),
    reply: r.domains.find((d) => d.result)?.result?.reply,
  };
}

async function progressFor(out: Output, size: number | undefined): Promise<((n: number) => void) | undefined> {
  if (!out.mayShowProgress || size === undefined || size < PROGRESS_THRESHOLD) return undefined;
  const { startProgress } = await import('./progress.js');
  return startProgress(size);
}

async function sendOptionsFor(prepared: PreparedMessage, onProgress?: (n: number) => void): Promise<SendOptions> {
  const m = prepared.message;
  // An --eml file is in memory already: given whole, the client checks it before MAIL FROM (UTF-8 headers,
  // a 7-bit conversion that cannot be done) and can read it again for a further transaction.
  const data = prepared.raw ? await m.toBuffer() : m;
  // SMTPUTF8 follows from the envelope after EHLO; it is asked for here only when a header alone needs it.
  const envelopeNeedsUtf8 = [prepared.from, ...prepared.to].some(hasUtf8LocalPart);
  return {
    from: prepared.from,
    to: prepared.to,
    data,
    ...(m.size !== undefined ? { size: m.size } : {}),
    ...(m.eightBit ? { eightBit: true } : {}),
    ...(m.binary ? { binary: true } : {}),
    ...(m.needsSmtputf8 && !envelopeNeedsUtf8 && !prepared.raw ? { smtputf8: true } : {}),
    ...(onProgress ? { onProgress } : {}),
  };
}

/** `smtpkit send`: returns the exit code. */
export async function runSend(flags: SendFlags): Promise<ExitCode> {
  let out = new Output({ quiet: flags.quiet === true, verbose: false, json: flags.json === true && !flags.quiet });
  let ctx: ConnectionContext = { host: flags.server ?? '127.0.0.1', port: Number(flags.port) || 0, tls: 'auto' };
  let session: Session | undefined;
  let progress: ((n: number) => void) | undefined;
  let prepared: PreparedMessage | undefined;
  try {
    const cfg = await withAccountServer(resolveSend(flags), flags);
    out = new Output(cfg.output);
    ctx = { host: cfg.host, port: cfg.port, tls: cfg.tls, authHint: cfg.authHint, ...(cfg.socket !== undefined ? { socket: cfg.socket } : {}) };
    prepared = await prepareMessage(cfg);

    if (cfg.dryRun) {
      out.raw(await prepared.message.toBuffer());
      return EXIT.OK;
    }

    const auth = await authOptions(cfg, out);
    const ca = cfg.ca !== undefined ? await readFile(cfg.ca).catch((e: unknown) => Promise.reject(new InputFileError(cfg.ca!, e))) : undefined;
    if (cfg.insecure) out.warn('smtpkit: WARNING: --insecure: the server certificate is NOT verified; anyone on the path can read and change this session');

    const envelopeStep = cfg.quitAfter === 'mail' || cfg.quitAfter === 'rcpt' ? cfg.quitAfter : undefined;
    const onTranscript = (e: TranscriptEvent) => out.transcript(e);
    const options = {
      ...connectOptions({ ...cfg, helo: cfg.helo ?? defaultHeloName() }, { auth, ca, onTranscript }),
      ...(await extraConnectOptions(cfg, process.env, (s) => out.addSecret(s, cfg.user ?? ''))),
    };
    progress = await progressFor(out, prepared.message.size);
    const send = { ...(await sendOptionsFor(prepared, progress)), ...(cfg.dsn ? { dsn: cfg.dsn } : {}) };
    const pace = paceFor(cfg, out);

    let outcome: Outcome;
    if (cfg.mx) {
      const { host: _host, ...rest } = options;
      // Several domains mean several transactions: the body must be readable more than once.
      const m = prepared.message;
      const data = send.data instanceof Uint8Array ? send.data : m.reusable ? () => m.stream() : await m.toBuffer();
      const connectFn = pace ? async (o: ConnectOptions) => (await pace(), connect(o)) : undefined;
      outcome = fromDeliverResult(await deliver({ ...rest, ...send, data, ...(connectFn ? { connectFn } : {}) }));
    } else if (cfg.quitAfter && !envelopeStep) {
      session = await connect({ ...options, stopAfter: cfg.quitAfter as Exclude<typeof cfg.quitAfter, 'mail' | 'rcpt'> });
      await session.quit();
      out.json({ ok: true, quitAfter: cfg.quitAfter, greeting: replyJson(session.greeting.code ? session.greeting : undefined), capabilities: [...session.capabilities.keywords.keys()], tls: session.tls });
      out.info(`stopped after ${cfg.quitAfter}`);
      return EXIT.OK;
    } else {
      await pace?.();
      session = await connect(options);
      if (cfg.requireTls && !session.secure) {
        throw new SmtpError('--require-tls: TLS is not up, refusing to send MAIL FROM', { kind: 'tls', code: 'ERR_SMTP_TLS_REQUIRED' });
      }
      if (envelopeStep) return await stopAtEnvelope(session, envelopeStep, send, out);
      outcome = fromSendResult(await session.send(send));
      progress?.(-1);
      await session.quit();
    }

    const id = prepared.message.messageId || null;
    out.json({
      ok: outcome.rejected.length === 0, messageId: id, accepted: outcome.accepted, rejected: outcome.rejected, reply: replyJson(outcome.reply), tls: session?.tls ?? null,
      ...(outcome.transactions ? { transactions: outcome.transactions.map((t) => ({ accepted: t.accepted, reply: replyJson(t.reply) })) } : {}),
    });
    for (const r of outcome.rejected) out.warn(`smtpkit: ${r.address} rejected: ${r.code ?? ''} ${r.text}`.replace(/\n/g, ' / '));
    const reply = outcome.reply;
    out.info(
      `${reply ? `${reply.code} ${reply.lines[0] ?? ''}: ` : ''}${outcome.accepted.length} accepted` +
        (outcome.rejected.length ? `, ${outcome.rejected.length} rejected` : '') +
        (id ? `, ${id}` : ''),
    );
    return outcome.rejected.length ? EXIT.NOUSER : EXIT.OK;
  } catch (error) {
    progress?.(-1);
    // Refused by the client or the server with the session still in step: end it politely (QUIT).
    if (session?.usable) await session.quit();
    else session?.destroy();
    const exit = exitCodeFor(error);
    out.json(errorJson(error, exit, session));
    out.warn(describeError(error, ctx));
    return exit;
  } finally {
    await prepared?.dispose?.();
    out.close();
  }
}
