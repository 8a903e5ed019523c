// CSV export cells: RFC 4180 quoting and formula neutralisation (OWASP CSV Injection).
import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../../../sdk/src/record.ts';
import { csvField, csvHeader, csvRow } from './csv.ts';

describe('csvField', () => {
  it.each([
    { name: 'plain text stays as it is', value: 'request served', cell: 'request served' },
    { name: 'absent is empty', value: undefined, cell: '' },
    { name: 'a number', value: 6, cell: '6' },
    { name: 'a comma is quoted', value: 'a,b', cell: '"a,b"' },
    { name: 'a quote is doubled inside quotes', value: 'say "hi"', cell: '"say ""hi"""' },
    { name: 'a line break is quoted', value: 'one\ntwo', cell: '"one\ntwo"' },
    { name: 'an object is JSON, quoted', value: { i: 1, s: 'x' }, cell: '"{""i"":1,""s"":""x""}"' },
    { name: '= starts a formula', value: '=HYPERLINK("http://evil.example","click")', cell: '"\'=HYPERLINK(""http://evil.example"",""click"")"' },
    { name: '+ starts a formula', value: '+1+1', cell: "'+1+1" },
    { name: '- starts a formula', value: '-2+3', cell: "'-2+3" },
    { name: '@ starts a formula', value: '@SUM(A1:A9)', cell: "'@SUM(A1:A9)" },
    { name: 'a leading tab is skipped by spreadsheets before the formula', value: '\t=1+1', cell: "'\t=1+1" },
    { name: 'a leading carriage return too (then quoted: a line break)', value: '\r=1+1', cell: '"\'\r=1+1"' },
    { name: 'DDE with a comma: prefixed, then quoted', value: "=cmd|'/c calc'!A1,x", cell: '"\'=cmd|\'/c calc\'!A1,x"' },
    { name: 'a formula character later in the cell is harmless', value: 'a=b-c', cell: 'a=b-c' },
    { name: 'a leading space is not a formula', value: ' =1', cell: ' =1' },
  ])('$name', ({ value, cell }) => {
    expect(csvField(value)).toBe(cell);
  });
});

it('csvRow neutralises every text column of a record, not only msg', () => {
  const record: LogRecord = {
    timestamp: '2026-05-01T10:00:00.000000Z', severity: 3, level: 'err', facility: 1,
    hostname: '=host', appName: '+app', procId: '-1', msgId: '@id', msg: '=1+1', attributes: { n: -1 },
  };
  expect(csvHeader()).toBe('timestamp,severity,level,facility,hostname,appName,procId,msgId,traceId,spanId,msg,structuredData,attributes\r\n');
  expect(csvRow(record)).toBe(`2026-05-01T10:00:00.000000Z,3,err,1,'=host,'+app,'-1,'@id,,,'=1+1,,"{""n"":-1}"\r\n`);
});
