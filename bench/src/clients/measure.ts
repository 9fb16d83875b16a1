import type { JobResult } from '../jobs.js';

/** Wall clock and CPU of one measured window of this process. */
export function startWindow(): (count: number, bytes: number) => JobResult {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  return (count, bytes) => {
    const elapsedMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return {
      elapsedMs,
      cpuUs: cpu.user + cpu.system,
      maxRssKiB: process.resourceUsage().maxRSS,
      count,
      bytes,
    };
  };
}
