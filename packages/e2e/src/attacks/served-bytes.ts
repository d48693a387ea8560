/** One response body of the API, raw, for a canary scan. */
export interface Served {
  where: string;
  bytes: Buffer;
}

const requestTimeoutMs = 10_000;
/** An SSE stream stays open; this much of it is read (the backlog comes at once). */
const streamReadMs = 1_500;

async function body(url: string, path: string, readForMs = requestTimeoutMs): Promise<Served> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), readForMs);
  const chunks: Buffer[] = [];
  try {
    const response = await fetch(`${url}${path}`, { signal: controller.signal });
    const stream = (response.body ?? []) as AsyncIterable<Uint8Array>;
    for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  } catch (error) {
    // A stream cut by our own timer keeps what it sent; anything else is a failure to report.
    if (!controller.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
  }
  return { where: `GET ${path}`, bytes: Buffer.concat(chunks) };
}

/**
 * Everything the API serves about a session: the session and the list, every page of its events,
 * the SSE stream's backlog, its workspace files (each file's bytes, from the snapshots' blobs) and
 * their diff with patches, and the system endpoints.
 */
export async function servedAbout(url: string, sessionId: string): Promise<Served[]> {
  const base = `/v1/sessions/${sessionId}`;
  const served: Served[] = [];
  for (const path of ['/v1/sessions', base, `${base}/files`, `${base}/files/diff?patches=true`]) {
    served.push(await body(url, path));
  }
  for (const path of [
    '/v1/figures',
    '/v1/health',
    '/v1/ready',
    '/v1/agents',
    '/v1/approvals',
    '/',
  ]) {
    served.push(await body(url, path));
  }
  let after = 0;
  for (let page = 0; page < 100; page++) {
    const events = await body(url, `${base}/events?after=${after}&limit=1000`);
    served.push(events);
    const parsed = JSON.parse(events.bytes.toString('utf8')) as { next: number | null };
    if (parsed.next === null) break;
    after = parsed.next;
  }
  served.push(await body(url, `${base}/stream`, streamReadMs));
  const files = JSON.parse(served[2]?.bytes.toString('utf8') ?? '{}') as {
    files?: { path: string }[];
  };
  for (const file of files.files ?? []) {
    served.push(await body(url, `${base}/files/content?path=${encodeURIComponent(file.path)}`));
  }
  return served;
}
