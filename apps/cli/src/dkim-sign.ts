import { constants, createReadStream } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import type { BuiltMessage } from '@smtpkit/mime';
import type { DkimKeySpec } from './dkim-flag.js';
import { InputFileError, UsageError } from './exit-codes.js';
import type { PreparedMessage } from './message.js';
import { spool } from './spool.js';
import type { SendConfig } from './send-options.js';

/** Where signing warnings (a weak key) go: stderr, unless `-q`. */
export type WarningSink = (line: string) => void;

/** Read every `--dkim` key file and turn it into signer options (checked by @smtpkit/dkim before anything is read). */
async function signersFor(specs: readonly DkimKeySpec[], warn: WarningSink) {
  const dkim = await import('@smtpkit/dkim');
  return Promise.all(
    specs.map(async (spec, i) => {
      const privateKey = await readFile(spec.keyFile).catch((e: unknown) => Promise.reject(new InputFileError(spec.keyFile, e)));
      return dkim.createSigner(
        {
          domain: spec.domain,
          selector: spec.selector,
          privateKey,
          onWarning: (w) => warn(`smtpkit: warning: --dkim ${spec.domain}:${spec.selector}: ${w.message}\n`),
        },
        `--dkim[${i}]`,
      );
    }),
  );
}

/**
 * Sign a prepared message with every `--dkim` key: a first pass hashes it, the send streams it again
 * behind the DKIM-Signature fields (a reusable message is read twice, never held in memory).
 */
export async function signPrepared(prepared: PreparedMessage, specs: readonly DkimKeySpec[], warn: WarningSink): Promise<PreparedMessage> {
  const dkim = await import('@smtpkit/dkim');
  const m = prepared.message;
  const signed = await dkim.signMessage(m, { signers: await signersFor(specs, warn) });
  const message: BuiltMessage = {
    messageId: m.messageId,
    envelope: m.envelope,
    size: signed.size,
    needsSmtputf8: m.needsSmtputf8,
    eightBit: m.eightBit,
    binary: m.binary,
    reusable: true,
    stream: () => signed.stream(),
    toBuffer: () => signed.toBuffer(),
    toString: async () => Buffer.from(await signed.toBuffer()).toString('utf8'),
    [Symbol.asyncIterator]: () => signed.stream()[Symbol.asyncIterator](),
  };
  return { ...prepared, message };
}

/**
 * `--eml` with `--dkim`: a file is opened again for each pass; stdin is spooled (1 MiB in memory, then a
 * 0600 temporary file removed on success, error and interruption). mime's `readRawMessage` streams it,
 * so a message of any size is signed in bounded memory.
 */
export async function prepareSignedEml(
  cfg: SendConfig,
  from: string,
  flagRecipients: string[],
  dedupe: (a: string[]) => string[],
  warn: WarningSink,
): Promise<PreparedMessage> {
  const mime = await import('@smtpkit/mime');
  const path = cfg.eml as string;
  let open: () => AsyncIterable<Uint8Array>;
  let dispose = async (): Promise<void> => undefined;
  if (path === '-') {
    const spooled = await spool(process.stdin);
    open = () => spooled.open();
    dispose = () => spooled.dispose();
  } else {
    await access(path, constants.R_OK).catch((e: unknown) => Promise.reject(new InputFileError(path, e)));
    open = () => createReadStream(path, { highWaterMark: 256 * 1024 });
  }
  try {
    const options = { stripBcc: cfg.readRecipients };
    // The first read only takes the header (Message-ID, recipients); its stream is then let go.
    const head = open();
    const first = await mime.readRawMessage(head, options);
    (head as { destroy?: () => void }).destroy?.();
    const source = async function* (): AsyncGenerator<Uint8Array> {
      yield* (await mime.readRawMessage(open(), options)).stream();
    };
    const to = [...flagRecipients, ...(cfg.readRecipients ? first.envelope.to : [])];
    if (to.length === 0) throw new UsageError(`${path} names no recipients in To, Cc or Bcc`);
    const raw: BuiltMessage = { ...first, reusable: true, stream: source, [Symbol.asyncIterator]: () => source() };
    const prepared = await signPrepared({ from, to: dedupe(to), message: raw }, cfg.dkim, warn);
    return { ...prepared, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}
