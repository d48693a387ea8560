import { Readable } from 'node:stream';
import { sessionBundle } from '@longrun/runtime';
import type { ApiContext } from '../api-context.ts';
import { SessionParams } from '../schemas.ts';
import { sessionOf } from '../tenant-scope.ts';

/**
 * `GET /v1/sessions/{id}/bundle`: the session's debug bundle (DESIGN §8), streamed as it is made
 * (the workspace a blob at a time). Any role that reads may fetch it; another tenant's session is
 * 404 like everywhere. Secret values are masked by the bundle itself: those of this process's
 * environment and those its secret store lists (`ApiOptions.secrets`).
 */
export function bundleRoutes(ctx: ApiContext): void {
  const { routes, store } = ctx;

  routes.add(
    {
      method: 'get',
      path: '/v1/sessions/:id/bundle',
      summary: "The session's debug bundle (.tar.gz)",
      description:
        'session.jsonl, last_state.json, trace.json, tool_calls.csv, workspace/ (the last snapshot), workspace.diff (against the first), progress/, env.txt and bundle.json, with secret values masked. `longrun replay <file>` re-runs it offline.',
      auth: true,
      params: SessionParams,
      responses: {
        200: { description: 'A gzip-compressed tar archive.', contentType: 'application/gzip' },
      },
    },
    async ({ params, caller }) => {
      const record = await sessionOf(store, caller, params.id);
      // The turn lasts while the archive streams: the log is read as it is written out.
      const release = await ctx.bundleReads.turn();
      let bundle: Readable;
      try {
        const { values } = await ctx.servedSecrets();
        bundle = await sessionBundle(store, record.id, { secrets: values });
      } catch (error) {
        release();
        throw error;
      }
      bundle.once('close', release);
      return new Response(Readable.toWeb(bundle) as ReadableStream<Uint8Array>, {
        status: 200,
        headers: {
          'content-type': 'application/gzip',
          'content-disposition': `attachment; filename="${record.id}.bundle.tar.gz"`,
          'x-content-type-options': 'nosniff',
          'cache-control': 'no-store',
        },
      });
    },
  );
}
