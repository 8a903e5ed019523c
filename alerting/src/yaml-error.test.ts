import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { yamlErrorLine } from './yaml-error.ts';

function errorOf(text: string): string {
  try {
    parse(text);
  } catch (err) {
    return yamlErrorLine(err, text);
  }
  throw new Error('parsed');
}

describe('yamlErrorLine', () => {
  it.each([
    { name: 'a key given twice shows that key', text: 'store:\n  dataDir: a\n  dataDir: b\n', want: 'Map keys must be unique at line 3, column 3 (key dataDir)' },
    { name: 'a tab as indentation', text: 'x:\n\t- 1\n', want: 'Tabs are not allowed as indentation at line 2, column 1' },
    { name: 'never the value on the line (it may be a secret)', text: 'smtp:\n  password: "s3cr3t\n  user: x\n', wantNot: 's3cr3t' },
    { name: 'a line of its own when the error is past the end', text: 'a: [1\n', want: 'Flow sequence in block collection must be sufficiently indented and end with a ] at line 2, column 1' },
  ])('$name', ({ text, want, wantNot }: { text: string; want?: string; wantNot?: string }) => {
    if (want !== undefined) expect(errorOf(text)).toBe(want);
    if (wantNot !== undefined) expect(errorOf(text)).not.toContain(wantNot);
  });
});
