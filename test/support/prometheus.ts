import parsePrometheusTextFormat from 'parse-prometheus-text-format';

/** One scrape, parsed: each series by metric name, with its labels and value. */
export interface Scrape {
  families: ReturnType<typeof parsePrometheusTextFormat>;
  /** The value of the series `name` whose labels include `labels`; undefined when there is none. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Every series of `name` (a histogram's `<name>_count`, say) with its labels. */
  series(name: string): Array<{ labels: Record<string, string>; value: number }>;
}

/**
 * Parses Prometheus text with parse-prometheus-text-format, which throws on a line that breaks the
 * format. The parser folds a histogram's labelled series into one sample and loses their labels (it
 * was written for unlabelled histograms), so the text is parsed a second time with histograms
 * declared untyped: then each `_bucket`, `_sum` and `_count` series comes out with its own labels.
 */
export function parseScrape(text: string): Scrape {
  const families = parsePrometheusTextFormat(text);
  const flat = parsePrometheusTextFormat(text.replace(/^# TYPE (\S+) histogram$/gm, '# TYPE $1 untyped'));
  const series = (name: string) =>
    flat.filter((f) => f.name === name).flatMap((f) => f.metrics.map((m) => ({ labels: m.labels ?? {}, value: Number(m.value) })));
  return {
    families,
    series,
    value(name, labels = {}) {
      const found = series(name).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      if (found.length > 1) throw new Error(`${found.length} series of ${name} match ${JSON.stringify(labels)}; name them all`);
      return found[0]?.value;
    },
  };
}

export async function scrape(url: string, token?: string): Promise<Scrape> {
  const response = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}: ${await response.text()}`);
  return parseScrape(await response.text());
}
