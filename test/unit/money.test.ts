import { fenToYuan, yuanToFen } from '../../miniprogram/lib/money';

describe('yuanToFen (the pay page’s amount)', () => {
  it.each([
    ['12.3', 1230],
    ['12.30', 1230],
    ['12.34', 1234],
    ['0.01', 1],
    ['0.07', 7],
    ['0.1', 10],
    ['1', 100],
    ['1.', 100],
    ['.5', 50],
    ['007.50', 750],
    [' 8.88 ', 888],
    ['1000', 100000],
    ['19.99', 1999],
    ['4.35', 435],
    ['1.15', 115],
    ['999999999999.99', 99999999999999],
  ])('when the user types %j, then it is %i fen', (text, fen) => {
    expect(yuanToFen(text)).toEqual({ ok: true, fen });
  });

  it('when every two-decimal amount up to ¥100 is typed, then the fen equal the digits read as an integer (no float drift)', () => {
    for (let fen = 1; fen <= 10000; fen++) {
      const text = `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
      expect(yuanToFen(text)).toEqual({ ok: true, fen });
    }
  });

  it.each([
    ['', 'EMPTY'],
    ['   ', 'EMPTY'],
    ['.', 'INVALID'],
    ['-1', 'INVALID'],
    ['-0.01', 'INVALID'],
    ['+1', 'INVALID'],
    ['1e2', 'INVALID'],
    ['1,000', 'INVALID'],
    ['1.2.3', 'INVALID'],
    ['¥1', 'INVALID'],
    ['一', 'INVALID'],
    ['0x10', 'INVALID'],
    ['Infinity', 'INVALID'],
    ['1.234', 'TOO_MANY_DECIMALS'],
    ['0.001', 'TOO_MANY_DECIMALS'],
    ['0', 'ZERO'],
    ['0.00', 'ZERO'],
    ['00.0', 'ZERO'],
    ['10000000000000000', 'TOO_LARGE'],
  ])('when the user types %j, then it is refused as %s', (text, reason) => {
    expect(yuanToFen(text)).toEqual({ ok: false, reason });
  });

  it('when an amount is above PAY_MAX_AMOUNT, then it still converts: the limit is the server’s call', () => {
    expect(yuanToFen('100000.01')).toEqual({ ok: true, fen: 10000001 });
  });
});

describe('fenToYuan', () => {
  it.each([
    [1, '0.01'],
    [10, '0.10'],
    [100, '1.00'],
    [1230, '12.30'],
    [100000, '1000.00'],
    [0, '0.00'],
  ])('when it is %i fen, then it shows ¥%s', (fen, text) => {
    expect(fenToYuan(fen)).toBe(text);
  });
});
