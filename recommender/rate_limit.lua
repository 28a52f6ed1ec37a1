-- One client's token bucket, taken from in one call (one round trip per batch of events).
-- KEYS[1]: the bucket, a hash {tokens, at}; it expires once it would be full again anyway.
-- ARGV: refill rate (tokens a second), burst (bucket size), cost, now ('' = Redis's own clock,
-- the same for every replica whatever their clocks say).
-- Returns the seconds to wait as a string (Lua numbers become integers on the way back), "0"
-- when the cost was taken.
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if not now then
  local clock = redis.call('TIME')
  now = tonumber(clock[1]) + tonumber(clock[2]) / 1e6
end
cost = math.min(cost, burst)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]) or burst, tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens < cost then
  wait = (cost - tokens) / rate
else
  tokens = tokens - cost
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.17g', now))
redis.call('EXPIRE', KEYS[1], math.max(1, math.ceil(burst / rate) + 1))
return string.format('%.17g', wait)
