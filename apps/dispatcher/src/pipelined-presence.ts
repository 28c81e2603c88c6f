import { PresenceReader, countDevices, type UserDevices } from '@herald/core';

/**
 * The presence reader of the dispatcher, whose connection auto-pipelines: `devicesAmong`
 * issues one plain ZRANGEBYSCORE per user (same rule as `PresenceReader`: entries whose
 * expiry is still ahead), which ioredis sends in the same write as the job's record reads
 * and the PUBLISHes of other jobs, instead of building an explicit pipeline per job (the
 * pipeline object costs more CPU than the reads it carries for a batch of a few users).
 */
export class PipelinedPresenceReader extends PresenceReader {
  /** Same as `PresenceReader.devicesAmong`, one auto-pipelined ZRANGEBYSCORE per user. */
  override async devicesAmong(userIds: readonly string[]): Promise<Map<string, UserDevices>> {
    const found = new Map<string, UserDevices>();
    if (userIds.length === 0) return found;
    const now = Date.now();
    const members = await Promise.all(
      userIds.map((userId) =>
        this.redis.zrangebyscore(this.keys.presence(userId), now, '+inf', 'WITHSCORES'),
      ),
    );
    members.forEach((list, i) => {
      if (list.length > 0) found.set(userIds[i] as string, countDevices(list));
    });
    return found;
  }
}
