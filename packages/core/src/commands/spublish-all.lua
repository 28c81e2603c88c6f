-- SPUBLISHes each (channel, message) pair of ARGV, in order; returns how many it sent.
-- The channels are not KEYS: on one Redis every channel is local. Redis Cluster refuses a
-- script that touches a channel of another node's slot, so there the emitter does not use it.
for i = 1, #ARGV, 2 do
  redis.call('SPUBLISH', ARGV[i], ARGV[i + 1])
end
return #ARGV / 2
