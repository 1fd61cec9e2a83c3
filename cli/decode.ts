/**
 * How `tail` shows a payload beyond text and hex: through `--decode <module>` (a module exporting
 * `decode(view)`, or typed-record schemas matched by type id), and JSON payloads as JSON.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { isRecordType, type MessageView, type RecordFields, type RecordView } from "../src/index.ts";
import { jsonLine, UsageError } from "./output.ts";

/** A payload shown as a value: what a decoder returned (`record` names the schema), or parsed JSON. */
export type Shown = { record?: string; decoded: unknown } | { json: unknown };

/**
 * A loaded `--decode` module. A decoder that throws (or a schema refusing a record of its type
 * id) is reported on stderr for that record, which is then shown as if undecoded; `failures`
 * counts them so that tail exits 1.
 */
export class PayloadDecoder {
  failures = 0;

  private constructor(
    readonly module: string,
    private readonly decodeFn: ((view: MessageView) => unknown) | null,
    private readonly views: ReadonlyMap<number, { name: string; view: RecordView<RecordFields> }>,
  ) {}

  /** Loads the module `spec` (a path relative to the working directory, or a package name). */
  static async load(spec: string): Promise<PayloadDecoder> {
    const path = existsSync(resolve(spec)) ? resolve(spec) : resolveModule(spec);
    let mod: Record<string, unknown>;
    try {
      mod = (await import(path)) as Record<string, unknown>;
    } catch (e) {
      throw new UsageError(`--decode ${spec}: the module failed to load: ${e instanceof Error ? e.message : String(e)}`);
    }
    const views = new Map<number, { name: string; view: RecordView<RecordFields> }>();
    for (const value of Object.values(mod)) {
      if (!isRecordType(value)) continue;
      const same = views.get(value.typeId);
      if (same !== undefined && same.name !== value.name) throw new UsageError(`--decode ${spec}: schemas ${same.name} and ${value.name} both have type id ${value.typeId}`);
      views.set(value.typeId, { name: value.name, view: value.view() });
    }
    const decodeFn = typeof mod.decode === "function" ? (mod.decode as (view: MessageView) => unknown) : null;
    if (decodeFn === null && views.size === 0) {
      throw new UsageError(`--decode ${spec}: the module exports neither a decode(view) function nor a record schema (defineRecord)`);
    }
    return new PayloadDecoder(spec, decodeFn, views);
  }

  /**
   * What `decode` (when exported; it wins over schemas) or the schema of m's type id makes of m;
   * null when neither applies (decode returned undefined, no schema has the type id) or it failed.
   */
  decode(m: MessageView): Shown | null {
    try {
      if (this.decodeFn !== null) {
        const decoded = this.decodeFn(m);
        return decoded === undefined ? null : { decoded };
      }
      const schema = this.views.get(m.typeId);
      return schema !== undefined && schema.view.wrap(m) ? { record: schema.name, decoded: schema.view.toObject() } : null;
    } catch (e) {
      this.failures++;
      console.error(`chronicle: --decode ${this.module}: seq ${m.seq} (type ${m.typeId}): ${e instanceof Error ? e.message : String(e)}`);
      return null;
    }
  }
}

function resolveModule(spec: string): string {
  try {
    return Bun.resolveSync(spec, process.cwd());
  } catch {
    throw new UsageError(`--decode ${spec}: no such module (a path from ${process.cwd()}, or an installed package)`);
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The payload parsed, when it is UTF-8 text holding a JSON object or array (bare numbers and words stay text). */
function parsedJson(p: Uint8Array): { json: unknown } | null {
  let i = 0;
  while (i < p.length && (p[i] === 0x20 || p[i] === 0x0a || p[i] === 0x0d || p[i] === 0x09)) i++;
  if (p[i] !== 0x7b && p[i] !== 0x5b) return null;
  try {
    return { json: JSON.parse(utf8.decode(p)) };
  } catch {
    return null;
  }
}

/** The payload as a value, if a decoder or JSON makes one of it. */
export function shownValue(m: MessageView, decoder: PayloadDecoder | null): Shown | null {
  return decoder?.decode(m) ?? parsedJson(m.payload);
}

/** The text form: a decoder's string as it is, anything else as one line of JSON (after the schema's name). */
export function shownText(shown: Shown): string {
  if ("json" in shown) return jsonLine(shown.json);
  const value = typeof shown.decoded === "string" ? shown.decoded : jsonLine(shown.decoded);
  return shown.record === undefined ? value : `${shown.record} ${value}`;
}
