import type { BenchPayload } from './payload.js';

/** The queue of the naive pipeline, beside Herald's own under the same prefix. */
export const NAIVE_QUEUE = 'naive-events';

/** What one naive job carries: the event and who gets it, as a team would write it. */
export interface NaiveJobData {
  event: string;
  userIds: string[];
  payload: BenchPayload;
  id: string;
}
