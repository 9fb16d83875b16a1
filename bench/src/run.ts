// `pnpm bench`: smtpkit end to end against nodemailer and Postfix's smtp-source, reported as ratios.
// Starts every server it needs, runs each client in its own child process, stops everything, writes results.md.
// SMTPKIT_BENCH_QUICK=1: every scenario with tiny sizes (the smoke check). SMTPKIT_BENCH_ONLY=A,C: a subset.
// SMTPKIT_BENCH_PROFILE=1: smtpkit's children run with --cpu-prof into bench/.tmp/profiles.
import { mkdir, mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Job, JobResult, NodeClient } from './jobs.js';
import { startDelayProxy, type DelayProxy } from './proxy.js';
import { CLIENTS, markdownTable, terminalTable, type ClientName, type Row, type RowView } from './report.js';
import { startPostfixDiscard, startSmtpSink, type BenchServer } from './servers.js';
import { run, runJob, runNative } from './spawn.js';
import { writePayload } from './files.js';
import { FROM, TO } from './message.js';
import { summarize } from './stats.js';

const MiB = 1024 * 1024;
const quick = process.env.SMTPKIT_BENCH_QUICK === '1';
const only = new Set((process.env.SMTPKIT_BENCH_ONLY ?? '').split(',').filter(Boolean).map((s) => s.toUpperCase()));
const profile = process.env.SMTPKIT_BENCH_PROFILE === '1';

const benchDir = fileURLToPath(new URL('..', import.meta.url));
const repoDir = join(benchDir, '..');
const profileDir = join(benchDir, '.tmp', 'profiles');

const config = quick
  ? { runs: 1, throughputRuns: 1, messages: 100, poolMessages: 200, delayMs: 5, delayedMessages: 20, attach: 4 * MiB, bigAttach: 16 * MiB, build: 2 * MiB, spawns: 3, budgetMs: 3 * 60_000 }
  : { runs: 3, throughputRuns: 5, messages: 5000, poolMessages: 5000, delayMs: 5, delayedMessages: 500, attach: 100 * MiB, bigAttach: 1024 * MiB, build: 20 * MiB, spawns: 20, budgetMs: 10 * 60_000 - 30_000 };
/** Body octets smtp-source sends (-l); our messages are the same size including headers, about 2.2 KB. */
const BODY = 2048;
const MESSAGE_SIZE = 2200;
const LOOP_LABEL = 'protocol-only Node loop';
const NODE_CLIENTS: readonly NodeClient[] = ['smtpkit', 'nodemailer'];

const started = performance.now();
const errors: string[] = [];
const skipped: string[] = [];
const cleanups: Array<() => Promise<void>> = [];

function note(where: string, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  errors.push(`${where}: ${message}`);
  console.error(`  ! ${where}: ${message}`);
}

function wanted(id: string): boolean {
  return only.size === 0 || only.has(id);
}

function overBudget(id: string): boolean {
  if (performance.now() - started < config.budgetMs) return false;
  skipped.push(`${id} (time budget of ${Math.round(config.budgetMs / 1000)} s used up)`);
  return true;
}

/**
 * False once the time budget is used up and at least one run of the section is done: the section then
 * reports the runs it has (the results say so) instead of pushing the bench past its bound.
 */
function anotherRun(id: string, runIndex: number, runs = config.runs): boolean {
  if (runIndex === 0 || performance.now() - started < config.budgetMs) return true;
  skipped.push(`${id}: ${runIndex} of ${runs} runs (time budget)`);
  return false;
}

/** Clients in a different order each run, so no one always runs first (cold disk cache) or last. */
function rotate<T>(xs: readonly T[], i: number): T[] {
  return xs.map((_, k) => xs[(k + i) % xs.length]!);
}

/** Values are indexed by run (NaN for a run that failed), so that ratios pair within a run. */
function setRun(list: number[], runIndex: number, value: number): void {
  while (list.length < runIndex) list.push(NaN);
  list[runIndex] = value;
}

function record(row: Row, client: ClientName, runIndex: number, value: number): void {
  setRun((row.values[client] ??= []), runIndex, value);
}

async function measureNode(job: Job, label: string, timeoutMs: number): Promise<JobResult | undefined> {
  const flags =
    profile && job.client === 'smtpkit'
      ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `${label.replace(/\W+/g, '-')}.cpuprofile`]
      : [];
  try {
    return await runJob(job, timeoutMs, flags);
  } catch (error) {
    note(label, error);
    return undefined;
  }
}

function smtpSourceArgs(port: number, sessions: number, messages: number): string[] {
  return ['-s', String(sessions), '-m', String(messages), '-l', String(BODY), '-d', '-M', 'bench.localhost',
    '-f', FROM, '-t', TO, `127.0.0.1:${port}`];
}

/**
 * Scenarios A and B: throughput and client CPU against smtp-sink, no added latency. With `warmup` the Node
 * clients first send that many messages on the same pool or transport, unmeasured (informational rows, no
 * target): the difference to the cold rows is the cost of the JIT warming up.
 */
async function throughput(id: 'A' | 'B', server: BenchServer, connections: number, messages: number, warmup = 0): Promise<Row[]> {
  const title =
    `${id}. ${messages.toLocaleString('en-US')} × ~2 KB, ${connections} connection${connections > 1 ? 's' : ''}` +
    (warmup ? `, warm (${warmup.toLocaleString('en-US')} sent first on the same pool, unmeasured)` : '');
  const rate: Row = { scenario: title, metric: 'msgs/s', values: {}, targets: warmup ? [] : [
    { text: '≥ 1.5× smtp-source', met: (v) => (v.ratio('smtp-source') ? v.ratio('smtp-source')!.median >= 1.5 : undefined) },
  ] };
  const cpu: Row = { scenario: title, metric: 'client CPU µs/msg', values: {}, targets: warmup ? [] : [
    { text: '≤ 150 µs', met: (v) => (v.summary('smtpkit') ? v.summary('smtpkit')!.median <= 150 : undefined) },
  ] };
  // The cold rows also run the protocol-only loop (clients/loop.ts): what a Node process needs at the least;
  // every client's ratio to it, paired within a run, is a column of its own.
  const loopShare = { A: { prebuilt: 0.9, composed: 0.8 }, B: { prebuilt: 0.75, composed: 0.6 } }[id];
  const ofLoop = (share: number) => ({
    text: `≥ ${Math.round(share * 100)} % of the loop`,
    met: (v: RowView) => (v.toReference('smtpkit') ? v.toReference('smtpkit')!.median >= share : undefined),
  });
  let composedRate: Row | undefined;
  let composedCpu: Row | undefined;
  if (!warmup) {
    rate.reference = { label: LOOP_LABEL, values: [], against: 'smtp-source', perClient: true };
    cpu.reference = { label: LOOP_LABEL, values: [], against: 'smtp-source', perClient: true };
    rate.targets!.push(ofLoop(loopShare.prebuilt));
    // Composed: each message built per send from its parts, as a user sends; the same loop, same run.
    const composedTitle = `${title}, composed (a message built per send)`;
    composedRate = { scenario: composedTitle, metric: 'msgs/s', values: {}, targets: [ofLoop(loopShare.composed)],
      reference: { label: LOOP_LABEL, values: rate.reference.values, perClient: true } };
    composedCpu = { scenario: composedTitle, metric: 'client CPU µs/msg', values: {},
      reference: { label: LOOP_LABEL, values: cpu.reference.values, perClient: true } };
  }
  // Cold rows only (a warm run's server time includes its warm-up): what the server spent per message, and how
  // many CPUs client and server kept busy between them. Both share this machine's CPUs, so a client's msgs/s
  // is bound by its CPU plus the server's over the CPUs they get (analysis.md).
  const serverCpu: Row = { scenario: title, metric: `${server.name} CPU µs/msg`, values: {} };
  const busy: Row = { scenario: title, metric: `CPUs busy (client + ${server.name})`, values: {} };
  const measureServer = !warmup && server.cpuUs !== undefined;
  if (measureServer) {
    serverCpu.reference = { label: LOOP_LABEL, values: [] };
    busy.reference = { label: LOOP_LABEL, values: [] };
  }
  const serverSpent = async <T>(fn: () => Promise<T>): Promise<{ result: T; cpuUs: number | undefined }> => {
    const before = measureServer ? await server.cpuUs?.() : undefined;
    const result = await fn();
    const after = before === undefined ? undefined : await server.cpuUs?.();
    return { result, cpuUs: before === undefined || after === undefined ? undefined : after - before };
  };
  /** Files one run's figures: msgs/s, client CPU µs per message and, when known, the server's share. */
  const file = (client: ClientName | 'loop', i: number, msgsPerS: number, clientUs: number, serverUs: number | undefined): void => {
    const put = (row: Row, value: number): void => (client === 'loop' ? setRun(row.reference!.values, i, value) : record(row, client, i, value));
    put(rate, msgsPerS);
    put(cpu, clientUs);
    if (serverUs === undefined) return;
    put(serverCpu, serverUs);
    put(busy, ((clientUs + serverUs) * msgsPerS) / 1e6);
  };
  // More runs than elsewhere: these runs are short, and their CPU figures drift most between runs.
  for (let i = 0; i < config.throughputRuns; i++) {
    if (!anotherRun(title, i, config.throughputRuns)) break;
    for (const client of rotate(CLIENTS, i)) {
      const label = `${id}${warmup ? ' warm' : ''} ${client} run ${i + 1}`;
      if (client === 'smtp-source') {
        try {
          const { result: r, cpuUs } = await serverSpent(() => runNative('smtp-source', smtpSourceArgs(server.port, connections, messages), 180_000));
          file(client, i, messages / (r.wallMs / 1000), r.cpuUs / messages, cpuUs === undefined ? undefined : cpuUs / messages);
        } catch (error) {
          note(label, error);
        }
        continue;
      }
      const job: Job = { kind: 'send-many', client, port: server.port, messages, connections, size: MESSAGE_SIZE, ...(warmup ? { warmup } : {}) };
      const { result: r, cpuUs } = await serverSpent(() => measureNode(job, label, 180_000));
      if (!r) continue;
      file(client, i, r.count / (r.elapsedMs / 1000), r.cpuUs / r.count, cpuUs === undefined ? undefined : cpuUs / r.count);
    }
    for (const client of composedRate && composedCpu ? rotate(NODE_CLIENTS, i) : []) {
      const job: Job = { kind: 'send-many', client, port: server.port, messages, connections, size: MESSAGE_SIZE, composed: true };
      const r = await measureNode(job, `${id} composed ${client} run ${i + 1}`, 180_000);
      if (!r) continue;
      record(composedRate!, client, i, r.count / (r.elapsedMs / 1000));
      record(composedCpu!, client, i, r.cpuUs / r.count);
    }
    if (rate.reference && cpu.reference) {
      const job: Job = { kind: 'send-many', client: 'loop', port: server.port, messages, connections, size: MESSAGE_SIZE };
      const { result: r, cpuUs } = await serverSpent(() => measureNode(job, `${id} loop run ${i + 1}`, 180_000));
      if (!r) continue;
      file('loop', i, r.count / (r.elapsedMs / 1000), r.cpuUs / r.count, cpuUs === undefined ? undefined : cpuUs / r.count);
    }
  }
  // Rows the system could not fill (no /proc) are left out rather than shown empty.
  const composed = composedRate && composedCpu ? [composedRate, composedCpu] : [];
  return Object.keys(serverCpu.values).length > 0 ? [rate, cpu, ...composed, serverCpu, busy] : [rate, cpu, ...composed];
}

/** Scenario C: round trips per message and throughput through the delaying proxy. */
async function latency(kind: 'DATA' | 'BDAT', proxy: DelayProxy, messages: number): Promise<Row[]> {
  const title = kind === 'DATA'
    ? `C. ${messages} msgs via ${config.delayMs} ms proxy, DATA (smtp-sink)`
    : `C. ${messages} msgs via ${config.delayMs} ms proxy, BDAT (Postfix smtpd; nodemailer uses DATA)`;
  const trips: Row = { scenario: title, metric: 'round trips/msg', values: {}, targets: kind === 'DATA'
    ? [{ text: '≤ 1 (+ session setup)', met: (v) => (v.summary('smtpkit') ? v.summary('smtpkit')!.median <= 1.05 : undefined) }]
    : [] };
  const rate: Row = { scenario: title, metric: 'msgs/s', values: {}, targets: kind === 'DATA'
    ? [{ text: '≈ 2× nodemailer (≥ 1.8×)', met: (v) => (v.ratio('nodemailer') ? v.ratio('nodemailer')!.median >= 1.8 : undefined) }]
    : [{ text: '≥ 5× nodemailer', met: (v) => (v.ratio('nodemailer') ? v.ratio('nodemailer')!.median >= 5 : undefined) }] };
  const clients: ClientName[] = kind === 'DATA' ? [...CLIENTS] : ['smtpkit', 'nodemailer'];
  for (let i = 0; i < config.runs; i++) {
    if (!anotherRun(title, i)) break;
    for (const client of rotate(clients, i)) {
      const label = `C ${kind} ${client} run ${i + 1}`;
      proxy.reset();
      let elapsedMs: number | undefined;
      if (client === 'smtp-source') {
        try {
          elapsedMs = (await runNative('smtp-source', smtpSourceArgs(proxy.port, 1, messages), 300_000)).wallMs;
        } catch (error) {
          note(label, error);
        }
      } else {
        const job: Job = { kind: 'send-many', client, port: proxy.port, messages, connections: 1, size: MESSAGE_SIZE };
        elapsedMs = (await measureNode(job, label, 300_000))?.elapsedMs;
      }
      if (elapsedMs === undefined) continue;
      record(rate, client, i, messages / (elapsedMs / 1000));
      record(trips, client, i, proxy.stats().waits / messages);
    }
  }
  return [trips, rate];
}

/** Scenario D: one message with a file attachment, built by each client's own MIME code, sent to smtp-sink. */
async function attachment(server: BenchServer, dir: string, bytes: number, clients: NodeClient[]): Promise<Row[]> {
  const size = bytes >= 1024 * MiB ? `${bytes / 1024 / MiB} GiB` : `${bytes / MiB} MiB`;
  const title = `D. one message, ${size} file attachment`;
  const file = join(dir, `payload-${bytes}.bin`);
  await writePayload(file, bytes);
  const rate: Row = { scenario: title, metric: 'MiB/s', values: {}, targets: clients.includes('nodemailer')
    ? [{ text: '≥ 1.3× nodemailer', met: (v) => (v.ratio('nodemailer') ? v.ratio('nodemailer')!.median >= 1.3 : undefined) }]
    : [] };
  const rss: Row = { scenario: title, metric: 'peak RSS MiB', values: {}, targets: [
    { text: '≤ 80 MiB', met: (v) => (v.summary('smtpkit') ? v.summary('smtpkit')!.max <= 80 : undefined) },
  ] };
  try {
    for (let i = 0; i < config.runs; i++) {
      if (!anotherRun(title, i)) break;
      for (const client of rotate(clients, i)) {
        const r = await measureNode({ kind: 'send-attachment', client, port: server.port, file }, `D ${size} ${client} run ${i + 1}`, 240_000);
        if (!r) continue;
        record(rate, client, i, bytes / MiB / (r.elapsedMs / 1000));
        record(rss, client, i, r.maxRssKiB / 1024);
      }
    }
  } finally {
    await rm(file, { force: true });
  }
  return [rate, rss];
}

/** Scenario E: MIME build only, into one Buffer; coreutils base64 as the floor of the encoding work. */
async function buildOnly(dir: string, bytes: number): Promise<Row[]> {
  const title = `E. MIME build only, ${bytes / MiB} MiB attachment`;
  const file = join(dir, `build-${bytes}.bin`);
  await writePayload(file, bytes);
  const base64: number[] = [];
  const rate: Row = { scenario: title, metric: 'MiB/s', values: {}, reference: { label: 'coreutils base64', values: base64, perClient: true },
    targets: [
      { text: '≥ 3× nodemailer', met: (v) => (v.ratio('nodemailer') ? v.ratio('nodemailer')!.median >= 3 : undefined) },
      { text: '≥ 50 % of coreutils base64', met: (v) => (v.toReference('smtpkit') ? v.toReference('smtpkit')!.median >= 0.5 : undefined) },
    ] };
  // CPU time holds still where wall clocks drift on a shared machine (GNU time gives base64's in 10 ms steps).
  const base64Cpu: number[] = [];
  const cpuRate: Row = { scenario: title, metric: 'MiB per CPU-second', values: {}, reference: { label: 'coreutils base64', values: base64Cpu, perClient: true } };
  const rss: Row = { scenario: title, metric: 'peak RSS MiB', values: {} };
  try {
    for (let i = 0; i < config.runs; i++) {
      if (!anotherRun(title, i)) break;
      for (const client of rotate(['smtpkit', 'nodemailer'] as const, i)) {
        const r = await measureNode({ kind: 'build-only', client, bytes }, `E ${client} run ${i + 1}`, 120_000);
        if (!r) continue;
        record(rate, client, i, bytes / MiB / (r.elapsedMs / 1000));
        record(cpuRate, client, i, bytes / MiB / (r.cpuUs / 1e6));
        record(rss, client, i, r.maxRssKiB / 1024);
      }
      try {
        const native = await runNative('base64', [file], 60_000);
        base64.push(bytes / MiB / (native.wallMs / 1000));
        base64Cpu.push(bytes / MiB / (Math.max(native.cpuUs, 10_000) / 1e6));
      } catch (error) {
        note(`E base64 run ${i + 1}`, error);
      }
    }
  } finally {
    await rm(file, { force: true });
  }
  return [rate, cpuRate, rss];
}

/** Scenario F: `smtpkit --version` against `node -e 0`, spawned alternately, medians of each run. */
async function coldStart(spawns: number): Promise<Row[]> {
  const cli = join(repoDir, 'apps', 'cli', 'dist', 'cli.js');
  const baseline: number[] = [];
  const scenario = `F. CLI cold start (${spawns} spawns each)`;
  const absolute: Row = { scenario, metric: 'ms, `smtpkit --version`', values: {}, reference: { label: '`node -e 0`', values: baseline } };
  const over: Row = { scenario, metric: 'ms over `node -e 0`', values: {}, targets: [
    { text: '≤ 60 ms', met: (v) => (v.summary('smtpkit') ? v.summary('smtpkit')!.median <= 60 : undefined) },
  ] };
  // CPU time is steadier than wall time when other work shares the machine.
  const cpuOver: Row = { scenario, metric: 'CPU ms over `node -e 0`', values: {} };
  for (let i = 0; i < config.runs; i++) {
    if (!anotherRun(scenario, i)) break;
    const cli1: { wall: number[]; cpu: number[] } = { wall: [], cpu: [] };
    const node1: { wall: number[]; cpu: number[] } = { wall: [], cpu: [] };
    try {
      const check = await run(process.execPath, [cli, '--version'], 10_000);
      if (check.code !== 0 || !/\d+\.\d+\.\d+/.test(check.stdout)) {
        throw new Error(`\`node apps/cli/dist/cli.js --version\` exit ${check.code}, printed ${JSON.stringify(check.stdout.trim().slice(0, 60))}`);
      }
      for (let k = 0; k < spawns; k++) {
        const n = await runNative(process.execPath, ['-e', '0'], 10_000);
        const c = await runNative(process.execPath, [cli, '--version'], 10_000);
        node1.wall.push(n.wallMs);
        node1.cpu.push(n.cpuUs / 1000);
        cli1.wall.push(c.wallMs);
        cli1.cpu.push(c.cpuUs / 1000);
      }
    } catch (error) {
      note(`F run ${i + 1}`, error);
      continue;
    }
    const med = (xs: number[]): number => summarize(xs)!.median;
    baseline.push(med(node1.wall));
    record(absolute, 'smtpkit', i, med(cli1.wall));
    record(over, 'smtpkit', i, med(cli1.wall) - med(node1.wall));
    record(cpuOver, 'smtpkit', i, med(cli1.cpu) - med(node1.cpu));
  }
  return [absolute, over, cpuOver];
}

async function versions(): Promise<Record<string, string>> {
  const read = async (path: string): Promise<string> => {
    try {
      return (JSON.parse(await readFile(path, 'utf8')) as { version: string }).version;
    } catch {
      return 'unknown';
    }
  };
  const postfix = await run('postconf', ['-d', 'mail_version'], 10_000).catch(() => undefined);
  const coreutils = await run('base64', ['--version'], 10_000).catch(() => undefined);
  const commit = await run('git', ['-C', repoDir, 'rev-parse', '--short', 'HEAD'], 10_000).catch(() => undefined);
  return {
    node: process.version,
    nodemailer: await read(join(benchDir, 'node_modules', 'nodemailer', 'package.json')),
    'postfix (smtp-source, smtp-sink, smtpd)': postfix?.stdout.split('=')[1]?.trim() ?? 'unknown',
    coreutils: /\d+(\.\d+)+/.exec(coreutils?.stdout.split('\n')[0] ?? '')?.[0] ?? 'unknown',
    '@smtpkit/client': await read(join(repoDir, 'packages', 'smtp-client', 'package.json')),
    '@smtpkit/mime': await read(join(repoDir, 'packages', 'mime', 'package.json')),
    'smtpkit commit': commit?.stdout.trim() || 'unknown',
  };
}

const METHOD = `## Method

- Every Node client runs in its own child process (\`node dist/worker.js\`), so clients never share a heap or a JIT;
  msgs/s and CPU come from \`performance.now()\` and \`process.cpuUsage()\` around the sending window only
  (connection set-up included, process start-up excluded), peak RSS from \`process.resourceUsage().maxRSS\` of that
  child (the whole process, Node itself included). smtp-source runs under GNU \`time\` (its getrusage) and its
  wall clock is taken around the spawn.
- A, B: each client sends pre-built ~2.2 KB messages (smtp-source: \`-l ${BODY}\` body plus its headers) to
  Postfix \`smtp-sink\`, all queued at once: smtpkit \`createPool\`, nodemailer pooled transport (\`maxMessages:
  Infinity\`, raw message), smtp-source \`-s N -d\` (one connection per session, reused).
- A, B composed: each Node client builds every message from its parts as it sends it, as a user does (smtpkit:
  \`buildMessage\` from @smtpkit/mime with from, to, subject and a ~1.9 KB text, handed to \`pool.send\` with its
  envelope and size; nodemailer: \`sendMail\` with the same fields, composed by its MailComposer); about the same
  size as the pre-built message, in the same runs as the pre-built rows and the loop.
- A, B "each ÷ reference": every client's msgs/s (or CPU per message) divided by the protocol-only loop's of the
  same run, then the median of those ratios: the share of the platform's ceiling a client reaches.
- A, B reference: the protocol-only Node loop (\`bench/src/clients/loop.ts\`), in a fresh process like the clients:
  the same messages built once, EHLO, then each end of data in one write with the next MAIL, RCPT and DATA
  (one round trip per message), reply codes checked and nothing else: the least a Node program does here, so
  the gap from smtpkit to it is what the client's code costs, and the loop's ratio to smtp-source is the
  platform's ceiling for the msgs/s targets.
- A, B server CPU: smtp-sink's CPU time is read from Linux's \`/proc/PID/schedstat\` before and after each
  client's run (the whole run, connection set-up and QUIT included) and divided by the messages. "CPUs busy" is
  client plus server CPU per message times msgs/s: how many of the machine's CPUs the two kept busy together.
  On ${availableParallelism()} CPUs shared by client, server and V8's own threads, msgs/s ≈ CPUs busy ÷ (client + server
  CPU per message).
- A, warm: the same, but each Node client first sends that many messages on the same pool or transport,
  unmeasured, as a long-lived sender would; smtp-source, a C program, has nothing to warm.
  No target: it separates the per-message cost from V8's warm-up (interpreter, TurboFan compiling the hot path,
  young-generation growth), which a fresh process pays inside the cold A window.
- C: a proxy in the bench holds every chunk ${config.delayMs} ms in each direction. A client write counts as a round
  trip when a server chunk reached the client since its previous write and at least 1.5 × ${config.delayMs} ms
  passed (a client that waits needs ≥ 2 × delay; one that streams writes again at once). Greeting, EHLO and QUIT
  are counted too (about 3 per connection). BDAT runs against a private Postfix \`smtpd\` (discard transport),
  where nodemailer, which has no BDAT, uses DATA.
- D: the attachment is a file on disk handed to each client as \`fs.createReadStream\` (smtpkit: to
  \`buildMessage\` from @smtpkit/mime, then \`sendMail\`; nodemailer: \`attachments[].content\`), sent to smtp-sink.
- E: a random in-memory attachment, the message built into one Buffer (smtpkit \`buildMessage\` then
  \`toBuffer()\`, nodemailer \`MailComposer\` then \`compile().build()\`); coreutils \`base64 FILE > /dev/null\` as
  the floor, each client's ratio to it paired within a run.
- F: \`node apps/cli/dist/cli.js --version\` and \`node -e 0\` spawned alternately.
- Medians of ${config.throughputRuns} runs for A and B, ${config.runs} for the rest, range in parentheses; ratios are smtpkit ÷ peer paired within a run, then the median
  of those ratios (for CPU, RSS and round trips lower is better, so a ratio under 1 is a win).
`;

async function main(): Promise<void> {
  const rows: Row[] = [];
  const loadBefore = loadavg()[0] ?? NaN;
  const dir = await mkdtemp(join(tmpdir(), 'smtpkit-bench-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  if (profile) await mkdir(profileDir, { recursive: true });
  console.log(`smtpkit bench${quick ? ' (quick smoke mode)' : ''}: ${availableParallelism()} CPUs, node ${process.version}`);

  const sink = await startSmtpSink();
  cleanups.push(() => sink.stop());
  const section = async (id: string, what: string, fn: () => Promise<Row[]>): Promise<void> => {
    if (!wanted(id) || overBudget(what)) return;
    const t0 = performance.now();
    console.log(`- ${what}`);
    try {
      rows.push(...(await fn()));
    } catch (error) {
      note(what, error);
    }
    console.log(`  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  };

  await section('A', 'A: one connection', () => throughput('A', sink, 1, config.messages));
  await section('A', 'A: one connection, warm process', () => throughput('A', sink, 1, config.messages, 2 * config.messages));
  await section('B', 'B: 8 connections', () => throughput('B', sink, 8, config.poolMessages));
  await section('C', 'C: DATA through the delay proxy', async () => {
    const proxy = await startDelayProxy(sink.port, config.delayMs);
    try {
      return await latency('DATA', proxy, config.delayedMessages);
    } finally {
      await proxy.close();
    }
  });
  await section('C', 'C: BDAT through the delay proxy', async () => {
    const postfix = await startPostfixDiscard();
    cleanups.push(() => postfix.stop());
    try {
      const proxy = await startDelayProxy(postfix.port, config.delayMs);
      try {
        return await latency('BDAT', proxy, config.delayedMessages);
      } finally {
        await proxy.close();
      }
    } finally {
      await postfix.stop();
    }
  });
  await section('D', `D: ${config.attach / MiB} MiB attachment`, () => attachment(sink, dir, config.attach, ['smtpkit', 'nodemailer']));
  await section('E', 'E: MIME build only', () => buildOnly(dir, config.build));
  await section('F', 'F: CLI cold start', () => coldStart(config.spawns));
  // Last: the longest section, and about memory more than speed.
  await section('D', `D: ${config.bigAttach / MiB} MiB attachment`, () => attachment(sink, dir, config.bigAttach, ['smtpkit']));

  const totalS = (performance.now() - started) / 1000;
  console.log('\n' + terminalTable(rows));
  if (errors.length) console.log(`\n${errors.length} measurement(s) failed (see above).`);
  if (skipped.length) console.log(`Skipped: ${skipped.join(', ')}`);

  const v = await versions();
  const analysis = await readFile(join(benchDir, 'analysis.md'), 'utf8').catch(() => '');
  const doc = [
    `# smtpkit benchmark results${quick ? ' (quick smoke mode: tiny sizes, not representative)' : ''}`,
    '',
    `Generated by \`pnpm bench\` on ${new Date().toISOString()} in ${totalS.toFixed(0)} s.`,
    '',
    `Machine: ${availableParallelism()} CPUs (nproc), ${cpus()[0]?.model ?? 'unknown CPU'}; ` +
      Object.entries(v).map(([k, x]) => `${k} ${x}`).join(', ') + '.',
    `Load average (1 min) ${loadBefore.toFixed(1)} at the start, ${(loadavg()[0] ?? NaN).toFixed(1)} at the end ` +
      `(above ${availableParallelism()} means other work shared the CPUs and absolute figures are low; ratios paired within a run hold better).`,
    '',
    markdownTable(rows),
    '',
    ...(errors.length ? ['Failed measurements:', '', ...[...new Set(errors)].map((e) => `- ${e}`), ''] : []),
    ...(skipped.length ? [`Skipped: ${skipped.join(', ')}.`, ''] : []),
    METHOD,
    analysis.trim(),
    '',
  ].join('\n');
  const out = quick || only.size ? join(benchDir, '.tmp', 'results-partial.md') : join(benchDir, 'results.md');
  await mkdir(join(benchDir, '.tmp'), { recursive: true });
  await writeFile(out, doc);
  console.log(`\nWrote ${out} (${totalS.toFixed(0)} s).`);
  if (errors.length) process.exitCode = 1;
}

async function cleanup(): Promise<void> {
  for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
  cleanups.length = 0;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void cleanup().finally(() => process.exit(130));
  });
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(cleanup);
