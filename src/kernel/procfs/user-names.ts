import { readFileSync } from 'node:fs';

export const DEFAULT_PASSWD_PATH = '/etc/passwd';

/** uid -> login name, the first entry winning as with getpwuid(3). Empty if the file is unreadable. */
export function readUserNames(passwdPath: string = DEFAULT_PASSWD_PATH): Map<number, string> {
  const names = new Map<number, string>();
  let text: string;
  try {
    text = readFileSync(passwdPath, 'utf8');
  } catch {
    return names;
  }
  for (const line of text.split('\n')) {
    const [name, , uid] = line.split(':');
    if (!name || uid === undefined || !/^\d+$/.test(uid)) continue;
    const id = Number(uid);
    if (!names.has(id)) names.set(id, name);
  }
  return names;
}

/** The user's name, or the number itself as lsns and ps print it when there is none. */
export function userNameOf(names: ReadonlyMap<number, string>, uid: number): string {
  return names.get(uid) ?? String(uid);
}
