// Child process entry: runs one Job given as JSON in argv[2], prints one result line. Nothing else is loaded
// before the job so the process's peak RSS belongs to the client under test.
import { RESULT_MARKER, type Job, type JobResult } from './jobs.js';

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as Job;
  const impl = job.client === 'smtpkit' ? await import('./clients/smtpkit.js') : await import('./clients/nodemailer.js');
  let result: JobResult;
  switch (job.kind) {
    case 'send-many':
      result = await impl.sendMany(job);
      break;
    case 'send-attachment':
      result = await impl.sendAttachment(job);
      break;
    case 'build-only':
      result = await impl.buildOnly(job);
      break;
  }
  process.stdout.write(RESULT_MARKER + JSON.stringify(result) + '\n');
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    process.stderr.write(message.split('\n').slice(0, 3).join(' ') + '\n');
    process.exit(1);
  },
);
