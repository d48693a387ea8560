import { LongrunError } from '../errors.ts';
import type { JsonValue } from '../json.ts';
import {
  terminalStatuses,
  type LeaseFence,
  type SessionStatus,
  type Signal,
} from './session-store.ts';

/**
 * Webhooks of durable waits (DESIGN §12): a hook belongs to one session; anyone holding one of
 * its tokens may deliver a JSON body to it (`POST /v1/hooks/{token}`), which arrives as the
 * session's signal `hook:<hookId>` (`webhookSignal`). Only a SHA-256 of each token is stored: a
 * leaked database, log or debug bundle does not leak a usable URL.
 */
export interface NewWebhookToken {
  /** The hook's id within its session (`[A-Za-z0-9_-]`, at most 100 characters). */
  hookId: string;
  /** SHA-256 of the token, lowercase hex. */
  tokenHash: string;
  /** Accepts any number of deliveries until it expires; else exactly one. */
  multiUse: boolean;
  /** When the hook stops accepting deliveries (epoch ms, the store's clock); null: never. */
  expiresAtMs: number | null;
}

/** A hook as the store keeps it: the first registration's settings win. */
export interface WebhookRecord {
  hookId: string;
  multiUse: boolean;
  expiresAtMs: number | null;
  /** Deliveries accepted so far. */
  deliveries: number;
}

export interface WebhookStore {
  /**
   * Adds a token to the session's hook `hookId`, making the hook if it is new (fenced: only the
   * session's lease holder makes hooks). A hook that exists keeps its settings — a tool call run
   * again gets the same hook back with one more token. Returns the hook as stored.
   */
  register(fence: LeaseFence, token: NewWebhookToken): Promise<WebhookRecord>;
  /**
   * Delivers `payload` to the hook of the token with this hash, as the signal `hook:<hookId>` of
   * its session (waking the session if it waits for it), atomically with counting the delivery:
   * of two concurrent deliveries to a single-use hook, through any of its tokens, one wins.
   * NOT_FOUND: no such token; GONE: the hook expired, or is single-use and was delivered.
   */
  deliver(tokenHash: string, payload: JsonValue): Promise<Signal>;
}

const hookIdPattern = /^[A-Za-z0-9_-]{1,100}$/;
const hashPattern = /^[0-9a-f]{64}$/;

/** Checks a registration's shape (both stores call it before writing). */
export function checkNewWebhookToken(token: NewWebhookToken): NewWebhookToken {
  const ok =
    typeof token === 'object' &&
    token !== null &&
    hookIdPattern.test(String(token.hookId)) &&
    hashPattern.test(String(token.tokenHash)) &&
    typeof token.multiUse === 'boolean' &&
    (token.expiresAtMs === null || Number.isSafeInteger(token.expiresAtMs));
  if (!ok) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      'a webhook token needs a hookId ([A-Za-z0-9_-], ≤ 100), a SHA-256 hex tokenHash, multiUse and expiresAtMs (epoch ms or null)',
    );
  }
  return token;
}

/** Checks a token hash before a lookup: anything else is a token that does not exist. */
export function checkTokenHash(tokenHash: string): string {
  if (!hashPattern.test(String(tokenHash))) {
    throw new LongrunError('NOT_FOUND', 'no webhook has this token');
  }
  return tokenHash;
}

/** GONE for a hook that accepts no more deliveries, saying why (both stores' one rule). */
export function refuseIfGone(hook: WebhookRecord, status: SessionStatus, nowMs: number): void {
  const why =
    hook.expiresAtMs !== null && hook.expiresAtMs <= nowMs
      ? `expired at ${new Date(hook.expiresAtMs).toISOString()}`
      : !hook.multiUse && hook.deliveries > 0
        ? 'was single-use and has been delivered'
        : terminalStatuses.includes(status)
          ? `belongs to a session that is ${status}`
          : null;
  if (why !== null)
    throw new LongrunError('GONE', `this webhook ${why}; it accepts no more deliveries`);
}
