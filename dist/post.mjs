import { createRequire as __gcc_createRequire } from 'node:module'; const require = __gcc_createRequire(import.meta.url);
import {
  binaryEnv,
  budgetLine,
  cache_exports,
  endGroup,
  excludeOptions,
  freshDecision,
  getInput,
  getState,
  info,
  notice,
  pruneArgs,
  runBinary,
  saveDecision,
  saveEntry,
  startGroup,
  timingArgs,
  toolkitClient,
  trimArgs,
  warning
} from "./shared-2RGNXMGG.mjs";

// src/post.mjs
import fs from "node:fs";
var log = { info, notice, warning };
function prune(st, env, ref, saved, lines) {
  const token = getInput("token");
  if (!token) {
    info("go-ci-cache: superseded entries are not pruned: no `token` (GitHub's own eviction bounds the store)");
    return;
  }
  startGroup("go-ci-cache: prune superseded entries");
  for (const [name, entry] of saved) {
    const args = pruneArgs(entry, { keep: st.inputs.keep ?? 2, ref, budgetGb: st.budget?.gb });
    const r = runBinary(st.bin, args, { ...env, GITHUB_TOKEN: token }, { capture: true, captureStderr: true });
    const out = (r.stdout || "").trim();
    if (out) info(out);
    if (r.stderr) process.stdout.write(r.stderr.endsWith("\n") ? r.stderr : `${r.stderr}
`);
    const m = /deleted (\d+) of (\d+) entries \(([^)]*)\)/.exec(out);
    if (m) lines.push(`- ${name}: pruned ${m[1]} superseded ${m[1] === "1" ? "entry" : "entries"} (${m[3]})`);
    if (r.status !== 0 || /actions: write/.test(r.stderr || "")) break;
  }
  endGroup();
}
async function run() {
  const raw = getState("go-ci-cache");
  if (!raw) {
    info("go-ci-cache: main did not finish; nothing to save");
    return;
  }
  const st = JSON.parse(raw);
  const env = binaryEnv(st.inputs, process.env, st.state);
  const ref = process.env.GITHUB_REF || "";
  const entries = [
    ["modules", st.inputs.modulesCache, st.keys.modules, st.mod],
    ["build", st.inputs.buildCache, st.keys.build, st.bld]
  ];
  const plan = [];
  const lines = [];
  for (const [name, enabled, entry, restored] of entries) {
    if (!enabled) continue;
    lines.push(`- ${name}: restore ${restored.status}${restored.matched ? ` (\`${restored.matched}\`)` : ""}`);
    const exactHit = restored.exact ?? restored.hit;
    const d = saveDecision({ decision: st.decision, exactHit });
    if (d.save) plan.push([name, entry]);
    else {
      info(`go-ci-cache: not saving the ${name} cache: ${d.why}`);
      lines.push(`- ${name}: not saved: ${d.why}`);
    }
  }
  let after = {};
  let added;
  const excludes = {};
  if (!st.inputs.lookupOnly) {
    startGroup("go-ci-cache: trim");
    runBinary(st.bin, trimArgs(plan.map(([n]) => n), st.persistent), env);
    endGroup();
  }
  if (plan.length > 0) {
    const rep = runBinary(st.bin, ["report", "--format", "json", "--state", st.state], env, { capture: true });
    if (rep.status === 0) {
      try {
        const t = JSON.parse(rep.stdout).trim;
        after = { modules: t?.gomodcache?.after, build: t?.gocache?.after };
        added = t?.gocache?.added ?? void 0;
        Object.assign(excludes, { modules: t?.gomodcache?.exclude_file, build: t?.gocache?.exclude_file });
      } catch {
      }
    }
  }
  const client = toolkitClient(cache_exports);
  startGroup("go-ci-cache: save");
  let uploads = 0;
  const saved = [];
  const timings = {};
  for (const [name, entry] of plan) {
    if (!fs.existsSync(entry.path) || after[name]?.files === 0) {
      info(`go-ci-cache: not saving the ${name} cache: the job left nothing in it`);
      lines.push(`- ${name}: not saved: empty`);
      continue;
    }
    if (name === "build") {
      const f = freshDecision({ matched: st.bld.matched, added, sameSet: Boolean(st.bld.hit) });
      if (!f.save) {
        info(`go-ci-cache: not saving the build cache: ${f.why}`);
        lines.push(`- build: not saved: ${f.why}`);
        continue;
      }
      if (added !== void 0 && st.bld.matched) info(`go-ci-cache: the job added ${added} build-cache entries to the restored ${st.bld.matched}`);
    }
    const prevTar = process.env.TAR_OPTIONS;
    if (st.persistent) {
      const opts = excludeOptions(excludes[name], prevTar);
      if (!opts) {
        info(`go-ci-cache: not saving the ${name} cache: trim could not list what this job did not use, and an archive of a cache other jobs share would carry their entries`);
        lines.push(`- ${name}: not saved: no exclusions`);
        continue;
      }
      process.env.TAR_OPTIONS = opts;
    }
    let r;
    try {
      r = await saveEntry(client, name, entry, log);
    } finally {
      if (prevTar === void 0) delete process.env.TAR_OPTIONS;
      else process.env.TAR_OPTIONS = prevTar;
    }
    for (const [k, v] of Object.entries(r.timing || {})) timings[`save.${name}.${k}`] = v;
    if (r.status === "saved") {
      uploads += 1;
      saved.push([name, entry]);
    }
    lines.push(`- ${r.line}`);
    if (r.status === "rate-limited" || r.status === "read-only" || r.status === "budget") {
      for (const [other] of plan.slice(plan.findIndex(([n]) => n === name) + 1)) {
        info(`go-ci-cache: not saving the ${other} cache either (${r.status})`);
        lines.push(`- ${other}: not saved: ${r.status}`);
      }
      break;
    }
  }
  endGroup();
  info(`go-ci-cache: ${uploads} new cache ${uploads === 1 ? "entry" : "entries"} uploaded by this job`);
  if (saved.length > 0) {
    const t0 = performance.now();
    prune(st, env, ref, saved, lines);
    timings.prune = (performance.now() - t0) / 1e3;
  }
  runBinary(st.bin, ["report", "--format", "github", "--state", st.state, ...timingArgs(timings)], env);
  const text = runBinary(st.bin, ["report", "--format", "text", "--state", st.state], env, { capture: true });
  const time = (text.stdout || "").split("\n").find((l) => l.startsWith("time: "));
  if (time) info(`go-ci-cache: ${time}`);
  if (st.budget) lines.push(`- ${budgetLine(st.budget)}`);
  if (process.env.GITHUB_STEP_SUMMARY && lines.length > 0) {
    fs.appendFileSync(process.env.GITHUB_STEP_SUMMARY, `${lines.join("\n")}
`);
  }
}
run().catch((e) => warning(`go-ci-cache post step: ${e.stack || e.message}`));
