/**
 * Event and request ids: RFC 9562 version-7 UUIDs, which begin with the time in
 * milliseconds. Time-ordered ids keep the log's unique-id index appending at
 * its end; random version-4 ids touch a random index page per event and cut
 * SQLite's batched append rate by a factor of five.
 *
 * Production takes the wall clock and the system's randomness; a simulation
 * takes its virtual clock and its seeded Rng, so the same run writes
 * byte-identical logs.
 */
import { randomFillSync } from 'node:crypto';
import type { Clock } from './clock';
import { systemClock } from './clock';
import type { Rng } from './engine/types';

export interface IdSource {
  next(): string;
}

/** ASCII hex digits of each byte value, two per byte. */
const HEX_DIGITS = Buffer.from(Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0')).join(''), 'latin1');
/** Where each of the 16 bytes' two digits go in `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`. */
const DIGIT_OFFSETS = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
/** 4096 ids per millisecond keep their order; beyond that the timestamp is borrowed from the next one. */
const COUNTER_LIMIT = 0x1000;

/**
 * The text is written as bytes and decoded once: concatenating 20 pieces made
 * a rope of 20 strings per id, flattened again when the id is hashed or written.
 */
function formatter(): (bytes: Uint8Array) => string {
  const text = Buffer.from('00000000-0000-0000-0000-000000000000', 'latin1');
  return (bytes) => {
    for (let i = 0; i < 16; i++) {
      const offset = DIGIT_OFFSETS[i];
      text[offset] = HEX_DIGITS[2 * bytes[i]];
      text[offset + 1] = HEX_DIGITS[2 * bytes[i] + 1];
    }
    return text.toString('latin1');
  };
}

/** Version-7 ids from a clock and a source of 8 random bytes, monotonic even if the clock steps back. */
function uuidV7Source(clock: Clock, fillRandom: (bytes: Uint8Array) => void): IdSource {
  const bytes = new Uint8Array(16);
  const random = new Uint8Array(8);
  const format = formatter();
  let lastMs = -1;
  let counter = 0;
  return {
    next(): string {
      let timeMs = Math.max(0, Math.floor(clock.nowMs()));
      if (timeMs <= lastMs) {
        timeMs = lastMs;
        counter += 1;
        if (counter === COUNTER_LIMIT) {
          timeMs += 1;
          counter = 0;
        }
      } else {
        counter = 0;
      }
      lastMs = timeMs;
      fillRandom(random);
      for (let i = 5; i >= 0; i--) {
        bytes[i] = timeMs % 256;
        timeMs = Math.floor(timeMs / 256);
      }
      bytes[6] = 0x70 | (counter >> 8);
      bytes[7] = counter & 0xff;
      bytes[8] = 0x80 | (random[0] & 0x3f);
      // Byte by byte: a `subarray` view per id cost more than the copy.
      for (let i = 1; i < 8; i++) bytes[8 + i] = random[i];
      return format(bytes);
    },
  };
}

export const randomIds: IdSource = uuidV7Source(systemClock, (bytes) => randomFillSync(bytes));

/**
 * Four bytes per draw: a draw carries 52 random bits, and a simulation makes
 * two ids per migration, so one draw per byte was most of an id's cost.
 */
export function seededIds(rng: Rng, clock: Clock): IdSource {
  return uuidV7Source(clock, (bytes) => {
    for (let i = 0; i < bytes.length; i += 4) {
      const word = Math.floor(rng.next() * 0x1_0000_0000);
      bytes[i] = word >>> 24;
      bytes[i + 1] = (word >>> 16) & 0xff;
      bytes[i + 2] = (word >>> 8) & 0xff;
      bytes[i + 3] = word & 0xff;
    }
  });
}

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
