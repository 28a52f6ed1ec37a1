-- One article's co-read partners and the counts that normalise them, in one round trip.
-- KEYS[1]: P:n, KEYS[2]: P:p:<article> (see coreads.lua). ARGV[1]: the article.
-- Returns {log N(article), partner, log C, log N(partner), ...}, numbers as strings (Lua numbers
-- would come back as integers); an empty list when the article has no partners.
local own = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not own then return {} end
local rows = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
local out = {own}
for i = 1, #rows, 2 do
  local other = redis.call('ZSCORE', KEYS[1], rows[i])
  if other then
    table.insert(out, rows[i])
    table.insert(out, rows[i + 1])
    table.insert(out, other)
  end
end
return out
