import { describe, expect, it } from 'vitest';
import { soakRecipients } from './scenario-soak.js';

describe('soakRecipients', () => {
  it('fills every inbox within the first 30% of the run, between 10 and 100 recipients', () => {
    // 100 × 500 events at 300/s = 167 s of a 600 s run.
    expect(soakRecipients(600_000, 500)).toBe(100);
    expect(soakRecipients(60_000, 500)).toBe(10);
    expect(soakRecipients(180_000, 500)).toBe(32);
  });
});
