export interface BannerInfo {
  /** Where a browser on this machine reaches the stack, e.g. http://localhost:3000 */
  url: string;
  userId: string;
  token: string;
  apiKey: string;
  generated: { jwtSecret: boolean; apiKey: boolean };
  /** Where Redis came from: REDIS_URL, a container, or a private redis-server. */
  redisSource: 'env' | 'container' | 'child';
  /** Printed only for a Redis the stack started (REDIS_URL may carry a password). */
  redisUrl: string;
  /** Whether fallback emails go to SMTP_URL (true) or to the log. */
  smtp: boolean;
  demoIntervalMs: number;
}

/** Quotes a string for a POSIX shell, so the printed curl can be pasted as is. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** The ready-made curl that publishes one notification to the demo user. */
export function curlExample(info: Pick<BannerInfo, 'url' | 'userId' | 'apiKey'>): string {
  const body = JSON.stringify({
    event: 'notification:new',
    to: { user: info.userId },
    payload: { notification: { title: 'Hello from curl', message: 'Published over HTTP' } },
  });
  return [
    `curl -sS -X POST ${info.url}/v1/publish`,
    `-H ${shellQuote(`Authorization: Bearer ${info.apiKey}`)}`,
    `-H 'Content-Type: application/json'`,
    `-d ${shellQuote(body)}`,
  ].join(' ');
}

/**
 * The start-up text: plain lines a person reads and a script greps
 * (`Herald is running on`, `Dev token (user X): `, `Dev API key: `).
 */
export function formatBanner(info: BannerInfo): string {
  const redis = {
    env: 'REDIS_URL',
    container: `a Redis container started for this run, ${info.redisUrl}`,
    child: `a private redis-server started for this run, ${info.redisUrl}`,
  }[info.redisSource];
  const lines = [
    '',
    `Herald is running on ${info.url}`,
    `Demo page: ${info.url}/  (notifications every ${info.demoIntervalMs} ms${info.demoIntervalMs === 0 ? ', turned off' : ''})`,
    `Redis: ${redis}`,
    `Fallback email: ${info.smtp ? 'sent over SMTP_URL' : 'written to the log (set SMTP_URL to send)'}`,
    `Dev token (user ${info.userId}): ${info.token}`,
    `  ${info.generated.jwtSecret ? 'signed with a random secret made for this run; set JWT_SECRET to keep tokens valid across restarts' : 'signed with JWT_SECRET'}, valid 24 h`,
    `Dev API key: ${info.apiKey}`,
    `  ${info.generated.apiKey ? 'random for this run; set HERALD_API_KEY to choose one' : 'from HERALD_API_KEY'}`,
    'Publish one notification:',
    `  ${curlExample(info)}`,
    '',
  ];
  return `${lines.join('\n')}\n`;
}

/** Prints the banner on stdout in one write, so log lines cannot land in the middle of it. */
export function printBanner(info: BannerInfo): void {
  process.stdout.write(formatBanner(info));
}
