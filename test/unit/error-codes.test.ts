import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApolloServerErrorCode } from '@apollo/server/errors';
import { buildSchema, type GraphQLEnumType } from 'graphql';
import { ERROR_CODES } from '../../src/core/errors';
import { ApiError } from '../../miniprogram/lib/graphql';
import { describeError, MESSAGES } from '../../miniprogram/lib/messages';

const root = join(__dirname, '..', '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** The ErrorCode enum of the committed schema.graphql (test/unit/schema.test.ts keeps it equal to the built one). */
const schemaCodes = (buildSchema(read('schema.graphql')).getType('ErrorCode') as GraphQLEnumType)
  .getValues()
  .map((v) => v.name)
  .sort();

/** The codes in README.md's "### Error codes" table, in its order. */
function readmeCodes(): string[] {
  const readme = read('README.md');
  const start = readme.indexOf('\n### Error codes\n');
  expect(start).toBeGreaterThan(0);
  const section = readme.slice(start + 1).split(/\n#{1,3} /)[0];
  return [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sourceFiles(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );
}

describe('error codes: src/core/errors.ts is the one list', () => {
  it('when the schema is read, then its ErrorCode enum holds exactly the codes of ERROR_CODES, each described', () => {
    expect(schemaCodes).toEqual(Object.keys(ERROR_CODES).sort());
    const values = (buildSchema(read('schema.graphql')).getType('ErrorCode') as GraphQLEnumType).getValues();
    expect(values.filter((v) => !v.description?.trim()).map((v) => v.name)).toEqual([]);
  });

  it('when a code is answered without an AppError (an `extensions: { code }` literal in src/), then the enum lists it', () => {
    const literals = sourceFiles(join(root, 'src')).flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/\bcode: '([A-Z][A-Z_]+)'/g)].map((m) => m[1]),
    );
    // The walk found the ones known today, so an empty list below means something.
    expect(literals).toEqual(expect.arrayContaining(['QUERY_TOO_COMPLEX', 'BATCH_TOO_LARGE']));
    expect([...new Set(literals)].filter((code) => !schemaCodes.includes(code))).toEqual([]);
  });

  it('when Apollo answers with a code of its own, then the enum lists it (persisted queries are on, so never PERSISTED_QUERY_NOT_SUPPORTED)', () => {
    const apollo = Object.values(ApolloServerErrorCode).filter(
      (code) => code !== ApolloServerErrorCode.PERSISTED_QUERY_NOT_SUPPORTED,
    );
    expect(apollo.filter((code) => !schemaCodes.includes(code))).toEqual([]);
  });

  it("when a code is in the enum, then README.md's error table has a row for it, and no row names a code the enum lacks", () => {
    const rows = readmeCodes();
    expect({
      missingRows: schemaCodes.filter((code) => !rows.includes(code)),
      unknownRows: rows.filter((code) => !schemaCodes.includes(code)),
    }).toEqual({
      missingRows: [],
      unknownRows: [],
    });
    expect(rows.length).toBe(new Set(rows).size);
  });

  it("when a code is in the enum or is one of the mini-program's own, then the mini-program has a Chinese message for it, and none for a code no one sends", () => {
    const clientOnly = ['NETWORK_ERROR', 'BAD_RESPONSE'];
    const codes = [...schemaCodes, ...clientOnly];
    const messages: Record<string, string> = MESSAGES;
    expect(codes.filter((code) => !/\p{Script=Han}/u.test(messages[code] ?? ''))).toEqual([]);
    expect(Object.keys(messages).filter((code) => !codes.includes(code))).toEqual([]);
  });
});

describe("the mini-program's describeError", () => {
  it('when RATE_LIMITED says when the window resets, then the user reads the seconds to wait; without it, the plain text', () => {
    expect(
      describeError(
        new ApiError('RATE_LIMITED', 'Too many attempts', [
          { message: 'x', extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 42 } },
        ]),
      ),
    ).toBe('操作太频繁，请 42 秒后重试');
    expect(describeError(new ApiError('RATE_LIMITED', 'Too many attempts'))).toBe(MESSAGES.RATE_LIMITED);
  });

  it("when PAYMENT_FAILED carries WeChat Pay's reason, then the user reads it; an empty reason gives the plain text, not the server's English", () => {
    const failed = (wechatErrMsg: string) =>
      new ApiError('PAYMENT_FAILED', 'WeChat Pay refused the order', [
        { message: 'x', extensions: { code: 'PAYMENT_FAILED', wechatErrMsg } },
      ]);
    expect(describeError(failed('余额不足'))).toBe('支付下单失败：余额不足');
    expect(describeError(failed(''))).toBe(MESSAGES.PAYMENT_FAILED);
  });

  it('when a newer server sends a code this package does not know, then the user reads the generic text', () => {
    expect(describeError(new ApiError('SOMETHING_NEW' as never, 'new'))).toBe(MESSAGES.INTERNAL_SERVER_ERROR);
  });
});
