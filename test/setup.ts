/** Preloaded by bunfig.toml: the per-test time limit for every test file (Bun's default is 5 s). */
import { setDefaultTimeout } from "bun:test";

setDefaultTimeout(60_000);
