import type { Capabilities } from './capabilities.js';
import { encodeCommand } from './command-encoder.js';
import type { EncodedCommand, MailParams, RcptParams } from './command-encoder.js';
import { inputError } from './errors.js';

/** Sender, recipients and their ESMTP parameters for one mail transaction. */
export interface Envelope {
  /** Reverse-path; `''` is the null path `<>`. */
  from: string;
  to: readonly string[];
  mailParams?: MailParams;
  /** Parameters of every RCPT TO. */
  rcptParams?: RcptParams;
  /**
   * Per recipient, parallel to `to`: its original recipient (ORCPT, RFC 3461 §4.2), or undefined for none.
   * Overrides `rcptParams.orcpt` for that recipient; each RCPT is encoded once, with its own value.
   */
  orcpt?: readonly (string | undefined)[];
}

/** The commands of one transaction, grouped as they are written; read-only (every plan shares one DATA command). */
export interface TransactionPlan {
  /**
   * Each group is written at once. With PIPELINING: `[[MAIL, RCPT..., DATA]]`, or `[[MAIL, RCPT...]]`
   * when BDAT follows; without it one command per group.
   */
  groups: EncodedCommand[][];
  /** Every command, flat and in order: replies come back in this order (RFC 2920 §3.1). */
  commands: EncodedCommand[];
}

/** Options of {@link planTransaction}. */
export interface PlanOptions {
  /** The body goes with BDAT (RFC 3030): no DATA command in the plan. */
  useBdat: boolean;
  /** The transaction uses SMTPUTF8 (RFC 6531). */
  smtputf8: boolean;
}

/** DATA has no arguments: one encoding serves every plan and every transaction. @internal */
export const DATA: EncodedCommand = Object.freeze(encodeCommand({ verb: 'DATA' }));

function requireExtension(offered: boolean, what: string, extension: string): void {
  // RFC 5321 §4.1.5 / RFC 1869: a parameter may only be used when the server advertised its extension.
  if (!offered) {
    throw inputError(`${what} needs the ${extension} extension, which the server did not advertise`, 'ERR_SMTP_EXTENSION_NOT_OFFERED');
  }
}

function checkOffered(caps: Capabilities, envelope: Envelope, options: PlanOptions): void {
  const m = envelope.mailParams;
  const r = envelope.rcptParams;
  if (options.useBdat) requireExtension(caps.chunking, 'BDAT', 'CHUNKING');
  if (options.smtputf8 || m?.smtputf8) requireExtension(caps.smtputf8, 'SMTPUTF8', 'SMTPUTF8');
  if (m?.size !== undefined) requireExtension(caps.size !== undefined, 'SIZE=', 'SIZE');
  if (m?.body === '8BITMIME') requireExtension(caps.eightBitMime, 'BODY=8BITMIME', '8BITMIME');
  if (m?.body === 'BINARYMIME') {
    requireExtension(caps.binaryMime, 'BODY=BINARYMIME', 'BINARYMIME');
    // RFC 3030 §3: BINARYMIME bodies can only be sent with BDAT.
    if (!options.useBdat) throw inputError('BODY=BINARYMIME must be sent with BDAT (RFC 3030 §3)', 'ERR_SMTP_INPUT');
  }
  if (m?.ret !== undefined || m?.envid !== undefined) requireExtension(caps.dsn, 'RET/ENVID', 'DSN');
  if (r?.notify !== undefined || r?.orcpt !== undefined || envelope.orcpt?.some((o) => o !== undefined)) {
    requireExtension(caps.dsn, 'NOTIFY/ORCPT', 'DSN');
  }
  if (m?.requireTls) requireExtension(caps.requireTls, 'REQUIRETLS', 'REQUIRETLS');
}

/**
 * Plans the envelope of one transaction (RFC 2920 §3.1): with PIPELINING, MAIL, every RCPT and DATA go
 * in one group (DATA ends a group: the body waits for 354); with BDAT the group is MAIL and RCPTs and the
 * BDAT commands follow. Without PIPELINING every command is its own group.
 *
 * @throws {SmtpError} kind `input`: bad addresses or parameters, no recipients, or a parameter whose
 * extension the server did not advertise (code `ERR_SMTP_EXTENSION_NOT_OFFERED`).
 * @example
 * ```ts
 * const plan = planTransaction(caps, { from: 'a@example.com', to: ['b@example.net'] }, { useBdat: false, smtputf8: false });
 * for (const group of plan.groups) socket.write(Buffer.concat(group.map((c) => c.bytes)));
 * ```
 */
export function planTransaction(caps: Capabilities, envelope: Envelope, options: PlanOptions): TransactionPlan {
  const commands = encodeEnvelope(caps, envelope, options);
  if (!options.useBdat) commands.push(DATA);
  const groups = caps.pipelining ? [commands.slice()] : commands.map((c) => [c]);
  return { groups, commands };
}

/**
 * MAIL FROM and one RCPT TO per recipient, checked against what the server offers and encoded once each.
 * @internal Shared by {@link planTransaction} and `ClientTransaction`.
 */
export function encodeEnvelope(caps: Capabilities, envelope: Envelope, options: PlanOptions): EncodedCommand[] {
  if (envelope.to.length === 0) throw inputError('a transaction needs at least one recipient');
  if (envelope.orcpt !== undefined && envelope.orcpt.length !== envelope.to.length) {
    throw inputError(`orcpt has ${envelope.orcpt.length} entries for ${envelope.to.length} recipients`);
  }
  checkOffered(caps, envelope, options);
  const encodeOptions = { smtputf8: options.smtputf8 };
  const mailParams: MailParams | undefined =
    options.smtputf8 && envelope.mailParams?.smtputf8 !== true ? { ...envelope.mailParams, smtputf8: true } : envelope.mailParams;
  const commands: EncodedCommand[] = [
    encodeCommand(mailParams ? { verb: 'MAIL', from: envelope.from, params: mailParams } : { verb: 'MAIL', from: envelope.from }, encodeOptions),
  ];
  for (let i = 0; i < envelope.to.length; i++) {
    const to = envelope.to[i] as string;
    const params = rcptParamsOf(envelope, i);
    commands.push(encodeCommand(params ? { verb: 'RCPT', to, params } : { verb: 'RCPT', to }, encodeOptions));
  }
  return commands;
}

/** The RCPT parameters of recipient `i`: the shared ones, with its own ORCPT when it has one. */
function rcptParamsOf(envelope: Envelope, i: number): RcptParams | undefined {
  const orcpt = envelope.orcpt?.[i];
  if (orcpt === undefined) return envelope.rcptParams;
  return { ...envelope.rcptParams, orcpt };
}
