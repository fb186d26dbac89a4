/** Configured fields to set or remove on the way to the worker or back to the client (the `headers` setting). */
export interface HeaderRuleSettings {
  /** Lowercase name to value: replaces any field of that name. */
  set: Record<string, string>;
  /** Lowercase names. */
  remove: string[];
}

/** One direction's rules, ready for the request path. */
export interface HeaderRules {
  /** Lowercase names of the fields dropped from what passes: those removed and those set. */
  readonly dropped: ReadonlySet<string>;
  /** The fields set, in order. */
  readonly set: readonly (readonly [string, string])[];
}

export const NO_RULES: HeaderRules = { dropped: new Set(), set: [] };

export function headerRules(settings: HeaderRuleSettings): HeaderRules {
  const set = Object.entries(settings.set);
  return { dropped: new Set([...settings.remove, ...set.map(([name]) => name)]), set };
}

/** The set fields as request head lines, each ending in CRLF. */
export const requestLines = (rules: HeaderRules): string => rules.set.map(([name, value]) => `${name}: ${value}\r\n`).join('');

/** The set fields as lines appended to a response head, each after a CRLF (see forwardedHead). */
export const responseLines = (rules: HeaderRules): string => rules.set.map(([name, value]) => `\r\n${name}: ${value}`).join('');
