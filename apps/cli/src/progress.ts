import cliProgress from 'cli-progress';

/**
 * A progress bar on stderr for a message of `total` bytes. Call the returned function with the
 * bytes sent so far, or with -1 to stop and clear it. Loaded lazily: only big sends on a TTY pay for it.
 */
export function startProgress(total: number): (bytesSent: number) => void {
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: 'sending [{bar}] {percentage}% {value}/{total} bytes',
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  let stopped = false;
  return (bytesSent) => {
    if (stopped) return;
    if (bytesSent < 0) {
      stopped = true;
      bar.stop();
      return;
    }
    bar.update(Math.min(bytesSent, total));
  };
}
