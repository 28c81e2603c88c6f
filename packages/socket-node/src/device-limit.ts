import type { ExtendedError } from 'socket.io';
import { HeraldErrorCode } from '@herald/contracts';
import type { Logger, PresenceReader, RedisDeadline } from '@herald/core';
import { refusal } from './authenticate.js';
import { unavailableRefusal } from './redis-gate.js';
import type { HeraldSocket } from './types.js';

export const DEFAULT_MAX_DEVICES_PER_USER = 20;

export interface DeviceLimitOptions {
  /** Where connected devices are counted: presence, across every node. */
  presence: PresenceReader;
  /** Bounds the count, so a handshake is answered while Redis is away. */
  deadline: RedisDeadline;
  /** Devices one user may have connected at once, on all nodes together. @default 20 */
  maxDevicesPerUser?: number;
  logger: Logger;
}

/**
 * Handshake middleware (`io.use`, after authentication, so `socket.data.userId` is
 * the token's) that refuses a user's device beyond `maxDevicesPerUser` with
 * `connect_error` `too_many_devices`.
 *
 * The newest handshake loses, not the oldest connection: a device that is already
 * connected is never logged out by another one connecting, the refused device
 * learns why at once (socket.io-client does not retry a middleware refusal), and
 * the user can free a slot by closing a device they know about.
 *
 * Devices are counted from presence, so they count across all nodes. The count is
 * approximate at the edges, on purpose (no lock per handshake): handshakes of one
 * user racing on several nodes may each see room for one more, and a device is
 * counted from when its presence entry is written just after the handshake. A node
 * killed without a clean shutdown keeps its devices counted until their presence
 * entries expire (`presenceTtlMs`). If Redis cannot answer within the deadline, the
 * device is refused `unavailable`, like any handshake while Redis is away (redis-gate.ts):
 * let in, it would be neither in presence nor sure to get events.
 */
export function createDeviceLimit(options: DeviceLimitOptions) {
  const max = options.maxDevicesPerUser ?? DEFAULT_MAX_DEVICES_PER_USER;
  const log = options.logger;
  const text = `This user already has ${max} connected devices, the most allowed: close one and connect again.`;

  return function deviceLimit(socket: HeraldSocket, next: (error?: ExtendedError) => void): void {
    const { userId } = socket.data;
    options
      .deadline(() => options.presence.devices(userId), 'counting devices')
      .then(
        (devices) => {
          if (devices < max) {
            next();
            return;
          }
          log.info({ userId, devices, max }, 'refusing a device over the per-user limit');
          next(refusal(HeraldErrorCode.tooManyDevices, text));
        },
        (error: unknown) => {
          log.warn({ err: error, userId }, 'could not count the devices of a user; refusing this one');
          next(unavailableRefusal());
        },
      );
  };
}
