-- For each user hash KEYS[i], raises its acked seq to ARGV[i] (never lowers it, never
-- above the latest seq, so an ack cannot create the hash of a user who has no events).
-- Returns the acked seqs, in order. On Redis Cluster every key of one call must share a
-- slot: callers group acks by partition.
local out = {}
for i, key in ipairs(KEYS) do
  local seq = tonumber(ARGV[i])
  local values = redis.call('HMGET', key, 'seq', 'ack')
  local top = tonumber(values[1] or '0')
  local current = tonumber(values[2] or '0')
  if seq > top then seq = top end
  if seq > current then
    redis.call('HSET', key, 'ack', seq)
    current = seq
  end
  out[i] = current
end
return out
