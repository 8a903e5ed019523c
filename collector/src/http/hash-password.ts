// `periscope hash-password`: the bcrypt hash of a password for http.auth.basicUsers, so that no
// htpasswd (apache2-utils) is needed. Prometheus' docs make theirs with `htpasswd -nBC 10 "" | tr -d ':\n'`.
import bcrypt from 'bcryptjs';
import { BCRYPT_MAX_PASSWORD_BYTES } from './credentials.ts';

/** bcrypt's cost for a new hash: 2^10 rounds, about 50-100 ms a check, as Prometheus' docs use. */
export const DEFAULT_COST = 10;

/**
 * The password read from `input`: its first line, without the line break (`echo pw |` and a file
 * ending in a newline give the password, not the password and "\n"). Nothing else is trimmed:
 * spaces may be part of it. On a terminal it is typed without echo, as `htpasswd` reads it.
 */
export async function readPassword(input: NodeJS.ReadStream, prompt: NodeJS.WriteStream): Promise<string> {
  if (input.isTTY) {
    prompt.write('Password: ');
    input.setRawMode(true);
  }
  let text = '';
  try {
    for await (const chunk of input) {
      text += String(chunk);
      // Raw mode: Enter is "\r"; Ctrl-C and Ctrl-D arrive as characters.
      if (input.isTTY && /[\r\n\u0003\u0004]/.test(text)) break;
      if (!input.isTTY && text.includes('\n')) break;
    }
  } finally {
    if (input.isTTY) {
      input.setRawMode(false);
      prompt.write('\n');
    }
    input.pause();
  }
  if (text.includes('\u0003')) throw new Error('interrupted');
  return text.split(/\r?\n|\r|\u0004/)[0];
}

/** The bcrypt hash ($2b$) of `password`; refuses an empty one and one bcrypt would cut at 72 bytes. */
export async function hashPassword(password: string, cost = DEFAULT_COST): Promise<string> {
  if (password === '') throw new RangeError('the password is empty');
  if (Buffer.byteLength(password) > BCRYPT_MAX_PASSWORD_BYTES) {
    throw new RangeError(`the password is longer than ${BCRYPT_MAX_PASSWORD_BYTES} bytes: bcrypt reads only the first ${BCRYPT_MAX_PASSWORD_BYTES}, and the collector refuses longer ones`);
  }
  if (!Number.isInteger(cost) || cost < 4 || cost > 31) throw new RangeError(`--cost must be an integer from 4 to 31, got ${cost}`);
  return bcrypt.hash(password, cost);
}
