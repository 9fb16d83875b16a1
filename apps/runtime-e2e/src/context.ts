/**
 * What every case gets: the runtime under test, the servers (started under Node by servers.ts), the
 * messages they received, and a way to run the workspace's built programs under the same runtime.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ReceivedMessage, ServerInfo, ServerName } from './servers.js';

/** The runtime this process runs on, and how to start a script under it. */
export interface Runtime {
  name: 'node' | 'bun' | 'deno';
  version: string;
  /** argv that runs a JavaScript file under this runtime (the file is appended). */
  command: string[];
}

declare const Deno: { version: { deno: string } } | undefined;

/** Which runtime is this? Bun and Deno both announce themselves; Node is the rest. */
export function detectRuntime(): Runtime {
  const versions = process.versions as Record<string, string | undefined>;
  if (typeof Deno !== 'undefined') {
    // Deno runs a file with `deno run`; -A grants what a Node program has (network, files, env, processes).
    return { name: 'deno', version: Deno.version.deno, command: [process.execPath, 'run', '-A'] };
  }
  if (versions.bun) return { name: 'bun', version: versions.bun, command: [process.execPath] };
  return { name: 'node', version: process.versions.node, command: [process.execPath] };
}

/** The workspace root (this file is built to apps/runtime-e2e/dist/). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The context every case gets. */
export interface E2eContext {
  runtime: Runtime;
  servers: ServerInfo;
  /** The test CA, as PEM text and as a file (for the CLI's --ca). */
  ca: string;
  caFile: string;
  port(name: ServerName): number;
  /** Messages whose recipients or text contain `token`, polled until `count` are there (bounded). */
  messages(token: string, count?: number, timeoutMs?: number): Promise<ReceivedMessage[]>;
  /** Run a built program of the workspace under this runtime; bounded by `timeoutMs`. */
  runProgram(file: string, args: string[], options?: ProgramOptions): Promise<ProgramResult>;
  /** A token unique to this run, for addresses and subjects. */
  token(label: string): string;
}

export interface ProgramOptions {
  env?: Record<string, string>;
  timeoutMs?: number;
}

export interface ProgramResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Start the servers under Node and build the context; `stop` ends the servers process. */
export async function createContext(runtime: Runtime): Promise<{ ctx: E2eContext; stop: () => Promise<void> }> {
  const node = process.env.SMTPKIT_E2E_NODE ?? 'node';
  const serversFile = join(ROOT, 'apps/runtime-e2e/dist/servers.js');
  const child = spawn(node, [serversFile], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const stop = async (): Promise<void> => {
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  };
  const servers = await new Promise<ServerInfo>((resolveInfo, reject) => {
    const timer = setTimeout(() => reject(new Error('the e2e servers did not start within 60 s')), 60_000);
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolveInfo(JSON.parse(line) as ServerInfo);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the e2e servers exited (${String(code)}) before they were ready: is ${node} Node ≥ 20, and is Postfix installed?`));
    });
  }).catch(async (error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });

  const dir = mkdtempSync(join(tmpdir(), 'smtpkit-e2e-'));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, servers.ca);
  let n = 0;
  const ctx: E2eContext = {
    runtime,
    servers,
    ca: servers.ca,
    caFile,
    port: (name) => servers.ports[name],
    token: (label) => `${label}-${runtime.name}-${process.pid}-${++n}`,
    async messages(token, count = 1, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const res = await fetch(`http://127.0.0.1:${servers.http}/messages?token=${encodeURIComponent(token)}`);
        const found = (await res.json()) as ReceivedMessage[];
        if (found.length >= count || Date.now() > deadline) return found;
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    runProgram: (file, args, options = {}) => runProgram(runtime, join(ROOT, file), args, options),
  };
  return {
    ctx,
    stop: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function runProgram(runtime: Runtime, file: string, args: string[], options: ProgramOptions): Promise<ProgramResult> {
  const [command, ...pre] = runtime.command as [string, ...string[]];
  const child = spawn(command, [...pre, file, ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolveResult) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolveResult({ code, stdout, stderr });
    });
  });
}
