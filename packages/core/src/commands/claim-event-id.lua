-- Claims a producer-supplied event id for what it stands for, before any slice of the
-- event is sequenced: the slices of a `toUsers` live in several partitions (several
-- slots), so the check that an id is not reused for another event is made once, here.
--
-- KEYS[1]: the id's claim. ARGV[1]: the event's fingerprint, ARGV[2]: TTL (s).
-- Returns 1 for a new claim, 0 when the id was claimed with the same fingerprint (a
-- retry), else the fingerprint it was claimed with (a reuse, which the publisher refuses).
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  return 1
end
local prior = redis.call('GET', KEYS[1])
if prior == ARGV[1] then
  return 0
end
return prior or ''
