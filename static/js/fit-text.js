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
    this.size = ""; // the box's size at the last fit: a resize refits only if it really changed
    new ResizeObserver(() => {
      if (this.size !== this.boxSize()) this.fit(this.key, true);
    }).observe(element);
  }

  boxSize() {
    return `${this.element.clientWidth}x${this.element.clientHeight}`;
  }

  fits() {
    const box = this.element;
    return box.scrollHeight <= box.clientHeight && box.scrollWidth <= box.clientWidth;
  }

  /**
   * Refit when the content's structure (`key`) or the box changed, or when new numbers overflow. Each check is a
   * layout, so the search starts at the current size: a similar content (another kernel, the next run) is
   * settled in two checks (this size fits, one more does not); a content that overflows starts from the size
   * its overflow suggests; else halving towards the side it must go.
   */
  fit(key, force = false) {
    if (!force && key === this.key && this.fits()) return;
    this.key = key;
    const at = (px) => {
      this.element.style.fontSize = `${px}px`;
      return this.fits();
    };
    const { min, max } = this.limits;
    const current = Math.min(Math.max(Math.round(parseFloat(this.element.style.fontSize) || max), min), max);
    let [low, high] = [min, max];
    if (at(current)) {
      if (current === max || !at(current + 1)) [low, high] = [current, current];
      else low = current + 1;
    } else {
      // it overflows by a measurable factor, and the content scales with the font (every inner size is in em):
      // start just below that estimate (two checks when it holds) instead of halving from the floor
      const box = this.element;
      const ratio = Math.min(box.clientWidth / box.scrollWidth, box.clientHeight / box.scrollHeight);
      const guess = Math.max(min, Math.min(current - 1, Math.floor(current * ratio)));
      if (at(guess)) {
        [low, high] = [guess, current - 1];
        if (guess < high && !at(guess + 1)) high = guess;
      } else {
        high = guess - 1;
      }
    }
    while (low < high) { // the largest size that fits, between low (fits or the floor) and high
      const middle = Math.ceil((low + high) / 2);
      if (at(middle)) low = middle;
      else high = middle - 1;
    }
    this.element.style.fontSize = `${low}px`;
    this.size = this.boxSize();
  }

  /** A new ceiling (presentation mode), then a refit. */
  setMax(max) {
    this.limits = { ...this.limits, max };
    this.fit(this.key, true);
  }
}
