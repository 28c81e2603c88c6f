-- Sequences the items of one stream entry and appends the entry to its partition's
-- stream, atomically: an event is either sequenced, in its users' inboxes and in the
-- stream, or none of these. Every key is in the partition's slot.
--
-- KEYS[1]: the partition's stream. Then per item: its slice record when the producer
-- supplied the event id, then per user: the user's hash, the user's inbox.
-- ARGV[1]: inbox max, ARGV[2]: inbox TTL (s), ARGV[3]: record TTL (s), ARGV[4]: the
-- entry's `events` JSON. Then per item: 1 if it has a slice record else 0, its user
-- count, its inbox entry's tail (the JSON after the opening brace and seq).
--
-- A slice record that exists means the slice was sequenced before (a republish of a
-- producer-supplied id): it gets no seq and no inbox entry, and `-` in the entry's seqs,
-- so the dispatcher skips it. Returns the entry's stream id ('' when every item was a
-- republish, and nothing was appended), then per item 1 (sequenced) or 0 (republish).
-- A script is not rolled back when a command fails half-way: refuse up front what would
-- make the XADD fail after the seqs were taken (a key of the wrong type).
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'stream' and kind ~= 'none' then
  return redis.error_reply('WRONGTYPE ' .. KEYS[1] .. ' is a ' .. kind .. ', not a stream: nothing was sequenced')
end
local max = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local recordTtl = tonumber(ARGV[3])
local k = 2
local a = 5
local results = {}
local parts = {}
local appended = false
while a <= #ARGV do
  local hasRecord = ARGV[a] == '1'
  local n = tonumber(ARGV[a + 1])
  local tail = ARGV[a + 2]
  a = a + 3
  local fresh = true
  if hasRecord then
    fresh = redis.call('SET', KEYS[k], '1', 'NX', 'EX', recordTtl)
    k = k + 1
  end
  if fresh then
    local seqs = {}
    for j = 1, n do
      local seq = redis.call('HINCRBY', KEYS[k], 'seq', 1)
      local inbox = KEYS[k + 1]
      if redis.call('RPUSH', inbox, '{"seq":' .. seq .. ',' .. tail) > max then
        redis.call('LTRIM', inbox, -max, -1)
      end
      redis.call('EXPIRE', inbox, ttl)
      seqs[j] = seq
      k = k + 2
    end
    results[#results + 1] = 1
    parts[#parts + 1] = table.concat(seqs, ',')
    appended = true
  else
    k = k + 2 * n
    results[#results + 1] = 0
    parts[#parts + 1] = '-'
  end
end
local id = ''
if appended then
  id = redis.call('XADD', KEYS[1], '*', 'events', ARGV[4], 'seqs', table.concat(parts, ';'))
end
table.insert(results, 1, id)
return results
