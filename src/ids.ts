/**
 * Event and request ids. Production uses random UUIDs; a simulation draws them
 * from its seeded Rng, so that the same run writes byte-identical logs.
 */
import { randomUUID } from 'node:crypto';
import type { Rng } from './engine/types';

export interface IdSource {
  next(): string;
}

export const randomIds: IdSource = { next: () => randomUUID() };

const HEX = '0123456789abcdef';

/** RFC 4122 version-4 UUIDs whose random bits come from `rng`. */
export function seededIds(rng: Rng): IdSource {
  return {
    next(): string {
      let uuid = '';
      for (let i = 0; i < 32; i++) {
        let nibble = Math.floor(rng.next() * 16);
        if (i === 12) nibble = 4;
        if (i === 16) nibble = 8 + (nibble & 3);
        uuid += HEX[nibble];
        if (i === 7 || i === 11 || i === 15 || i === 19) uuid += '-';
      }
      return uuid;
    },
  };
}

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
