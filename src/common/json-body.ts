import { NsgateError } from '../kernel/errors.js';

/**
 * The first key that appears twice in one object of a JSON text, with the path of that object
 * ("" for the top, "memory", "changes[0].limits"), or null. JSON.parse keeps the last value of a
 * repeated key; a caller who wrote two means one of them is a mistake, so nsgate refuses it.
 * The text must already be valid JSON (checked by the parser first): this is a scanner, not a
 * validator. Keys are compared decoded ("a" and "\u0061" are the same key).
 */
export function findDuplicateKey(text: string): { key: string; at: string } | null {
  interface Frame {
    keys: Set<string> | null; // null: an array
    path: string;
    index: number;
    expectKey: boolean;
    lastKey: string;
  }
  const stack: Frame[] = [];
  const childPath = (f: Frame | undefined): string => {
    if (!f) return '';
    if (f.keys === null) return `${f.path}[${f.index}]`;
    return f.path === '' ? f.lastKey : `${f.path}.${f.lastKey}`;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top && top.keys !== null && top.expectKey) {
        const raw = text.slice(i, j + 1);
        const key = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        if (top.keys.has(key)) return { key, at: top.path };
        top.keys.add(key);
        top.lastKey = key;
        top.expectKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const parent = stack[stack.length - 1];
      stack.push({ keys: c === 0x7b ? new Set() : null, path: childPath(parent), index: 0, expectKey: c === 0x7b, lastKey: '' });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top) {
        if (top.keys === null) top.index++;
        else top.expectKey = true;
      }
    }
  }
  return null;
}

export function duplicateKeyError(dup: { key: string; at: string }): NsgateError {
  const where = dup.at === '' ? 'the top level' : dup.at;
  return new NsgateError('VALIDATION_FAILED', `the JSON body repeats the key "${dup.key}" in ${where}; send each key once`, {
    reason: 'duplicate key',
    duplicateKey: dup.key,
    at: dup.at,
  });
}
