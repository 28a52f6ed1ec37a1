-- Counts a batch of events in one call (a script call per event took twice as long).
-- KEYS: short, long, alltime counters, then per event its reader's de-duplication key (or "")
-- ARGV: short rate, long rate, de-duplication seconds, then per event: member, log(weight), time
-- ORIGIN is replaced by popularity.T0, the origin of the log-space clock.
local rates = {tonumber(ARGV[1]), tonumber(ARGV[2]), 0}
local window = tonumber(ARGV[3])
local function add(key, member, term)
  local current = redis.call('ZSCORE', key, member)
  if current then
    current = tonumber(current)
    local high, low = math.max(current, term), math.min(current, term)
    term = high + math.log(1 + math.exp(low - high))
  end
  redis.call('ZADD', key, string.format('%.17g', term), member)
end
local counted = 0
for i = 1, #KEYS - 3 do
  local member, weight, ts = ARGV[3 * i + 1], tonumber(ARGV[3 * i + 2]), tonumber(ARGV[3 * i + 3])
  local seen, fresh = KEYS[3 + i], true
  if seen ~= '' then
    local last = redis.call('GET', seen)
    if last and math.abs(ts - tonumber(last)) < window then
      fresh = false
    else
      redis.call('SET', seen, ARGV[3 * i + 3], 'EX', math.max(1, math.ceil(window)))
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
