// An OpenTelemetry MeterProvider whose metrics a test reads back: the SDK's own in-memory
// exporter behind a periodic reader that only exports when flushed.
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'

/** One data point, flattened: what a dashboard query would select on. */
export interface Point {
  readonly name: string
  readonly unit: string
  readonly attributes: Readonly<Record<string, unknown>>
  /** Sum and gauge: the value; histogram: the count of samples. */
  readonly value: number
  /** Histogram: the sum of the samples. */
  readonly sum?: number
}

export class InMemoryMeter {
  readonly exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  readonly reader = new PeriodicExportingMetricReader({
    exporter: this.exporter,
    exportIntervalMillis: 3_600_000,
  })
  readonly provider = new MeterProvider({ readers: [this.reader] })

  /** Collects now and returns every point of the headless-lb meter. */
  async collect(): Promise<Point[]> {
    this.exporter.reset()
    await this.provider.forceFlush()
    const points: Point[] = []
    for (const resource of this.exporter.getMetrics()) {
      for (const scope of resource.scopeMetrics) {
        if (scope.scope.name !== 'headless-lb') continue
        for (const metric of scope.metrics) {
          for (const p of metric.dataPoints as Array<{
            attributes: Record<string, unknown>
            value: unknown
          }>) {
            const value = p.value as number | { count: number; sum?: number }
            points.push(
              typeof value === 'number'
                ? {
                    name: metric.descriptor.name,
                    unit: metric.descriptor.unit,
                    attributes: p.attributes,
                    value,
                  }
                : {
                    name: metric.descriptor.name,
                    unit: metric.descriptor.unit,
                    attributes: p.attributes,
                    value: value.count,
                    ...(value.sum === undefined ? {} : { sum: value.sum }),
                  },
            )
          }
        }
      }
    }
    return points
  }

  /** The points of one metric whose attributes include `match`. */
  async points(name: string, match: Record<string, unknown> = {}): Promise<Point[]> {
    return (await this.collect()).filter(
      (p) => p.name === name && Object.entries(match).every(([k, v]) => p.attributes[k] === v),
    )
  }

  shutdown(): Promise<void> {
    return this.provider.shutdown()
  }
}
