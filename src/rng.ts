/** The seeded random source behind every `Rng` the product hands out. */
import seedrandom from 'seedrandom';
import type { Rng } from './engine/types';

export function createRng(seed: string | number): Rng {
  const prng = seedrandom(String(seed));
  return { next: () => prng() };
}
