import { spawn } from 'node:child_process';

/**
 * Python that swaps two names in `dir` atomically (renameat2 RENAME_EXCHANGE) as fast as it can
 * for `seconds`: both names always exist, each alternately as one and the other. Run it in the
 * workspace (or inside a sandbox) to race worker code between its check and its use. It prints
 * `racing` once started; a swap that fails (the worker removed a name meanwhile) is tried again.
 */
export function swapRacerScript(dir: string, a: string, b: string, seconds: number): string {
  return `import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
os.chdir(${JSON.stringify(dir)})
print('racing', flush=True)
end = time.time() + ${seconds}
swaps = 0
while time.time() < end:
    if libc.renameat2(AT_FDCWD, ${JSON.stringify(a)}.encode(), AT_FDCWD, ${JSON.stringify(b)}.encode(), RENAME_EXCHANGE) == 0:
        swaps += 1
`;
}

export interface SwapRacer {
  /** False once the racer stopped on its own (its time ran out, or it crashed). */
  running(): boolean;
  /** Kills it and resolves once it has exited: no swap runs after, so its directory can go. */
  stop(): Promise<void>;
}

/** Starts the racer on the host and resolves once it is swapping. */
export async function startSwapRacer(dir: string, a: string, b: string): Promise<SwapRacer> {
  const racer = spawn('python3', ['-c', swapRacerScript(dir, a, b, 60)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let exited = false;
  const ended = new Promise<void>((resolve) =>
    racer.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  await new Promise((resolve, reject) => {
    racer.stdout.once('data', resolve);
    racer.once('exit', (code) => reject(new Error(`the swap racer exited at once (${code})`)));
  });
  return {
    running: () => !exited,
    stop: async () => {
      if (!exited) racer.kill('SIGKILL');
      await ended;
    },
  };
}
