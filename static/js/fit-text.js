// Sizes a panel's text to its box: the largest font (whole px, between a floor and a ceiling) at which the
// content fits without scrolling. Every inner size is in em, so numbers grow with the panel (a projector)
// and shrink before anything is clipped (a laptop). Layout only: no number shown is computed here.

const GUESSES = 3; // sizes tried from the content's measured extent before plain halving takes over

export class TextFitter {
  /**
   * @param {HTMLElement} element the panel whose font-size is set (its content must size in em, and its own size
   *   must not depend on its content, e.g. `contain: strict`: the box is measured once per fit)
   * @param {{min: number, max: number}} limits font sizes in css px
   */
  constructor(element, limits) {
    this.element = element;
    this.limits = limits;
    this.key = "";
    this.layouts = []; // the arrangements offered at the last fit (one of them is on the panel)
    this.box = [0, 0]; // the box's size at the last fit: a resize refits only if it really changed
    new ResizeObserver(() => {
      const [width, height] = [element.clientWidth, element.clientHeight];
      const [lastWidth, lastHeight] = this.box;
      if (width === lastWidth && height === lastHeight) return;
      this.box = [width, height];
      // a larger box may take larger numbers; a smaller one is refit only if they no longer fit
      this.fit(this.key, width > lastWidth || height > lastHeight);
    }).observe(element);
  }

  fits() {
    const box = this.element;
    return box.scrollHeight <= box.clientHeight && box.scrollWidth <= box.clientWidth;
  }

  /**
   * How much larger (> 1) or smaller (< 1) the content could be and still fit, across and down: the box over the
   * content's own extent (its children's union, so a centred overflow counts on both sides), padding included.
   * The content scales with the font (every inner size is in em), so the smaller ratio times the font size
   * estimates the answer (not exactly: parts side by side wrap under each other as they grow).
   */
  room() {
    const box = this.element;
    let [left, top, right, bottom] = [Infinity, Infinity, -Infinity, -Infinity];
    for (const child of box.children) {
      const rect = child.getBoundingClientRect();
      [left, top] = [Math.min(left, rect.left), Math.min(top, rect.top)];
      [right, bottom] = [Math.max(right, rect.right), Math.max(bottom, rect.bottom)];
    }
    if (right < left) return [Infinity, Infinity]; // nothing in it
    const style = getComputedStyle(box);
    const padX = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
    const padY = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
    return [box.clientWidth / (right - left + padX), box.clientHeight / (bottom - top + padY)];
  }

  /**
   * Refit when the content's structure (`key`) or the box changed, or when new numbers overflow. Content that can be
   * arranged in more than one way names the arrangements (classes of the panel) in the panel's `data-layouts`, the
   * usual first: each is fitted, and the one that fits in the largest font is kept (the usual one on a tie). The
   * step panel offers its channels stacked or side by side: which takes larger numbers depends on the box's shape
   * and the numbers' widths, so it is measured, not guessed from the aspect ratio (twice the layouts of one search).
   */
  fit(key, force = false) {
    if (!this.element.firstElementChild) return; // nothing to fit yet
    if (!force && key === this.key && this.fits()) return;
    this.key = key;
    const layouts = (this.element.dataset.layouts ?? "").split(" ").filter(Boolean);
    const classes = this.element.classList;
    classes.remove(...this.layouts);
    this.layouts = layouts;
    if (layouts.length === 0) {
      this.search();
      return;
    }
    let best = null;
    for (const layout of layouts) {
      classes.add(layout);
      const tried = this.search();
      if (!best || (tried.fits && !best.fits) || (tried.fits === best.fits && tried.size > best.size)) {
        best = { ...tried, layout };
      }
      classes.remove(layout);
    }
    classes.add(best.layout);
    this.element.style.fontSize = `${best.size}px`;
  }

  /**
   * The largest font that fits the current arrangement, set on the panel: {size, fits} (fits is false when even the
   * floor overflows). Each check is a layout (~5-15 ms for the step panel, more at a font size not used before), so
   * the sizes tried come from the content's measured extent at the last size tried, starting from the current size
   * (or the stylesheet's, at first): usually the answer and the size above it, three or four layouts in all (the
   * search halved from the ceiling took seven); halving after GUESSES tries.
   */
  search() {
    const { min, max } = this.limits;
    const clamp = (px, low, high) => Math.min(Math.max(px, low), high);
    const style = this.element.style;
    let size = clamp(Math.round(parseFloat(style.fontSize || getComputedStyle(this.element).fontSize)), min, max);
    let [low, high] = [min, max]; // the answer lies in [low, high]: low fits (or is the floor)
    let fitted = false;
    for (let tried = 0; ; tried += 1) {
      style.fontSize = `${size}px`;
      if (this.fits()) {
        low = size;
        fitted = true;
      } else high = size - 1;
      if (tried === 0) this.box = [this.element.clientWidth, this.element.clientHeight]; // not the font's to change
      if (low >= high) break;
      if (tried < GUESSES) {
        size = clamp(Math.floor(size * Math.min(...this.room())), low + 1, high);
      } else {
        size = Math.ceil((low + high) / 2);
      }
    }
    if (size !== low) style.fontSize = `${low}px`;
    return { size: low, fits: fitted || this.fits() }; // the floor may be the answer untried: try it then
  }

  /** A new ceiling (presentation mode), then a refit. */
  setMax(max) {
    this.limits = { ...this.limits, max };
    this.fit(this.key, true);
  }
}
