import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Debian's `prometheus` binary (the test's CI installs the same package). */
const prometheusBin = process.env.LONGRUN_PROMETHEUS ?? '/usr/bin/prometheus';

/** A running Prometheus server of a test: its base URL, PromQL queries, and a kill by pid. */
export interface PrometheusProcess {
  readonly base: string;
  readonly pid: number;
  /** One instant vector of PromQL over the HTTP API, as `label=value,…` (sorted) → value. */
  query(promql: string): Promise<Map<string, number>>;
  output(): string;
  kill(): Promise<void>;
}

/**
 * Starts Prometheus on 127.0.0.1:`port` with its own config and storage under `dir`, scraping
 * each job's one target (`host:port`, path /metrics) every second, and waits until it is ready
 * (at most `readyMs`).
 */
export async function startPrometheus(
  dir: string,
  port: number,
  jobs: Record<string, string>,
  readyMs = 30_000,
): Promise<PrometheusProcess> {
  mkdirSync(join(dir, 'tsdb'), { recursive: true });
  const config = join(dir, 'prometheus.yml');
  const lines = [
    'global:',
    '  scrape_interval: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
  ];
  for (const [job, target] of Object.entries(jobs))
    lines.push(`  - job_name: ${job}`, `    static_configs: [{ targets: ['${target}'] }]`);
  writeFileSync(config, `${lines.join('\n')}\n`);
  const child = spawn(
    prometheusBin,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  if (child.pid === undefined) throw new Error(`could not start ${prometheusBin}`);
  const pid = child.pid;
  let output = '';
  const collect = (chunk: Buffer) => void (output = (output + chunk.toString()).slice(-20_000));
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  let running = true;
  const exited = new Promise<void>((resolve) =>
    child.on('exit', () => {
      running = false;
      resolve();
    }),
  );
  const base = `http://127.0.0.1:${port}`;
  const kill = async () => {
    if (running) process.kill(pid, 'SIGKILL');
    await exited;
  };
  const deadline = Date.now() + readyMs;
  for (;;) {
    if ((await fetch(`${base}/-/ready`).catch(() => null))?.ok === true) break;
    if (!running || Date.now() > deadline) {
      await kill();
      throw new Error(`prometheus not ready in ${readyMs} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { base, pid, query: (promql) => query(base, promql), output: () => output, kill };
}

async function query(base: string, promql: string): Promise<Map<string, number>> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as {
    status: string;
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== 'success') throw new Error(`query ${promql}: ${JSON.stringify(body)}`);
  return new Map(
    body.data.result.map((r) => [
      Object.entries(r.metric)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
      Number(r.value[1]),
    ]),
  );
}

/**
 * The sum of the samples of metric `name` (a Prometheus series name) whose labels include
 * `labels`, in an exposition; 0 when there is none.
 */
export function sampleOf(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const have = new Map<string, string>();
    for (const m of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      have.set(m[1] ?? '', m[2] ?? '');
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) total += Number(match[3]);
  }
  return total;
}
