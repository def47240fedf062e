// Looks a value up in a server-given colour scale ({scheme, low, high} + the scheme's palette).

/**
 * The palette colour of a value (the server's display_range/palette; values beyond the ends saturate).
 * @returns {string} "#rrggbb"
 */
export function colorOf(value, scale, palettes) {
  const palette = palettes[scale.scheme] ?? palettes.sequential;
  if (!Number.isFinite(value)) return "transparent";
  const span = scale.high - scale.low;
  const position = span > 0 ? (value - scale.low) / span : (scale.scheme === "diverging" ? 0.5 : 0);
  const index = Math.round(Math.min(Math.max(position, 0), 1) * (palette.length - 1));
  return palette[index];
}

/** Black or white text, whichever reads better on a "#rrggbb" background. */
export function inkOn(hex) {
  if (!hex.startsWith("#")) return "inherit";
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? "#111" : "#fff";
}

/** A number as a learner reads it: integers plain, others with up to 4 significant decimals. */
export function formatNumber(value) {
  if (value === null || value === undefined) return "";
  if (value === -Infinity) return "−∞";
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e6) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude >= 1000) return value.toFixed(1);
  if (magnitude >= 1) return Number(value.toFixed(3)).toString();
  if (magnitude >= 0.001) return Number(value.toPrecision(3)).toString();
  return magnitude === 0 ? "0" : value.toExponential(1);
}
