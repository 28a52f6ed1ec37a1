-- Counts a batch of events in one call (a script call per event took twice as long).
-- KEYS: short, long, alltime counters, then per event two keys: its reader's de-duplication
-- key and its (client, story) reader-cap key, each "" when the event has none
-- ARGV: short rate, long rate, de-duplication seconds (also the reader-cap window), readers per
-- client, then per event: member, log(weight), time, session id
-- ORIGIN is replaced by popularity.T0, the origin of the log-space clock.
local rates = {tonumber(ARGV[1]), tonumber(ARGV[2]), 0}
local window = tonumber(ARGV[3])
local per_client = tonumber(ARGV[4])
local ttl = math.max(1, math.ceil(window))
local function add(key, member, term)
  local current = redis.call('ZSCORE', key, member)
  if current then
    current = tonumber(current)
    local high, low = math.max(current, term), math.min(current, term)
    term = high + math.log(1 + math.exp(low - high))
  end
  redis.call('ZADD', key, string.format('%.17g', term), member)
end
-- readers.ReaderGate over Redis: per (client, story), at most per_client sessions count in a
-- window that starts at the first of them; the hash holds '~since' and one field per session
-- (stored sessions start with "c.", so they never clash with '~since')
local function admit(gate, session, ts)
  local since = tonumber(redis.call('HGET', gate, '~since'))
  if not since or ts - since >= window then
    redis.call('DEL', gate)
    redis.call('HSET', gate, '~since', string.format('%.17g', ts))
    redis.call('EXPIRE', gate, ttl)
  end
  if redis.call('HEXISTS', gate, session) == 1 then
    return true -- the same reader again: the session de-duplication decides
  end
  if redis.call('HLEN', gate) - 1 >= per_client then
    return false
  end
  redis.call('HSET', gate, session, 1)
  return true
end
local counted = 0
for i = 1, (#KEYS - 3) / 2 do
  local member, weight = ARGV[4 * i + 1], tonumber(ARGV[4 * i + 2])
  local ts, session = tonumber(ARGV[4 * i + 3]), ARGV[4 * i + 4]
  local seen, gate, fresh = KEYS[2 + 2 * i], KEYS[3 + 2 * i], true
  if gate ~= '' and not admit(gate, session, ts) then
    fresh = false
  elseif seen ~= '' then
    local last = redis.call('GET', seen)
    if last and math.abs(ts - tonumber(last)) < window then
      fresh = false
    else
      redis.call('SET', seen, ARGV[4 * i + 3], 'EX', ttl)
    end
  end
  if fresh then
    for k = 1, 3 do
      add(KEYS[k], member, weight + rates[k] * (ts - ORIGIN))
    end
    counted = counted + 1
  end
end
return counted
