-- Reads what a device with cursor lastSeq missed.
-- KEYS[1]: the user's hash, KEYS[2]: the user's inbox. ARGV[1]: lastSeq.
-- Returns { latest seq, seq of the inbox's first entry, entries after lastSeq… }.
local top = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local last = tonumber(ARGV[1])
local len = redis.call('LLEN', KEYS[2])
local first = top - len + 1
if last >= top then return { top, first } end
local from = last + 1
if from < first then from = first end
local out = redis.call('LRANGE', KEYS[2], from - first, -1)
table.insert(out, 1, first)
table.insert(out, 1, top)
return out
