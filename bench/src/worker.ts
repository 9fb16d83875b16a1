// Child process entry: runs one Job given as JSON in argv[2], prints one result line. Nothing else is loaded
// before the job so the process's peak RSS belongs to the client under test.
import { RESULT_MARKER, type Job, type JobResult } from './jobs.js';

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as Job;
  process.stdout.write(RESULT_MARKER + JSON.stringify(await perform(job)) + '\n');
}

async function perform(job: Job): Promise<JobResult> {
  // Only send-many jobs name the loop (see jobs.ts).
  if (job.client === 'loop') return (await import('./clients/loop.js')).sendMany(job);
  const impl = job.client === 'smtpkit' ? await import('./clients/smtpkit.js') : await import('./clients/nodemailer.js');
  switch (job.kind) {
    case 'send-many':
      return impl.sendMany(job);
    case 'send-attachment':
      return impl.sendAttachment(job);
    case 'build-only':
      return impl.buildOnly(job);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    process.stderr.write(message.split('\n').slice(0, 3).join(' ') + '\n');
    process.exit(1);
  },
);
