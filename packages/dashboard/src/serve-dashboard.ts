import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The page's files, `ui/` at the package's root: one level up from `src/` (in the repository),
 * two from `dist/src/` (the built package, which ships `ui/` as it is).
 */
const uiDir =
  ['../ui/', '../../ui/']
    .map((relative) => fileURLToPath(new URL(relative, import.meta.url)))
    .find((dir) => existsSync(join(dir, 'index.html'))) ??
  fileURLToPath(new URL('../ui/', import.meta.url));

/**
 * Asset names the browser may ask for: one flat directory, lowercase kebab-case, `.ts` or `.css`.
 * Anything else (`..`, slashes, percent-escapes, tsconfig.json, dot files) is refused by shape,
 * before the file system is touched.
 */
const assetName = /^[a-z0-9][a-z0-9-]*\.(ts|css)$/;

/** The page may load only its own scripts and styles, and talk only to its own origin. */
const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  mtimeMs: number;
  body: string;
  etag: string;
  contentType: string;
}

/** Served assets by file name: a file is read (and its types stripped) again only when it changes. */
const cache = new Map<string, Asset>();

export interface AssetRequest {
  /** The request's If-None-Match header, if any: a matching ETag answers 304. */
  ifNoneMatch?: string | null;
}

/**
 * The dashboard's response for a request path, or null when the path is not the dashboard's
 * (the API answers 404 then). `/` is the page; `/assets/<file>` are its scripts — TypeScript
 * with the types stripped at serve time by Node's `stripTypeScriptTypes`, no build step — and
 * its stylesheet. Routes within the page are hash routes, so no other path is needed.
 */
export function serveDashboardAsset(pathname: string, request: AssetRequest = {}): Response | null {
  let name: string;
  if (pathname === '/' || pathname === '/index.html') name = 'index.html';
  else if (pathname.startsWith('/assets/') && assetName.test(pathname.slice('/assets/'.length))) {
    name = pathname.slice('/assets/'.length);
  } else return null;
  const asset = load(name);
  if (asset === null) return null;
  const headers = new Headers({
    'content-type': asset.contentType,
    'cache-control': 'no-cache',
    etag: asset.etag,
    'x-content-type-options': 'nosniff',
  });
  if (name === 'index.html') {
    headers.set('content-security-policy', contentSecurityPolicy);
    headers.set('referrer-policy', 'no-referrer');
  }
  if (request.ifNoneMatch === asset.etag) return new Response(null, { status: 304, headers });
  return new Response(asset.body, { status: 200, headers });
}

function load(name: string): Asset | null {
  const path = join(uiDir, name);
  let mtimeMs: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) return null;
    mtimeMs = stat.mtimeMs;
  } catch {
    return null;
  }
  const cached = cache.get(name);
  if (cached !== undefined && cached.mtimeMs === mtimeMs) return cached;
  const source = readFileSync(path, 'utf8');
  const body = name.endsWith('.ts')
    ? stripTypeScriptTypes(source, { mode: 'strip', sourceUrl: `/assets/${name}` })
    : source;
  const asset: Asset = {
    mtimeMs,
    body,
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
    contentType: contentTypeOf(name),
  };
  cache.set(name, asset);
  return asset;
}

function contentTypeOf(name: string): string {
  if (name.endsWith('.html')) return 'text/html; charset=utf-8';
  if (name.endsWith('.css')) return 'text/css; charset=utf-8';
  return 'text/javascript; charset=utf-8';
}

/**
 * The same as a request handler, in the shape `createApi({ dashboard })` of @longrun/api takes:
 * a path that is not the dashboard's answers 404 with the API's error body.
 */
export function serveDashboard(request: Request): Response {
  const pathname = new URL(request.url).pathname;
  const found = serveDashboardAsset(pathname, {
    ifNoneMatch: request.headers.get('if-none-match'),
  });
  if (found !== null) return found;
  const error = { code: 'NOT_FOUND', message: `no dashboard asset at ${pathname.slice(0, 200)}` };
  return Response.json({ error }, { status: 404 });
}
