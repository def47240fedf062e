// Paints server-given colours: a palette index (from the frame's `<field>_color`, the run's `weight_colors`,
// the training filters' `colors`) is looked up in the server's palettes; nothing is computed here.

/** The server's marker for a number without a colour (non-finite, e.g. max-pool padding). */
export const TRANSPARENT = -1;

/**
 * The background and text colour of palette index `index` in `scheme` (GET /api/palettes gives each scheme's
 * colours and, as `<scheme>_ink`, the text colour that reads on each), or null for TRANSPARENT.
 * @returns {{background: string, ink: string} | null}
 */
export function paletteEntry(index, scheme, palettes) {
  const name = palettes[scheme] ? scheme : "sequential";
  if (index === undefined || index === null || index < 0) return null;
  return { background: palettes[name][index], ink: palettes[`${name}_ink`]?.[index] ?? "inherit" };
}

/**
 * A whole count with thousands separators ("76,800"), as the page writes step and parameter counts. Plain string
 * work: the first toLocaleString of a page loads the number formats of its locale, ~40 ms before the first map.
 */
export const groupDigits = (count) => String(count).replace(/\B(?=(\d{3})+(?!\d))/g, ",");

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
