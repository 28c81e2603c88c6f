import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';

export interface DemoPageOptions {
  /** The dev token the page connects with. */
  token: string;
  userId: string;
  /** Socket.IO's path, which the page connects to. @default '/socket.io/' */
  wsPath?: string;
}

const TEMPLATE_URL = new URL('../public/index.html', import.meta.url);

/** Where the page loads the Socket.IO client from. */
export const CLIENT_SCRIPT_PATH = '/demo/socket.io.js';

/**
 * The browser build of socket.io-client. Socket nodes run with `serveClient: false`
 * (production serves no scripts), and Socket.IO answers everything under its own
 * path itself, so the page's copy is served here, under another path.
 */
function readClientScript(): Buffer {
  const file = createRequire(import.meta.url).resolve('socket.io-client/dist/socket.io.js');
  return readFileSync(file);
}

/** JSON that is safe inside a <script> element: no `</script>`, no HTML comment openers, no line separators. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll('<', '\\u003c')
    .replaceAll('>', '\\u003e')
    .replaceAll('&', '\\u0026')
    .replaceAll('\u2028', '\\u2028')
    .replaceAll('\u2029', '\\u2029');
}

/** Fills the page template with its settings. */
export function renderDemoPage(options: DemoPageOptions): string {
  const wsPath = options.wsPath ?? '/socket.io/';
  const template = readFileSync(TEMPLATE_URL, 'utf8');
  return (
    template
      // Function replacers: a `$` in a value must not be read as a replacement pattern.
      .replace('__HERALD_DEMO_CONFIG__', () =>
        scriptJson({ token: options.token, userId: options.userId, wsPath }),
      )
  );
}

/**
 * Extra routes for the socket node's HTTP server: `GET /` answers the demo page
 * and `GET /demo/socket.io.js` the client script it loads; anything else is left
 * to the next handler (returns false).
 */
export function createDemoPageHandler(
  options: DemoPageOptions,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  // Read once: the token, the path and the script do not change while the stack runs.
  const html = Buffer.from(renderDemoPage(options), 'utf8');
  const script = readClientScript();
  const page = {
    body: html,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      // The page carries a token: no shared caches, and no framing by other sites.
      'cache-control': 'no-store',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
    },
  };
  const routes = new Map<string, { body: Buffer; headers: Record<string, string> }>([
    ['/', page],
    ['/index.html', page],
    [CLIENT_SCRIPT_PATH, { body: script, headers: { 'content-type': 'text/javascript; charset=utf-8' } }],
  ]);
  return (req, res) => {
    const route = routes.get((req.url ?? '/').split('?')[0] ?? '/');
    if (!route) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return true;
    }
    res.writeHead(200, { ...route.headers, 'content-length': String(route.body.length) });
    res.end(req.method === 'HEAD' ? undefined : route.body);
    return true;
  };
}
