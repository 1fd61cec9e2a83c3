import type { Server } from "bun";
import type { QueueSample, ReaderSample, RootSample, RootStats } from "../../src/index.ts";
import type { Command } from "../command.ts";
import { UsageError } from "../output.ts";
import { statsSource } from "./stat.ts";

const DEFAULT_LISTEN = "127.0.0.1:9464";

const usage = `usage: chronicle metrics <root|queue> [--listen host:port] [--ttl ms] [--max-lag bytes]

Serves the figures of chronicle stat for every queue under a directory (or of one queue) in the
Prometheus text exposition format at http://<listen>/metrics; each scrape takes a fresh sample.
Metric names and labels: docs/METRICS.md. Prints "listening on <url>" once it is, and runs until
Ctrl-C. Writes nothing to the queues and needs no write permission.
  --listen host:port  address to listen on (default ${DEFAULT_LISTEN}; port 0 picks a free port)
  --ttl ms            reader heartbeat TTL used to call a reader dead (default 60000)
  --max-lag bytes     lag beyond which a reader is "lagging" (default: none)`;

type Labels = Record<string, string>;

interface Family {
  name: string;
  type: "gauge" | "counter";
  help: string;
  samples: { labels: Labels; value: number }[];
}

/** Label values escape backslash, double quote and newline (the exposition format's rule). */
const escape = (v: string): string => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

function formatValue(v: number): string {
  return Number.isNaN(v) ? "NaN" : v === Infinity ? "+Inf" : v === -Infinity ? "-Inf" : String(v);
}

/** The text exposition format (version 0.0.4) of `families`. */
function expose(families: Family[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escape(v)}"`).join(",");
      out.push(`${f.name}${labels === "" ? "" : `{${labels}}`} ${formatValue(s.value)}`);
    }
  }
  return `${out.join("\n")}\n`;
}

const STATES = ["live", "dead", "lagging", "corrupt"] as const;

/** The metric families of one sample; see docs/METRICS.md. */
function metricFamilies(s: RootSample, scrapeSeconds: number): Family[] {
  const families: Family[] = [];
  const queueFamily = (name: string, type: Family["type"], help: string, value: (q: QueueSample) => number | null): void => {
    families.push({ name, type, help, samples: s.queues.flatMap((q) => { const v = value(q); return v === null ? [] : [{ labels: { queue: q.dir }, value: v }]; }) });
  };
  const readers = s.queues.flatMap((q) => q.readers.map((r) => ({ q, r })));
  const readerFamily = (name: string, help: string, value: (r: ReaderSample) => number | null): void => {
    families.push({ name, type: "gauge", help, samples: readers.flatMap(({ q, r }) => { const v = value(r); return v === null ? [] : [{ labels: { queue: q.dir, reader: r.name }, value: v }]; }) });
  };
  families.push({ name: "chronicle_queue_up", type: "gauge", help: "1 when the queue could be read in this scrape, 0 when not (then it has no other series)", samples: [
    ...s.queues.map((q) => ({ labels: { queue: q.dir }, value: 1 })),
    ...s.errors.map((e) => ({ labels: { queue: e.dir }, value: 0 })),
  ] });
  queueFamily("chronicle_queue_format_version", "gauge", "On-disk format version of the queue (1 or 2)", (q) => q.formatVersion);
  queueFamily("chronicle_queue_segment_size_bytes", "gauge", "Size of each segment file", (q) => q.segmentSize);
  queueFamily("chronicle_queue_head_seq", "gauge", "seq of the newest record (-1 when the queue is empty)", (q) => q.head.lastSeq);
  queueFamily("chronicle_queue_appended_records_total", "counter", "Records ever appended (the seq the next record gets)", (q) => q.head.nextSeq);
  queueFamily("chronicle_queue_position_bytes_total", "counter", "Log position of the head in bytes (segment * segment size + offset); its rate is the append bandwidth", (q) => q.head.position);
  queueFamily("chronicle_queue_segments", "gauge", "Segment files on disk", (q) => q.segments.count);
  queueFamily("chronicle_queue_disk_bytes", "gauge", "Bytes of the segment files on disk", (q) => q.segments.bytes);
  queueFamily("chronicle_queue_writer_alive", "gauge", "1 while a writer holds the queue's lock", (q) => (q.writer.alive ? 1 : 0));
  queueFamily("chronicle_queue_writer_epoch", "gauge", "Writer epoch: how many times a writer has opened the queue", (q) => q.writer.epoch);
  queueFamily("chronicle_queue_writer_heartbeat_age_seconds", "gauge", "Seconds since the writer's last heartbeat (absent when it never wrote one)", (q) => (Number.isFinite(q.writer.heartbeatAgeMs) ? q.writer.heartbeatAgeMs / 1000 : null));
  readerFamily("chronicle_reader_next_seq", "seq of the next record the reader will read (absent when unknown)", (r) => r.nextSeq);
  readerFamily("chronicle_reader_lag_records", "Records between the reader's committed position and the head (absent when unknown)", (r) => r.lagRecords);
  readerFamily("chronicle_reader_lag_bytes", "Bytes between the reader's committed position and the head", (r) => r.lagBytes);
  readerFamily("chronicle_reader_open", "1 when a process holds the reader open", (r) => (r.open ? 1 : 0));
  readerFamily("chronicle_reader_heartbeat_age_seconds", "Seconds since the reader's last heartbeat (absent when unknown)", (r) => (Number.isFinite(r.heartbeatAgeMs) ? r.heartbeatAgeMs / 1000 : null));
  families.push({ name: "chronicle_reader_state", type: "gauge", help: "1 for the reader's state (live, dead, lagging or corrupt), 0 for the others", samples: readers.flatMap(({ q, r }) => STATES.map((state) => ({ labels: { queue: q.dir, reader: r.name, state }, value: r.state === state ? 1 : 0 }))) });
  families.push({ name: "chronicle_scrape_duration_seconds", type: "gauge", help: "Time this scrape took to sample the queues", samples: [{ labels: {}, value: scrapeSeconds }] });
  return families;
}

function parseListen(v: string): { hostname: string; port: number } {
  const m = /^(.+):(\d+)$/.exec(v);
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || m[1] === undefined || port > 65535) throw new UsageError(`metrics: --listen must be host:port (e.g. ${DEFAULT_LISTEN}), got ${v}`);
  return { hostname: m[1].replace(/^\[(.*)\]$/, "$1"), port };
}

async function metrics(argv: string[]): Promise<number> {
  const { stats, args } = statsSource(argv, ["--listen"], [], "metrics");
  const listen = parseListen(String(args.flags.get("--listen") ?? DEFAULT_LISTEN));
  const server = serve(listen, stats);
  console.log(`listening on ${new URL("/metrics", server.url).href}`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await server.stop();
  return 0;
}

/** The HTTP server; an address that cannot be bound is a one-line error, not a stack trace. */
function serve(listen: { hostname: string; port: number }, stats: RootStats): Server<undefined> {
  try {
    return Bun.serve({
      ...listen,
      fetch(req): Response {
        const path = new URL(req.url).pathname;
        if (path === "/") return new Response(`chronicle metrics for ${stats.root}: see /metrics\n`);
        if (path !== "/metrics") return new Response("not found\n", { status: 404 });
        const t0 = performance.now();
        const sample = stats.sample();
        const body = expose(metricFamilies(sample, (performance.now() - t0) / 1000));
        return new Response(body, { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
      },
    });
  } catch (e) {
    throw new UsageError(`metrics: cannot listen on ${listen.hostname}:${listen.port} (${(e as { code?: string }).code ?? (e as Error).message})`);
  }
}

/** `chronicle metrics`. */
export const command: Command = { name: "metrics", summary: "serve the stat figures to Prometheus over HTTP (--listen host:port)", usage, run: metrics };
