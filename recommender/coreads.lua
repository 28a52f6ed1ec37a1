-- Co-reads (recommender.coreads) over Redis: counts a batch of reads in one call.
-- Keys, all under one hash tag (one Redis Cluster slot), built here from ARGV[1] because a read's
-- partners are only known once its session's recent reads are: P:n (sorted set, article -> log
-- N, sessions that read it), P:p:<a> (sorted set, partner -> log C(a, partner)), P:s:<session>
-- (list of "time|article", the session's recent reads, expiring after the session gap).
-- Values are kept in log space like the popularity counters: log(sum 2^((t - ORIGIN) / h)).
-- ARGV: P, decay rate (ln 2 / half-life s), session gap s, reads kept per session, partners
-- kept per article, then per read: session id, article id, time.
-- ORIGIN is replaced by popularity.T0.
local prefix, rate, gap = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local items, limit = tonumber(ARGV[4]), tonumber(ARGV[5])
local counts = prefix .. ':n'
-- adds in log space; true when the member is new to the set
local function add(key, member, term)
  local current = redis.call('ZSCORE', key, member)
  if current then
    current = tonumber(current)
    local high, low = math.max(current, term), math.min(current, term)
    term = high + math.log(1 + math.exp(low - high))
  end
  redis.call('ZADD', key, string.format('%.17g', term), member)
  return not current
end
local function pair(a, b, term)
  local key = prefix .. ':p:' .. a
  -- amortised like CoReads._add: once the set doubles, keep the strongest `limit` (only a new
  -- member can grow it, so only then is it measured)
  if add(key, b, term) and redis.call('ZCARD', key) > 2 * limit then
    redis.call('ZREMRANGEBYRANK', key, 0, -(limit + 1))
  end
end
local recorded = 0
for i = 6, #ARGV, 3 do
  local session, article, ts = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local skey = prefix .. ':s:' .. session
  local recent, again, appended = {}, false, false
  local stored = redis.call('LRANGE', skey, 0, -1)
  for _, item in ipairs(stored) do
    local bar = string.find(item, '|', 1, true)
    local at, other = tonumber(string.sub(item, 1, bar - 1)), string.sub(item, bar + 1)
    if at >= ts - gap then
      table.insert(recent, item)
      if other == article then again = true end
    end
  end
  if not again then -- a refresh loop counts once
    local term = rate * (ts - ORIGIN)
    add(counts, article, term)
    for _, item in ipairs(recent) do
      local other = string.sub(item, string.find(item, '|', 1, true) + 1)
      pair(article, other, term)
      pair(other, article, term)
    end
    table.insert(recent, string.format('%.17g', ts) .. '|' .. article)
    recorded, appended = recorded + 1, true
  end
  local kept = #recent - (appended and 1 or 0)
  if kept == #stored and appended then -- nothing left the window: append (the usual case)
    redis.call('RPUSH', skey, recent[#recent])
    redis.call('LTRIM', skey, -items, -1)
  elseif kept < #stored then -- reads left the window: write what is left
    redis.call('DEL', skey)
    local first = math.max(1, #recent - items + 1)
    for n = first, #recent do redis.call('RPUSH', skey, recent[n]) end
  end
  if #recent > 0 then redis.call('EXPIRE', skey, math.max(1, math.ceil(gap))) end
end
return recorded
