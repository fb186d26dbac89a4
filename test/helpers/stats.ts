/**
 * Upper-tail probability of the chi-square distribution, via the Wilson-Hilferty normal
 * approximation (accurate to well under 1% in the tail for the degrees of freedom used here).
 */
export function chiSquarePValue(statistic: number, degrees: number): number {
  const k = degrees;
  const z = (Math.cbrt(statistic / k) - (1 - 2 / (9 * k))) / Math.sqrt(2 / (9 * k));
  return 0.5 * erfc(z / Math.SQRT2);
}

function erfc(x: number): number {
  // Numerical Recipes' erfc, fractional error < 1.2e-7.
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Pearson's statistic for observed counts against expected probabilities. */
export function chiSquare(observed: ArrayLike<number>, probabilities: ArrayLike<number>, draws: number): number {
  let stat = 0;
  for (let i = 0; i < observed.length; i++) {
    const expected = probabilities[i]! * draws;
    stat += (observed[i]! - expected) ** 2 / expected;
  }
  return stat;
}
