-- The live presence entries of the users of one stream entry, in one call.
-- KEYS: each user's presence zset (all in the entry's partition). ARGV[1]: now (ms).
-- Returns per user its entries with a score ≥ now, as member, score, …
local now = ARGV[1]
local out = {}
for i = 1, #KEYS do
  out[i] = redis.call('ZRANGEBYSCORE', KEYS[i], now, '+inf', 'WITHSCORES')
end
return out
