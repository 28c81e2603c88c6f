/**
 * Preloaded (`--import`) into the Herald apps the bench starts, which run their own
 * unchanged `src/main.ts`: when the orchestrator goes away (its IPC channel closes,
 * even after a SIGKILL), the app gets the SIGTERM it would get from an orchestrator
 * and shuts down cleanly instead of lingering as load on a shared machine.
 */
if (process.send) {
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  // The channel must not keep an app alive that finished on its own.
  process.channel?.unref();
}
