import { SmtpError } from '@smtpkit/wire';
import type { PoolOptions } from './types.js';
import { SlidingWindow } from './rate-limit.js';
import type { ConnectOptions } from '../types.js';

/** The pool's limits, validated and defaulted, and the options left for `connect()`. */
export interface PoolSettings {
  maxConnections: number;
  maxMessages: number;
  maxPipelined: number;
  maxQueue: number;
  idleTimeout: number;
  checkAfterIdle: number;
  checkCommand: 'RSET' | 'NOOP';
  connectOptions: ConnectOptions;
  messageRate: SlidingWindow | undefined;
  connectionRate: SlidingWindow | undefined;
}

const POOL_KEYS = [
  'maxConnections',
  'maxMessagesPerConnection',
  'maxPipelinedPerConnection',
  'idleTimeout',
  'maxQueue',
  'checkAfterIdle',
  'checkCommand',
  'connectFn',
  'stopAfter',
  'rateLimit',
  'maxConnectionsPerMinute',
] as const;

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw optionError(`pool option "${name}" must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0)) {
    throw optionError(`pool option "${name}" must be a non-negative number of milliseconds`);
  }
  return value;
}

function optionError(message: string): SmtpError {
  return new SmtpError(message, { kind: 'input', code: 'ERR_SMTP_INPUT', retryable: false });
}

/** Validates and defaults {@link PoolOptions}; throws kind 'input' naming the bad option. */
export function resolvePoolOptions(options: PoolOptions): PoolSettings {
  const checkCommand = options.checkCommand ?? 'RSET';
  if (checkCommand !== 'RSET' && checkCommand !== 'NOOP') {
    throw optionError(`pool option "checkCommand" must be 'RSET' or 'NOOP'`);
  }
  const connectOptions: ConnectOptions = { ...options };
  for (const key of POOL_KEYS) delete (connectOptions as unknown as Record<string, unknown>)[key];
  return {
    maxConnections: positiveInteger('maxConnections', options.maxConnections, 5),
    maxMessages: positiveInteger('maxMessagesPerConnection', options.maxMessagesPerConnection, 100),
    maxPipelined: positiveInteger('maxPipelinedPerConnection', options.maxPipelinedPerConnection, 8),
    maxQueue: positiveInteger('maxQueue', options.maxQueue, 1000),
    idleTimeout: nonNegative('idleTimeout', options.idleTimeout, 30_000),
    checkAfterIdle: nonNegative('checkAfterIdle', options.checkAfterIdle, 1_000),
    checkCommand,
    connectOptions,
    messageRate: messageRate(options.rateLimit),
    connectionRate:
      options.maxConnectionsPerMinute === undefined
        ? undefined
        : new SlidingWindow(positiveInteger('maxConnectionsPerMinute', options.maxConnectionsPerMinute, 1), 60_000),
  };
}

function messageRate(rate: PoolOptions['rateLimit']): SlidingWindow | undefined {
  if (rate === undefined) return undefined;
  if (typeof rate !== 'object' || rate === null) throw optionError('pool option "rateLimit" must be { messages, perMs }');
  if (rate.messages === undefined) throw optionError('pool option "rateLimit.messages" is required');
  const messages = positiveInteger('rateLimit.messages', rate.messages, 1);
  const perMs = rate.perMs;
  if (typeof perMs !== 'number' || !(perMs > 0) || !Number.isFinite(perMs)) {
    throw optionError('pool option "rateLimit.perMs" must be a positive number of milliseconds');
  }
  return new SlidingWindow(messages, perMs);
}

