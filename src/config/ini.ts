/**
 * The INI reader of `neat.conf`, with Python 2 `ConfigParser` semantics (which
 * Neat used), so that an existing `neat.conf` means the same thing here.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
  /** `file:line`, `environment variable NEAT_…`, `default`, or a file name. */
  readonly origin: string;
  constructor(origin: string, problem: string) {
    super(`${origin}: ${problem}`);
    this.origin = origin;
  }
}

// ---------------------------------------------------------------------------
// INI, with Python 2 ConfigParser semantics.

export const DEFAULT_SECTION = 'DEFAULT';
/** Python 2 ConfigParser's MAX_INTERPOLATION_DEPTH. */
const MAX_INTERPOLATION_DEPTH = 10;

export interface IniValue {
  /** The value after interpolation; continuation lines joined with `\n`. */
  readonly value: string;
  /** `source:line` of the key. */
  readonly origin: string;
}

export interface IniSection {
  /** `source:line` of the section's first header. */
  readonly origin: string;
  /** The section's own keys, lower-cased; `iniGet` adds DEFAULT's. */
  readonly entries: ReadonlyMap<string, IniValue>;
}

export interface IniFile {
  readonly sections: ReadonlyMap<string, IniSection>;
}

interface RawEntry {
  /** The first line's value, then one element per continuation line. */
  readonly parts: string[];
  readonly origin: string;
}

export interface RawSection {
  readonly origin: string;
  readonly entries: Map<string, RawEntry>;
}

// Python's SECTCRE and OPTCRE: a header may be followed by anything; a key runs
// up to the first `=` or `:`, so `url = http://host:5000` splits after `url`.
const SECTION_HEADER = /^\[([^\]]+)\]/;
const OPTION = /^([^:=\s][^:=]*)[:=]\s*(.*)$/;

function lookup<T>(
  sections: ReadonlyMap<string, { readonly entries: ReadonlyMap<string, T> }>,
  section: string,
  key: string,
): T | undefined {
  const own = sections.get(section);
  if (own === undefined) return undefined;
  return own.entries.get(key) ?? sections.get(DEFAULT_SECTION)?.entries.get(key);
}

/** A key of a section, falling back to [DEFAULT] as ConfigParser does. */
export function iniGet(file: IniFile, section: string, key: string): IniValue | undefined {
  return lookup(file.sections, section, key.toLowerCase());
}

/**
 * Python 2 strips an inline comment only when the first `;` of the value
 * follows whitespace; a later ` ;` is kept, and so is a `#`.
 */
function optionValue(rest: string): string {
  const semicolon = rest.indexOf(';');
  const cut = semicolon > 0 && /\s/.test(rest[semicolon - 1]) ? rest.slice(0, semicolon) : rest;
  const value = cut.trim();
  return value === '""' ? '' : value;
}

/**
 * Reads one file into `sections`, as each `ConfigParser.read` call adds to the
 * same parser: a later file overrides an earlier one key by key, and
 * interpolation happens only after the last file.
 */
export function readIniInto(sections: Map<string, RawSection>, text: string, source: string): void {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let section: RawSection | null = null;
  let entry: RawEntry | null = null;
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index];
    const origin = `${source}:${index + 1}`;
    // A comment must start in the first column: an indented `#` line after a key
    // continues its value, in Python as here.
    if (line.trim() === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (/^\s/.test(line) && entry !== null) {
      entry.parts.push(line.trim());
      continue;
    }
    const header = SECTION_HEADER.exec(line);
    if (header !== null) {
      const name = header[1];
      section = sections.get(name) ?? { origin, entries: new Map<string, RawEntry>() };
      sections.set(name, section);
      entry = null;
      continue;
    }
    if (section === null) {
      throw new ConfigError(origin, `${JSON.stringify(line)} comes before any [section] header; a neat.conf starts with [DEFAULT]`);
    }
    const option = OPTION.exec(line);
    if (option === null) {
      throw new ConfigError(origin, `cannot parse ${JSON.stringify(line)}: expected a [section] header, ` +
        '"key = value", "key: value", a comment starting with # or ; in column 1, or an indented continuation line');
    }
    entry = { parts: [optionValue(option[2])], origin };
    section.entries.set(option[1].trim().toLowerCase(), entry);
  }
}

/**
 * `%(name)s` becomes the named key's value (from the same section or
 * [DEFAULT], itself interpolated) and `%%` a `%`. A lone `%` is kept: Python's
 * ConfigParser leaves a value without references untouched, so a password such
 * as `50%off` keeps working.
 */
function interpolate(sections: ReadonlyMap<string, RawSection>, section: string, chain: readonly string[]): string {
  const key = chain[chain.length - 1];
  const entry = lookup(sections, section, key)!;
  const raw = entry.parts.join('\n');
  const where = `${key} = ${JSON.stringify(raw)}`;
  return raw.replace(/%%|%\(([^)]*)\)s|%\(/g, (match, reference: string | undefined) => {
    if (match === '%%') return '%';
    if (reference === undefined) {
      throw new ConfigError(entry.origin, `${where}: "%(" must start a reference "%(name)s"; write "%%" for a literal "%"`);
    }
    const name = reference.toLowerCase();
    if (chain.includes(name)) {
      throw new ConfigError(entry.origin, `${where}: interpolation loop ${[...chain, name].join(' -> ')}`);
    }
    // `chain` holds the key itself, then one key per reference followed.
    if (chain.length > MAX_INTERPOLATION_DEPTH) {
      throw new ConfigError(entry.origin, `${where}: references nested deeper than ${MAX_INTERPOLATION_DEPTH}`);
    }
    if (lookup(sections, section, name) === undefined) {
      const scope = section === DEFAULT_SECTION ? '[DEFAULT]' : `[${section}] or [DEFAULT]`;
      throw new ConfigError(entry.origin, `${where}: %(${reference})s refers to "${name}", which is not in ${scope}`);
    }
    return interpolate(sections, section, [...chain, name]);
  });
}

export function interpolateIni(raw: ReadonlyMap<string, RawSection>): IniFile {
  const sections = new Map<string, IniSection>();
  for (const [name, section] of raw) {
    const entries = new Map<string, IniValue>();
    for (const [key, entry] of section.entries) {
      entries.set(key, { value: interpolate(raw, name, [key]), origin: entry.origin });
    }
    sections.set(name, { origin: section.origin, entries });
  }
  return { sections };
}

/** Parses INI text; `source` names it in errors and origins. */
export function parseIni(text: string, source: string): IniFile {
  const raw = new Map<string, RawSection>();
  readIniInto(raw, text, source);
  return interpolateIni(raw);
}
