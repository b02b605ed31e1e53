/**
 * Yuan typed by a person → integer fen, with string arithmetic only: "12.3" is 1230 and "0.07" is 7, where
 * Math.round(0.07 * 100) style maths would be one float step away from a wrong amount.
 */
export type FenParse =
  { ok: true; fen: number } | { ok: false; reason: 'EMPTY' | 'INVALID' | 'TOO_MANY_DECIMALS' | 'ZERO' | 'TOO_LARGE' };

const YUAN = /^(\d*)(?:\.(\d*))?$/;

export function yuanToFen(input: string): FenParse {
  const text = input.trim();
  if (!text) return { ok: false, reason: 'EMPTY' };
  const m = YUAN.exec(text);
  if (!m || (!m[1] && !m[2])) return { ok: false, reason: 'INVALID' };
  const [, whole, decimals = ''] = m;
  if (decimals.length > 2) return { ok: false, reason: 'TOO_MANY_DECIMALS' };
  const digits = `${whole}${decimals.padEnd(2, '0')}`.replace(/^0+(?=\d)/, '');
  // Past 15 digits a Number is no longer exact; the server's own limit (PAY_MAX_AMOUNT) is far below it.
  if (digits.length > 15) return { ok: false, reason: 'TOO_LARGE' };
  const fen = Number(digits);
  if (fen === 0) return { ok: false, reason: 'ZERO' };
  return { ok: true, fen };
}

/** 1230 → "12.30". */
export function fenToYuan(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const abs = String(Math.abs(Math.trunc(fen))).padStart(3, '0');
  return `${sign}${abs.slice(0, -2)}.${abs.slice(-2)}`;
}
