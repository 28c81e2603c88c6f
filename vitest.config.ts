import { defineConfig } from 'vitest/config';
import projects from './vitest.workspace.ts';

export default defineConfig({
  test: {
    projects,
    // A run that collects nothing must fail, never pass silently.
    passWithNoTests: false,
    // Socket and Redis tests open ports and child processes; two cores is all CI has.
    maxWorkers: 2,
  },
});
