import { expect } from 'vitest';
import { HeraldError } from '@herald/contracts';

/** Runs `publish`, expects it to reject with a HeraldError, and returns that error. */
export async function refusal(publish: () => Promise<unknown>): Promise<HeraldError> {
  const error = await publish().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HeraldError);
  return error as HeraldError;
}
