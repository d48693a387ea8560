import type { SessionStatus } from './api-types.ts';
import { h } from './dom.ts';

export function statusBadge(status: SessionStatus, testid = 'status-badge'): HTMLElement {
  return h(
    'span',
    { class: `badge status-${status}`, testid, attrs: { 'data-status': status } },
    status,
  );
}
