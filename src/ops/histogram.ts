// A histogram observed without allocating: fixed bounds, counts in a typed array per label value.
// prom-client's own Histogram builds a label object, a hash and a closure on every observe(); what
// is observed per order or per batch must cost an increment, so this one is read (and its text
// built) only when /metrics is scraped. It joins a prom-client Registry like any metric.
import type { Metric, Registry } from 'prom-client';

/** One series of the histogram (one label value): observe() only adds. */
export class HistogramSeries {
  /** Per bound, then +Inf: how many observations fell there (not cumulative). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[], readonly labels: Readonly<Record<string, string>>) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

interface Sample { metricName: string; labels: Record<string, string | number>; value: number }

export class FixedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly all: HistogramSeries[] = [];

  constructor(registry: Registry, readonly name: string, readonly help: string, private readonly bounds: readonly number[]) {
    for (let i = 1; i < bounds.length; i++) if (!(bounds[i] > bounds[i - 1])) throw new Error(`${name}: bounds must rise`);
    // The registry renders any object with a name, help, type and get(); it is typed for its own four.
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series of a label set, made once at start-up (never per observation). */
  series(labels: Readonly<Record<string, string>> = {}): HistogramSeries {
    const s = new HistogramSeries(this.bounds, labels);
    this.all.push(s);
    return s;
  }

  /** What the registry renders: cumulative buckets, the sum and the count of each series. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    const values: Sample[] = [];
    for (const s of this.all) {
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += s.counts[i];
        const le = i < this.bounds.length ? String(this.bounds[i]) : '+Inf';
        values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_sum`, labels: { ...s.labels }, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...s.labels }, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Registry.resetMetrics() calls this on every metric. */
  reset(): void {
    for (const s of this.all) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
