import { readFileSync } from 'node:fs';
import os from 'node:os';

/** Linux clock ticks per second (`getconf CLK_TCK`); 100 on every mainstream kernel. */
const CLK_TCK = 100;

interface Sample {
  t: number;
  /** utime + stime in ticks. */
  ticks: number;
  rssKiB: number;
}

interface Series {
  name: string;
  pid: number;
  samples: Sample[];
}

interface MachineSample {
  t: number;
  busy: number;
  total: number;
}

/** CPU and memory of one process over a window. */
export interface ProcessUsage {
  name: string;
  pid: number;
  /** Average CPU over the window, in % of one core (200% = both cores of a 2-core machine). */
  cpuPct: number;
  rssMaxMiB: number;
}

/** What the whole machine did over a window, to tell the bench's own load from others'. */
export interface MachineUsage {
  cores: number;
  /** All CPU time spent on the machine, in % of one core (max cores × 100). */
  busyPct: number;
  /** The part spent by the bench's processes (including its Redis when it started one). */
  benchPct: number;
  /** The rest: other users of the shared machine. */
  otherPct: number;
}

function readProc(pid: number): { ticks: number; rssKiB: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { ticks, rssKiB };
  } catch {
    return undefined; // gone, or not on this machine (a Redis in a container)
  }
}

function readMachine(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

/**
 * Samples CPU time and RSS of the bench's processes from /proc every `intervalMs`,
 * and the machine's total CPU, so each phase can report CPU% and peak RSS per
 * process and how much other load the shared machine carried meanwhile.
 */
export class ProcSampler {
  private readonly series: Series[] = [];
  private readonly machine: MachineSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  readonly cores = os.cpus().length;

  constructor(private readonly intervalMs = 500) {}

  /** Starts sampling `pid` under `name` (a restarted process gets a new series). */
  track(name: string, pid: number): void {
    if (pid <= 0 || this.series.some((s) => s.pid === pid)) return;
    this.series.push({ name, pid, samples: [] });
    this.sampleNow();
  }

  start(): void {
    this.sampleNow();
    this.timer = setInterval(() => this.sampleNow(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Takes a sample now (call it at phase boundaries for exact windows). */
  sampleNow(): void {
    const t = Date.now();
    for (const s of this.series) {
      const last = s.samples.at(-1);
      if (last && last.ticks < 0) continue; // process gone
      const read = readProc(s.pid);
      s.samples.push(read ? { t, ...read } : { t, ticks: -1, rssKiB: 0 });
    }
    this.machine.push({ t, ...readMachine() });
  }

  /** Each process's RSS samples over [from, to] (ms since epoch), for slopes over a long run. */
  rssSeries(from: number, to: number): Array<{ name: string; points: Array<{ t: number; rssKiB: number }> }> {
    return this.series.map((s) => ({
      name: s.name,
      points: s.samples
        .filter((x) => x.t >= from && x.t <= to && x.ticks >= 0)
        .map((x) => ({ t: x.t, rssKiB: x.rssKiB })),
    }));
  }

  /** CPU% and peak RSS per process over [from, to] (ms since epoch). */
  usage(from: number, to: number): { processes: ProcessUsage[]; machine: MachineUsage } {
    const processes: ProcessUsage[] = [];
    let benchTicks = 0;
    for (const s of this.series) {
      const inside = s.samples.filter((x) => x.t >= from && x.t <= to && x.ticks >= 0);
      const first = inside[0];
      const last = inside.at(-1);
      if (!first || !last || last.t === first.t) continue;
      const ticks = last.ticks - first.ticks;
      benchTicks += ticks;
      processes.push({
        name: s.name,
        pid: s.pid,
        cpuPct: round1(((ticks / CLK_TCK) * 1000 * 100) / (last.t - first.t)),
        rssMaxMiB: round1(Math.max(...inside.map((x) => x.rssKiB)) / 1024),
      });
    }
    const inside = this.machine.filter((x) => x.t >= from && x.t <= to);
    const first = inside[0];
    const last = inside.at(-1);
    let busyPct = 0;
    if (first && last && last.total > first.total) {
      busyPct = ((last.busy - first.busy) / (last.total - first.total)) * 100 * this.cores;
    }
    const seconds = (to - from) / 1000;
    const benchPct = seconds > 0 ? (benchTicks / CLK_TCK / seconds) * 100 : 0;
    return {
      processes,
      machine: {
        cores: this.cores,
        busyPct: round1(busyPct),
        benchPct: round1(benchPct),
        otherPct: round1(Math.max(0, busyPct - benchPct)),
      },
    };
  }
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
