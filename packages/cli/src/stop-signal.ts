import { exitCodes } from './exit-codes.ts';

/**
 * SIGINT and SIGTERM for a long-running command, listened for from before it starts anything.
 * A signal while it starts (it may wait minutes for a store in an outage) ends the process at
 * once with exit code 130: nothing it started holds anything a restart needs. Once `started()`
 * is called, the first signal resolves `stopped`, and the command closes what it runs and exits
 * 0. The handlers stay installed until the process ends, so a second signal during that close (a
 * supervisor's repeat, a second Ctrl-C) does not kill it half-way.
 */
export function stopSignals(): { stopped: Promise<void>; started(): void } {
  let running = false;
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const onSignal = () => {
    if (running) stop();
    else process.exit(exitCodes.interrupted);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    stopped,
    started: () => {
      running = true;
    },
  };
}
