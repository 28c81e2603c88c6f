/** The pino lines of a process's output: one JSON object per line (banners and other text are skipped). */
export function pinoLines(output: string): string[] {
  return output.split('\n').filter((line) => {
    if (!line.startsWith('{')) return false;
    try {
      return typeof (JSON.parse(line) as { level?: unknown }).level === 'number';
    } catch {
      return false;
    }
  });
}

/**
 * The secrets (by label) that appear in any of `lines`, each with the first line it
 * is in, for assertion messages that say what leaked where. Empty when none leaked.
 */
export function leakedSecrets(lines: string[], secrets: Record<string, string>): Record<string, string> {
  const leaks: Record<string, string> = {};
  for (const [label, secret] of Object.entries(secrets)) {
    if (secret.length < 6) throw new RangeError(`leakedSecrets: "${label}" is too short to search for`);
    const line = lines.find((l) => l.includes(secret));
    if (line !== undefined) leaks[label] = line;
  }
  return leaks;
}
