/** Types for parse-prometheus-text-format (it ships none): the parts the tests use. */
declare module "parse-prometheus-text-format" {
  interface PrometheusSample {
    value: string;
    labels?: Record<string, string>;
  }
  interface PrometheusFamily {
    name: string;
    help: string;
    type: "GAUGE" | "COUNTER" | "SUMMARY" | "HISTOGRAM" | "UNTYPED";
    metrics: PrometheusSample[];
  }
  /** Parses the Prometheus text exposition format; throws on malformed input. */
  export default function parsePrometheusTextFormat(text: string): PrometheusFamily[];
}
