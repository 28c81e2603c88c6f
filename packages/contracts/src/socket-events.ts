import type { z } from 'zod';
import type { Catalog, DefaultCatalog } from './catalog.js';
import type {
  AuthenticatedPayload,
  ClientEventAck,
  ClientEventName,
  ClientEventPayload,
  DeliveryMeta,
  ErrorPayload,
  GapPayload,
  HeraldAuthAck,
  ProtocolEventPayload,
  ResyncPayload,
  SyncAck,
  TokenExpiringPayload,
} from './protocol.js';

/** Socket.IO's server→client map, derived from a catalog (payload first, Herald's metadata second). */
export type ServerToClientEvents<C extends Catalog = DefaultCatalog> = {
  [E in keyof C & string]: (payload: z.output<C[E]['schema']>, meta: DeliveryMeta) => void;
} & {
  authenticated: (payload: AuthenticatedPayload) => void;
  error: (payload: ErrorPayload) => void;
  'herald:token_expiring': (payload: TokenExpiringPayload) => void;
  'herald:gap': (payload: GapPayload) => void;
  'herald:resync': (payload: ResyncPayload) => void;
};

/** Socket.IO's client→server map: the client events of the contracts and Herald's own, each with an optional ack. */
export type ClientToServerEvents = {
  [E in ClientEventName]: (payload: ClientEventPayload<E>, ack?: (result: ClientEventAck) => void) => void;
} & {
  'herald:auth': (
    payload: ProtocolEventPayload<'herald:auth'>,
    ack?: (result: HeraldAuthAck) => void,
  ) => void;
  'herald:ack': (payload: ProtocolEventPayload<'herald:ack'>) => void;
  'herald:sync': (payload: ProtocolEventPayload<'herald:sync'>, ack?: (result: SyncAck) => void) => void;
};

/** What the socket node keeps on `socket.data` after the handshake. */
export interface SocketData {
  userId: string;
  email: string | null;
  role: string | null;
  /** The replay cursor of the handshake (`auth.lastSeq`), when it was for this user; replayed once connected. */
  lastSeq?: number;
  /** The device declared that it sends `herald:ack` (`auth.acks`). */
  acks?: boolean;
}
