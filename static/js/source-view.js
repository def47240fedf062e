// The source picker: the bundled samples, "your upload or matrix", and colour or gray.

const CUSTOM = "custom";

/** The state's source for a bundled sample. */
export const sampleSource = (sample) => ({ kind: "image", imageId: sample.id, name: sample.name });

export class SourceView {
  /**
   * @param {Document} document
   * @param {object[]} samples the server's bundled samples ({id, name, title})
   * @param {(patch: object) => void} update
   */
  constructor(document, samples, update) {
    this.select = document.getElementById("sample");
    this.samples = samples;
    for (const sample of samples) this.select.append(new Option(sample.title, sample.id));
    this.select.append(new Option("(your upload or matrix)", CUSTOM));
    this.select.addEventListener("change", () => {
      const sample = samples.find((s) => s.id === this.select.value);
      if (sample) update({ source: this.sourceOf(sample) });
    });
    for (const radio of document.querySelectorAll("input[name=color]")) {
      radio.addEventListener("change", () => update({ color: radio.value }));
    }
  }

  /** The state's source for a bundled sample. */
  sourceOf(sample) {
    return sampleSource(sample);
  }

  /** The first sample, where the page starts (and falls back to). */
  first() {
    return this.sourceOf(this.samples[0]);
  }

  /** The sample a lesson names ("astronaut"), or null. */
  named(name) {
    return this.samples.find((s) => s.name === name) ?? null;
  }

  /** Show `source` in the picker: its sample, or "custom" for an upload or a typed matrix. */
  show(source) {
    const known = source?.kind === "image" && this.samples.some((s) => s.id === source.imageId);
    this.select.value = known ? source.imageId : CUSTOM;
  }
}
