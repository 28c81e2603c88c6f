import { readFileSync } from 'node:fs';
import type { RedisClient } from './redis-client.js';

/**
 * Every script Herald runs, by the command name it gets on a connection, and its file in
 * `commands/` beside this one. `numberOfKeys` is given where the script takes none: the
 * others take their key count as their first argument.
 */
const SCRIPTS = {
  heraldSequenceAndAppend: { file: 'sequence-and-append' },
  heraldClaimEventId: { file: 'claim-event-id' },
  heraldReplay: { file: 'replay' },
  heraldAck: { file: 'ack' },
  heraldLivePresence: { file: 'live-presence' },
  heraldSpublishAll: { file: 'spublish-all', numberOfKeys: 0 },
} as const satisfies Record<string, { file: string; numberOfKeys?: number }>;
export type HeraldScript = keyof typeof SCRIPTS;
/** The command names the scripts get on a connection (`redis.heraldAck(…)`). */
export const SCRIPT_COMMANDS: readonly string[] = Object.keys(SCRIPTS);

const sources = new Map<HeraldScript, string>();
function source(name: HeraldScript): string {
  let lua = sources.get(name);
  if (lua === undefined) {
    lua = readFileSync(new URL(`./commands/${SCRIPTS[name].file}.lua`, import.meta.url), 'utf8');
    sources.set(name, lua);
  }
  return lua;
}

/**
 * Defines every Herald script on a connection (ioredis `defineCommand`: EVALSHA, the script
 * sent again only when Redis lost it). `createRedis` does it for each connection it opens, and
 * it must happen before a connection's first command: an auto-pipelining connection copies its
 * scripts into each pipeline when the pipeline is made, so a script defined while a pipeline is
 * pending is missing from it, and ioredis then crashes the process ("results[i] is not
 * iterable", ioredis#1931). No I/O: it only hashes the scripts.
 */
export function defineHeraldScripts(redis: RedisClient): void {
  const commands = redis as unknown as Record<string, unknown>;
  for (const name of Object.keys(SCRIPTS) as HeraldScript[]) {
    if (typeof commands[name] === 'function') continue;
    const script = SCRIPTS[name];
    redis.defineCommand(name, {
      lua: source(name),
      ...('numberOfKeys' in script ? { numberOfKeys: script.numberOfKeys } : {}),
    });
  }
}

type ScriptCommand = (...args: Array<string | number>) => Promise<unknown>;

/**
 * The script `name` on `redis`, bound. A connection that did not come from `createRedis` (one a
 * producer passed to the publisher) gets the scripts defined here first; see
 * `defineHeraldScripts` for why that must happen before its first command.
 */
export function heraldScript(redis: RedisClient, name: HeraldScript): ScriptCommand {
  defineHeraldScripts(redis);
  return (redis as unknown as Record<HeraldScript, ScriptCommand>)[name].bind(redis);
}
