import bcrypt from 'bcryptjs';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { hashPassword, readPassword } from './hash-password.ts';

const noPrompt = new PassThrough() as unknown as NodeJS.WriteStream;

async function read(text: string): Promise<string> {
  const input = new PassThrough();
  input.end(text);
  return readPassword(input as unknown as NodeJS.ReadStream, noPrompt);
}

describe('periscope hash-password', () => {
  it.each([
    { name: 'echo (a trailing newline)', text: 'pw with spaces \n', password: 'pw with spaces ' },
    { name: 'a CRLF line', text: 'pw\r\n', password: 'pw' },
    { name: 'no newline', text: 'pw', password: 'pw' },
    { name: 'more lines: the first', text: 'pw\nother\n', password: 'pw' },
  ])('reads the password from $name', async ({ text, password }) => {
    expect(await read(text)).toBe(password);
  });

  it('prints a bcrypt hash of the password at cost 10 by default', async () => {
    const hash = await hashPassword('s3cret');
    expect(hash).toMatch(/^\$2b\$10\$[./A-Za-z0-9]{53}$/);
    expect(await bcrypt.compare('s3cret', hash)).toBe(true);
    expect(await bcrypt.compare('s3cret\n', hash)).toBe(false);
  });

  it.each([
    { name: 'an empty password', password: '', cost: 4 },
    { name: 'one over 72 bytes (bcrypt would cut it)', password: 'é'.repeat(37), cost: 4 },
    { name: 'a cost under 4', password: 'pw', cost: 3 },
  ])('refuses $name', async ({ password, cost }) => {
    await expect(hashPassword(password, cost)).rejects.toThrow(RangeError);
  });
});
