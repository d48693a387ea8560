/** How a session's run on a worker ended; `paused`: a gate parked it for a person (harness/gates.ts). */
export type RunOutcome = 'completed' | 'failed' | 'cancelled' | 'waiting' | 'paused' | 'stopped';
