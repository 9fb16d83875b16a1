import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Finding, ReceivedTransaction } from '@smtpkit/wire';
import { analyseMessage } from './analysis.js';
import type { MessageAnalysis } from './analysis.js';
import type { WalkLimits } from './mime-walk.js';

/** One line of a session transcript: what the client (`C`) or server (`S`) sent, or a local event (`*`). */
export interface TranscriptLine {
  dir: 'C' | 'S' | '*';
  /** The exact line, line ending included (AUTH payloads masked), or the event. */
  text: string;
  /** ISO 8601 time with milliseconds. */
  at: string;
}

/** Everything the inbox keeps of one SMTP session, messages or not. */
export interface SessionRecord {
  id: string;
  remoteAddress: string;
  remotePort: number;
  startedAt: string;
  endedAt?: string;
  /** EHLO/HELO name the client gave last. */
  helo?: string;
  secure: boolean;
  /** TLS protocol and cipher after STARTTLS or with implicit TLS. */
  tls?: string;
  authUser?: string;
  extensions: string[];
  findings: Finding[];
  messageIds: string[];
  transcript: TranscriptLine[];
  /** Lines left out once the transcript reached its bound. */
  droppedLines: number;
}

/** One message, exactly as received, with its envelope and what was learnt about it. */
export interface StoredMessage {
  id: string;
  sessionId: string;
  receivedAt: string;
  raw: Buffer;
  transaction: ReceivedTransaction;
  analysis: MessageAnalysis;
  /** The transaction's protocol findings, then the message findings. */
  findings: Finding[];
}

/** Options of {@link MessageStore}. */
export interface StoreOptions {
  maxMessages: number;
  maxBytes: number;
  maxSessions: number;
  limits: WalkLimits;
  /** Keep `<id>.eml` + `<id>.json` per message here, and load them on start. */
  dir?: string;
}

/** What `wait()` matches: case-insensitive substrings of a recipient and of the subject. */
export interface WaitFilter {
  to?: string;
  subject?: string;
}

type Listener = (event: { type: 'message'; message: StoredMessage } | { type: 'clear' } | { type: 'session'; session: SessionRecord }) => void;

function matches(m: StoredMessage, f: WaitFilter): boolean {
  if (f.to && !m.transaction.to.some((t) => t.toLowerCase().includes(f.to!.toLowerCase()))) return false;
  if (f.subject && !m.analysis.subject.toLowerCase().includes(f.subject.toLowerCase())) return false;
  return true;
}

/** The inbox's memory: a ring of messages (bounded by count and octets) and of sessions, optionally on disk. */
export class MessageStore {
  readonly #o: StoreOptions;
  readonly #messages = new Map<string, StoredMessage>();
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #listeners = new Set<Listener>();
  #bytes = 0;

  constructor(options: StoreOptions) {
    this.#o = options;
  }

  /** Loads the messages kept in `dir` (oldest first), if a directory was given. */
  async load(): Promise<number> {
    const dir = this.#o.dir;
    if (dir === undefined) return 0;
    await mkdir(dir, { recursive: true });
    const names = (await readdir(dir)).filter((n) => /^[A-Za-z0-9_-]{1,64}\.json$/.test(n));
    const loaded: StoredMessage[] = [];
    for (const name of names) {
      try {
        const meta = JSON.parse(await readFile(join(dir, name), 'utf8')) as PersistedMessage;
        const raw = await readFile(join(dir, `${meta.id}.eml`));
        loaded.push(this.#build(meta.id, meta.sessionId, meta.receivedAt, raw, meta.transaction));
        if (meta.session && !this.#sessions.has(meta.session.id)) this.#sessions.set(meta.session.id, meta.session);
      } catch {
        // a half-written or foreign file: skipped, never fatal
      }
    }
    loaded.sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
    for (const m of loaded) this.#insert(m);
    return loaded.length;
  }

  #build(id: string, sessionId: string, receivedAt: string, raw: Buffer, transaction: ReceivedTransaction): StoredMessage {
    const analysis = analyseMessage(raw, transaction.mailParams.SMTPUTF8 !== undefined, this.#o.limits);
    return { id, sessionId, receivedAt, raw, transaction, analysis, findings: [...transaction.findings, ...analysis.findings] };
  }

  /** Stores a message just received; returns it. */
  async add(sessionId: string, raw: Buffer, transaction: ReceivedTransaction): Promise<StoredMessage> {
    const message = this.#build(transaction.id, sessionId, new Date().toISOString(), raw, transaction);
    const session = this.#sessions.get(sessionId);
    if (this.#o.dir !== undefined) {
      const meta: PersistedMessage = { id: message.id, sessionId, receivedAt: message.receivedAt, transaction, session };
      await writeFile(join(this.#o.dir, `${message.id}.eml`), raw);
      await writeFile(join(this.#o.dir, `${message.id}.json`), JSON.stringify(meta));
    }
    this.#insert(message);
    session?.messageIds.push(message.id);
    this.#emit({ type: 'message', message });
    return message;
  }

  #insert(message: StoredMessage): void {
    this.#messages.set(message.id, message);
    this.#bytes += message.raw.length;
    while (this.#messages.size > this.#o.maxMessages || (this.#bytes > this.#o.maxBytes && this.#messages.size > 1)) {
      const oldest = this.#messages.values().next().value as StoredMessage;
      this.#messages.delete(oldest.id);
      this.#bytes -= oldest.raw.length;
      if (this.#o.dir !== undefined) void this.#unlink(oldest.id);
    }
  }

  async #unlink(id: string): Promise<void> {
    const dir = this.#o.dir as string;
    await rm(join(dir, `${id}.eml`), { force: true });
    await rm(join(dir, `${id}.json`), { force: true });
  }

  /** Messages, newest first. */
  list(): StoredMessage[] {
    return [...this.#messages.values()].reverse();
  }

  get(id: string): StoredMessage | undefined {
    return this.#messages.get(id);
  }

  /** Removes every message (sessions stay). */
  async clear(): Promise<void> {
    const ids = [...this.#messages.keys()];
    this.#messages.clear();
    this.#bytes = 0;
    if (this.#o.dir !== undefined) await Promise.all(ids.map((id) => this.#unlink(id)));
    this.#emit({ type: 'clear' });
  }

  /** Registers a new session; the oldest is forgotten past the bound. */
  openSession(session: SessionRecord): void {
    this.#sessions.set(session.id, session);
    while (this.#sessions.size > this.#o.maxSessions) this.#sessions.delete(this.#sessions.keys().next().value as string);
  }

  /** Tells listeners that a session ended. */
  closeSession(session: SessionRecord): void {
    this.#emit({ type: 'session', session });
  }

  sessions(): SessionRecord[] {
    return [...this.#sessions.values()].reverse();
  }

  session(id: string): SessionRecord | undefined {
    return this.#sessions.get(id);
  }

  /** Calls `listener` for every new message, clear and ended session; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: Parameters<Listener>[0]): void {
    for (const l of this.#listeners) l(event);
  }

  /** The next message received that matches `filter`, or undefined when `signal` fires first. */
  wait(filter: WaitFilter, signal: AbortSignal): Promise<StoredMessage | undefined> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve(undefined);
      const done = (m: StoredMessage | undefined) => {
        unsubscribe();
        signal.removeEventListener('abort', onAbort);
        resolve(m);
      };
      const onAbort = () => done(undefined);
      const unsubscribe = this.subscribe((e) => {
        if (e.type === 'message' && matches(e.message, filter)) done(e.message);
      });
      signal.addEventListener('abort', onAbort);
    });
  }
}

interface PersistedMessage {
  id: string;
  sessionId: string;
  receivedAt: string;
  transaction: ReceivedTransaction;
  session: SessionRecord | undefined;
}
