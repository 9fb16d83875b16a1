/**
 * Lua scripts the Redis store runs atomically on the server.
 */

/**
 * Compare-and-set of recipient states. KEYS[1] = the message hash. ARGV = n, then n triples
 * (field, expected claim token or '', new JSON). Writes all or nothing: 0 when any recipient's current claim
 * differs from the expected one (another worker took it), 1 after writing. A recipient already holding exactly the
 * new value counts as matching, so the same write replayed after a reconnect (ioredis resends commands whose
 * reply was lost) is a success, not a conflict; claim tokens are unique, so no other write can produce that value.
 */
export const CAS_RECIPIENTS = `
local n = tonumber(ARGV[1])
for i = 0, n - 1 do
  local field = ARGV[2 + i * 3]
  local expected = ARGV[3 + i * 3]
  local current = redis.call('HGET', KEYS[1], field)
  if not current then return 0 end
  local claim = cjson.decode(current)['claim']
  if claim == nil or claim == cjson.null then claim = '' end
  if claim ~= expected and current ~= ARGV[4 + i * 3] then return 0 end
end
for i = 0, n - 1 do
  redis.call('HSET', KEYS[1], ARGV[2 + i * 3], ARGV[4 + i * 3])
end
return 1
`;

/**
 * The long-tail limiter: a semaphore of sessions whose slots expire (so a killed worker frees its slot), plus
 * sliding windows of sessions opened per minute and messages started per second. KEYS = slots, opened, started;
 * ARGV = now, token, slot ttl ms, max sessions, max new sessions per minute, max messages per second (0 = none).
 * Returns 0 when the slot was taken, else how many ms to wait.
 */
export const ACQUIRE_SLOT = `
local now = tonumber(ARGV[1])
local token = ARGV[2]
local ttl = tonumber(ARGV[3])
local maxSessions = tonumber(ARGV[4])
local perMinute = tonumber(ARGV[5])
local perSecond = tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 60000)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - 1000)
if maxSessions > 0 and redis.call('ZCARD', KEYS[1]) >= maxSessions then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, math.min(tonumber(first[2]) - now, 1000))
end
if perMinute > 0 and redis.call('ZCARD', KEYS[2]) >= perMinute then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(first[2]) + 60000 - now)
end
if perSecond > 0 and redis.call('ZCARD', KEYS[3]) >= perSecond then
  local first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(first[2]) + 1000 - now)
end
redis.call('ZADD', KEYS[1], now + ttl, token)
redis.call('ZADD', KEYS[2], now, token)
redis.call('ZADD', KEYS[3], now, token)
redis.call('PEXPIRE', KEYS[1], ttl + 60000)
redis.call('PEXPIRE', KEYS[2], 120000)
redis.call('PEXPIRE', KEYS[3], 120000)
return 0
`;

/**
 * Another message over a session that holds a slot. KEYS = slots, started; ARGV = now, token, slot ttl ms, max
 * messages per second (0 = none), a unique member for the started window. Returns -1 when the slot is gone (it
 * expired: the session no longer counts and must close), 0 after renewing it and counting the message, else how
 * many ms to wait.
 */
export const REUSE_SLOT = `
local now = tonumber(ARGV[1])
local perSecond = tonumber(ARGV[4])
local expires = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not expires or tonumber(expires) <= now then return -1 end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 1000)
if perSecond > 0 and redis.call('ZCARD', KEYS[2]) >= perSecond then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(first[2]) + 1000 - now)
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('ZADD', KEYS[2], now, ARGV[5])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + 60000)
redis.call('PEXPIRE', KEYS[2], 120000)
return 0
`;

/**
 * Keeps a session's slot alive without counting a message. KEYS = slots; ARGV = now, token, slot ttl ms. Returns -1
 * when the slot is gone (it expired: the session no longer counts and must close), 0 after renewing it.
 */
export const RENEW_SLOT = `
local now = tonumber(ARGV[1])
local expires = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not expires or tonumber(expires) <= now then return -1 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + 60000)
return 0
`;
