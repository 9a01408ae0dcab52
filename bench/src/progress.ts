/**
 * A progress bar on stderr for long phases. On a terminal it redraws one line (at most every
 * 100 ms); otherwise it prints a line at every tenth of the way, so logs stay short.
 */
const WIDTH = 30;
const REDRAW_MS = 100;

export class ProgressBar {
  readonly #label: string;
  readonly #total: number;
  readonly #unit: string;
  readonly #started = performance.now();
  readonly #interactive = process.stderr.isTTY;
  #done = 0;
  #lastDrawn = 0;
  #lastTenth = -1;

  constructor(label: string, total: number, unit: string) {
    this.#label = label;
    this.#total = Math.max(total, 1);
    this.#unit = unit;
    this.#draw(true);
  }

  tick(amount = 1): void {
    this.#done += amount;
    this.#draw(false);
  }

  /** Draws the final state and ends the line. */
  finish(): void {
    this.#draw(true);
    if (this.#interactive) process.stderr.write("\n");
  }

  #draw(force: boolean): void {
    const fraction = Math.min(this.#done / this.#total, 1);
    if (this.#interactive) {
      const now = performance.now();
      if (!force && now - this.#lastDrawn < REDRAW_MS) return;
      this.#lastDrawn = now;
      process.stderr.write(`\r${this.#line(fraction)}\x1b[K`);
      return;
    }
    const tenth = Math.floor(fraction * 10);
    if (tenth === this.#lastTenth) return;
    this.#lastTenth = tenth;
    process.stderr.write(`${this.#line(fraction)}\n`);
  }

  #line(fraction: number): string {
    const filled = Math.round(fraction * WIDTH);
    const seconds = ((performance.now() - this.#started) / 1000).toFixed(1);
    const count = `${this.#done.toLocaleString("en-US")}/${this.#total.toLocaleString("en-US")}`;
    return (
      `${this.#label} [${"#".repeat(filled)}${"-".repeat(WIDTH - filled)}] ` +
      `${(fraction * 100).toFixed(0).padStart(3)}% ${count} ${this.#unit} ${seconds}s`
    );
  }
}
