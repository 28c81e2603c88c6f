import type { Redis, RedisKeys } from '@herald/core';

/** How long a claim stands: publishing the same event id again within this window delivers once. */
export const CLAIM_TTL_S = 24 * 60 * 60;

/**
 * For each key: SET NX EX with the job id; a key already set counts as claimed only
 * when it holds this job's id (a retry of the job that claimed it). One script call
 * per job, atomic, so two jobs racing for the same (eventId, part) cannot both win.
 */
const CLAIM_SCRIPT = `
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'EX', ARGV[2]) then
    out[i] = 1
  elseif redis.call('GET', key) == ARGV[1] then
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
`;

/** An (event id, part) pair to claim. */
export interface ClaimRef {
  eventId: string;
  part: number;
}

/**
 * Idempotency of publishing, per (event id, `toUsers` slice): the first events job
 * that carries a pair claims it for 24 h; a later job carrying the same pair (the
 * same event id published again) skips it, while a retry of the claiming job (same
 * job id) proceeds. Returns, in order, whether each pair is this job's to deliver.
 */
export async function claimEvents(
  redis: Redis,
  keys: RedisKeys,
  jobId: string,
  refs: readonly ClaimRef[],
): Promise<boolean[]> {
  if (refs.length === 0) return [];
  const claimKeys = refs.map((ref) => keys.eventClaim(ref.eventId, ref.part));
  const result = await claimCommand(redis)(claimKeys.length, ...claimKeys, jobId, String(CLAIM_TTL_S));
  return result.map((claimed) => claimed === 1);
}

type ClaimCommand = (...args: Array<string | number>) => Promise<number[]>;
const COMMAND = 'heraldClaimEvents';

/**
 * The script as a command of the connection (ioredis `defineCommand`): sent as EVALSHA,
 * so each job carries the script's hash rather than its text, and Redis does not hash it again.
 */
function claimCommand(redis: Redis): ClaimCommand {
  const commands = redis as unknown as Record<string, ClaimCommand | undefined>;
  if (typeof commands[COMMAND] !== 'function') redis.defineCommand(COMMAND, { lua: CLAIM_SCRIPT });
  return (commands[COMMAND] as ClaimCommand).bind(redis);
}
