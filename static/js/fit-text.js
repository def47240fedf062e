// Sizes a panel's text to its box: the largest font (whole px, between a floor and a ceiling) at which the
// content fits without scrolling. Every inner size is in em, so numbers grow with the panel (a projector)
// and shrink before anything is clipped (a laptop). Layout only: no number shown is computed here.

export class TextFitter {
  /**
   * @param {HTMLElement} element the panel whose font-size is set (its content must size in em)
   * @param {{min: number, max: number}} limits font sizes in css px
   */
  constructor(element, limits) {
    this.element = element;
    this.limits = limits;
    this.key = "";
    new ResizeObserver(() => this.fit(this.key, true)).observe(element);
  }

  fits() {
    const box = this.element;
    return box.scrollHeight <= box.clientHeight && box.scrollWidth <= box.clientWidth;
  }

  /** Refit when the content's structure (`key`) or the box changed, or when new numbers overflow. */
  fit(key, force = false) {
    if (!force && key === this.key && this.fits()) return;
    this.key = key;
    let [low, high] = [this.limits.min, this.limits.max];
    while (low < high) { // the largest size that fits
      const middle = Math.ceil((low + high) / 2);
      this.element.style.fontSize = `${middle}px`;
      if (this.fits()) low = middle;
      else high = middle - 1;
    }
    this.element.style.fontSize = `${low}px`;
  }

  /** A new ceiling (presentation mode), then a refit. */
  setMax(max) {
    this.limits = { ...this.limits, max };
    this.fit(this.key, true);
  }
}
