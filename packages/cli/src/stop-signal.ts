/** Resolves at the first SIGINT or SIGTERM: a long-running command then closes what it runs. */
export function stopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}
