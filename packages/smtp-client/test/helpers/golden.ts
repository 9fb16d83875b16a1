import { expect } from 'vitest';
import { handshake, resolveConnectOptions } from '../../src/connect.js';
import type { ConnectOptions, Session } from '../../src/types.js';
import type { TranscriptEvent } from '../../src/transcript.js';
import { actualWrites, expectedClientBytes, expectedWrites, loadScript, scriptedTransport, type ScriptLine } from './scripted.js';

/** A session over the scripted fake server of `test/transcripts/<name>`, handshake done. */
export interface ScriptedSession {
  script: ScriptLine[];
  fake: ReturnType<typeof scriptedTransport>;
  session: Session;
  events: TranscriptEvent[];
}

/** Opens a session on the golden transcript `name` (host mx.example.net, port 25, short deadlines). */
export async function openScript(name: string, options: Partial<ConnectOptions> = {}): Promise<ScriptedSession> {
  const script = loadScript(name);
  const fake = scriptedTransport(script);
  const events: TranscriptEvent[] = [];
  const o: ConnectOptions = {
    host: 'mx.example.net',
    port: 25,
    onTranscript: (e) => events.push(e),
    // A script mismatch stalls the fake server: fail fast instead of waiting minutes.
    timeouts: { greeting: 2000, ehlo: 2000, starttls: 2000, auth: 2000, mail: 2000, rcpt: 2000, dataInit: 2000, dataDone: 2000, command: 2000 },
    ...options,
  };
  const session = await handshake(fake.transport, o, resolveConnectOptions(o), null);
  return { script, fake, session, events };
}

/** The client wrote exactly the script's bytes, in exactly its writes, and the server said all it had to say. */
export function expectScriptFollowed(f: ScriptedSession): void {
  expect(f.fake.mismatches).toEqual([]);
  expect(f.fake.transport.written.toString('latin1')).toBe(expectedClientBytes(f.script));
  const writes = expectedWrites(f.script);
  if (writes) expect(actualWrites(f.fake.transport)).toEqual(writes);
  expect(f.fake.remaining()).toBe(0);
}
