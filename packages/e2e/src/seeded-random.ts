/** mulberry32: a small seeded PRNG, so a failing crash or fuzz run reproduces from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed from LONGRUN_SEED, or a fresh one; printed so the run can be repeated. */
export function testSeed(label: string): number {
  const fromEnv = process.env.LONGRUN_SEED;
  const seed = fromEnv === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(fromEnv);
  console.log(`[${label}] seed=${seed} (repeat with LONGRUN_SEED=${seed})`);
  return seed;
}
