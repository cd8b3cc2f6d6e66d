// One formatter for every p-value the console shows (issue 16, point 2): never "p = 0".
// A p-value that underflowed to 0 is written from its log10 when the summary has one
// ("p = 3.8e-7"), else as "p < 1e-300"; the same rule as the CLI report.

/** The smallest p-value written as a number; below it: "p < 1e-300". */
const FLOOR_LOG10 = -300;

function trimZeros(s: string): string {
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

/** "0.059", "3.8e-7": two significant digits, exponent without a plus or leading zero. */
function number2(p: number): string {
  if (p >= 0.001) return trimZeros(p.toPrecision(2));
  const [m, e] = p.toExponential(1).split('e');
  return `${trimZeros(m)}e${Number(e)}`;
}

/**
 * "p = 0.059", "p = 3.8e-7", "p < 1e-300"; "p = –" when neither value is known. `log10p`
 * wins when the double underflowed (p = 0) or is denormal.
 */
export function formatP(p: number | null | undefined, log10p?: number | null): string {
  const lg = typeof log10p === 'number' && Number.isFinite(log10p) ? log10p : null;
  const pv = typeof p === 'number' && Number.isFinite(p) ? p : null;
  if (pv !== null && pv >= 1e-300) return `p = ${number2(Math.min(1, pv))}`;
  if (lg !== null) {
    if (lg < FLOOR_LOG10) return 'p < 1e-300';
    let e = Math.floor(lg);
    let m = Number((10 ** (lg - e)).toFixed(1));
    if (m >= 10) { m = 1; e += 1; }
    return e >= -3 ? `p = ${number2(10 ** lg)}` : `p = ${trimZeros(m.toFixed(1))}e${e}`;
  }
  if (pv !== null) return 'p < 1e-300';  // 0 or denormal, and no log10 to say more
  return 'p = –';
}

/** A server-written `p_text`, checked: a "p = 0" from an old server is rewritten. */
export function pText(text: string | null | undefined, p?: number | null, log10p?: number | null): string {
  if (text && !/^p\s*=\s*0(\.0*)?(e[+-]?\d+)?$/i.test(text.trim())) return text;
  return formatP(p, log10p);
}
