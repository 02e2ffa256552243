import { createRequire as __gcc_createRequire } from 'node:module'; const require = __gcc_createRequire(import.meta.url);
import {
  InputError,
  actionDir,
  binaryEnv,
  budgetLine,
  cacheModeNotice,
  cache_exports,
  countBuildEntries,
  countEntries,
  endGroup,
  exportVariable,
  getInput,
  heldResult,
  info,
  isFeatureAvailable,
  judgeBuildHit,
  narrowedResult,
  notice,
  prefilledWarning,
  readBudget,
  readInputs,
  readManifest,
  resolveRemote,
  restoreCache,
  restoreEntry,
  restoreTarget,
  rollingSuffix,
  runBinary,
  runBinaryAsync,
  runsInstalledGo,
  saveCache,
  saveState,
  setFailed,
  setOutput,
  shouldWarm,
  startGroup,
  statePath,
  timingArgs,
  toolkitClient,
  trustArgs,
  warning
} from "./shared-2RGNXMGG.mjs";

// src/main.mjs
import { spawnSync as spawnSync2 } from "node:child_process";
import fs2 from "node:fs";
import path2 from "node:path";

// src/install.mjs
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
function targetTriple(platform = process.platform, arch = process.arch) {
  const table = {
    "linux-x64": "x86_64-unknown-linux-musl",
    "linux-arm64": "aarch64-unknown-linux-musl",
    "darwin-arm64": "aarch64-apple-darwin",
    "darwin-x64": "x86_64-apple-darwin",
    "win32-x64": "x86_64-pc-windows-msvc",
    "win32-arm64": "aarch64-pc-windows-msvc"
  };
  const t = table[`${platform}-${arch}`];
  if (!t) throw new Error(`go-ci-cache has no build for ${platform}/${arch}; set the \`binary\` input to a go-ci-cache you built`);
  return t;
}
var ChecksumError = class extends Error {
};
function sha256(bytes) {
  return createHash("sha256").update(bytes).digest("hex");
}
var MissingAssetError = class extends Error {
};
var sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function fetchWithRetry(url, { attempts = 4, fetchImpl = fetch, delayMs = 1e3, log: log2 = () => {
} } = {}) {
  let last;
  for (let i = 1; i <= attempts; i++) {
    try {
      const res = await fetchImpl(url);
      if (res.status < 500 && res.status !== 429) return res;
      last = new Error(`HTTP ${res.status}`);
      const after = Number(res.headers?.get?.("retry-after"));
      if (i < attempts) {
        const wait = Number.isFinite(after) && after > 0 ? after * 1e3 : delayMs * i;
        log2(`download of ${url} answered HTTP ${res.status}; retrying in ${Math.round(wait / 1e3)} s (${i}/${attempts - 1})`);
        await sleep(wait);
      }
    } catch (e) {
      last = new Error(e.cause?.message ?? e.message);
      if (i < attempts) {
        log2(`download of ${url} failed (${last.message}); retrying in ${Math.round(delayMs * i / 1e3)} s (${i}/${attempts - 1})`);
        await sleep(delayMs * i);
      }
    }
  }
  throw new Error(`cannot download go-ci-cache from ${url} after ${attempts} attempts: ${last.message}`);
}
async function install(opts) {
  const { actionDir: actionDir2, manifest, toolCache, baseUrl, log: log2 = () => {
  } } = opts;
  const triple = targetTriple(opts.platform, opts.arch);
  const exe = triple.includes("windows") ? ".exe" : "";
  const asset = manifest.assets?.[triple];
  if (!asset) {
    log2(`the manifest lists no go-ci-cache ${manifest.version} asset for ${triple} (a branch or commit ref); building from source once, then caching the build`);
    return cachedSourceBuild({ actionDir: actionDir2, toolCache, triple, exe, cache: opts.sourceCache, log: log2 });
  }
  const dir = path.join(toolCache, "go-ci-cache", manifest.version, triple);
  const bin = path.join(dir, `go-ci-cache${exe}`);
  if (fs.existsSync(bin) && sha256(fs.readFileSync(bin)) === asset.sha256) {
    log2(`using go-ci-cache ${manifest.version} from the tool cache: ${bin}`);
    return bin;
  }
  const url = `${baseUrl.replace(/\/$/, "")}/${asset.name}`;
  log2(`downloading ${url}`);
  const res = await fetchWithRetry(url, { ...opts, log: log2 });
  if (res.status === 404) {
    throw new MissingAssetError(
      `the release asset ${asset.name} that dist/manifest.json names for go-ci-cache ${manifest.version} is missing: ${url} answered HTTP 404 (an incomplete or deleted release)`
    );
  }
  if (!res.ok) throw new Error(`cannot download go-ci-cache from ${url}: HTTP ${res.status}`);
  const bytes = Buffer.from(await res.arrayBuffer());
  const got = sha256(bytes);
  if (got !== asset.sha256) {
    throw new ChecksumError(
      `checksum mismatch for ${asset.name}: expected sha256 ${asset.sha256}, got ${got}; refusing to run it (a tampered or corrupt download)`
    );
  }
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, bytes, { mode: 493 });
  fs.renameSync(tmp, bin);
  return bin;
}
function sourceDigest(actionDir2) {
  const files = ["Cargo.toml", "Cargo.lock"];
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(actionDir2, rel), { withFileTypes: true }).sort((a, b) => a.name < b.name ? -1 : 1)) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) files.push(r);
    }
  };
  walk("src");
  const h = createHash("sha256");
  for (const f of files) {
    h.update(`${f}\0`);
    h.update(fs.readFileSync(path.join(actionDir2, f)));
    h.update("\0");
  }
  return h.digest("hex").slice(0, 32);
}
async function cachedSourceBuild({ actionDir: actionDir2, toolCache, triple, exe, cache, log: log2 }) {
  if (!fs.existsSync(path.join(actionDir2, "Cargo.toml"))) throw new Error(`cannot build go-ci-cache from source: no Cargo.toml in ${actionDir2}`);
  const digest = sourceDigest(actionDir2);
  const dir = path.join(toolCache, "go-ci-cache", `source-${digest}`, triple);
  const bin = path.join(dir, `go-ci-cache${exe}`);
  const key = `go-ci-cache-binary-${triple}-${digest}`;
  if (fs.existsSync(bin)) {
    log2(`using the source build ${bin}`);
    return bin;
  }
  if (cache) {
    try {
      if (await cache.restore([dir], key)) {
        if (fs.existsSync(bin)) {
          log2(`restored the source build from the Actions cache (${key})`);
          return bin;
        }
      }
    } catch (e) {
      log2(`the cached source build could not be restored (${e.message}); building`);
    }
  }
  const built = buildFromSource(actionDir2, log2);
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(built, bin);
  fs.chmodSync(bin, 493);
  if (cache) {
    try {
      await cache.save([dir], key);
      log2(`saved the source build to the Actions cache as ${key}`);
    } catch (e) {
      log2(`the source build was not cached (${e.message})`);
    }
  }
  return bin;
}
function buildEnv(env = process.env) {
  const out = {};
  for (const [k, v] of Object.entries(env)) {
    if (/TOKEN/i.test(k) || /^ACTIONS_(ID_TOKEN_REQUEST_URL|RUNTIME_URL|RESULTS_URL|CACHE_URL)$/.test(k)) continue;
    out[k] = v;
  }
  return out;
}
function buildFromSource(actionDir2, log2 = () => {
}) {
  const profile = process.env.GO_CI_CACHE_CARGO_PROFILE || "release";
  const manifestPath = path.join(actionDir2, "Cargo.toml");
  if (!fs.existsSync(manifestPath)) throw new Error(`cannot build go-ci-cache from source: no Cargo.toml in ${actionDir2}`);
  const args = ["build", "--locked", "--profile", profile, "--manifest-path", manifestPath];
  log2(`cargo ${args.join(" ")}`);
  const r = spawnSync("cargo", args, { stdio: ["ignore", "inherit", "inherit"], env: buildEnv() });
  if (r.error) throw new Error(`cannot build go-ci-cache from source: cargo: ${r.error.message} (install Rust, or use a released version of the action)`);
  if (r.status !== 0) throw new Error(`cannot build go-ci-cache from source: cargo exited with ${r.status}`);
  const targetDir = process.env.CARGO_TARGET_DIR || path.join(actionDir2, "target");
  const dirName = profile === "dev" ? "debug" : profile;
  const bin = path.join(targetDir, dirName, `go-ci-cache${os.platform() === "win32" ? ".exe" : ""}`);
  if (!fs.existsSync(bin)) throw new Error(`cargo build succeeded but ${bin} is missing`);
  return bin;
}

// src/main.mjs
var log = { info, notice, warning };
function record(prefix, timing) {
  for (const [k, v] of Object.entries(timing || {})) timings[`${prefix}.${k}`] = (timings[`${prefix}.${k}`] || 0) + v;
}
function setOutputs(o) {
  for (const [k, v] of Object.entries(o)) setOutput(k, v);
}
var OFF = { "cache-hit": "false", "modules-hit": "false", "build-hit": "false", "modules-status": "off", "build-status": "off", persistent: "false" };
var timings = {};
function keys(bin, env, { quiet = false } = {}) {
  const t0 = performance.now();
  try {
    return keysOnce(bin, env, quiet);
  } finally {
    timings.keys = (timings.keys || 0) + (performance.now() - t0) / 1e3;
  }
}
var earlyStderr = "";
function keysOnce(bin, env, quiet) {
  const r = runBinary(bin, ["keys", "--format", "json"], env, { capture: true, captureStderr: quiet });
  if (quiet) earlyStderr = r.stderr;
  if (r.status !== 0) {
    if (quiet) return null;
    warning(`go-ci-cache is off for this job: \`go-ci-cache keys\` failed (exit status ${r.status}; the error is above). The job goes on without caching.`);
    return null;
  }
  try {
    return JSON.parse(r.stdout);
  } catch (e) {
    warning(`go-ci-cache is off for this job: \`go-ci-cache keys\` printed no JSON (${e.message})`);
    return null;
  }
}
function claim(bin, env, caches) {
  const t0 = performance.now();
  const r = runBinary(bin, ["claim", "--caches", caches], env, { capture: true });
  timings.claim = (timings.claim || 0) + (performance.now() - t0) / 1e3;
  if (r.status !== 0) return null;
  try {
    return JSON.parse(r.stdout);
  } catch {
    return null;
  }
}
function rootsBefore(env) {
  const r = spawnSync2("go", ["env", "GOMODCACHE", "GOCACHE"], {
    cwd: env.GO_CI_CACHE_DIR || ".",
    env: { ...env, GOTOOLCHAIN: "local" },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"]
  });
  if (r.status !== 0 || !r.stdout) return null;
  const [modules, build] = r.stdout.split(/\r?\n/);
  if (!modules || !build) return null;
  return { modules, build, counts: { modules: countEntries(modules), build: countBuildEntries(build) } };
}
function exportPaths(k) {
  startGroup("go-ci-cache: cache configuration");
  for (const [name, e] of [["modules", k.modules], ["build", k.build]]) {
    info(`${name} (${e.path})
  key:          ${e.key}
  restore keys: ${e.restore_keys.join("\n                ")}`);
    for (const l of e.layers) {
      if (l.inputs.length > 1) info(`  ${l.name} ${l.value} <- ${l.inputs.map((i) => `${i.name}=${i.value}`).join(", ")}`);
    }
  }
  endGroup();
  exportVariable("GOMODCACHE", k.modules.path);
  exportVariable("GOCACHE", k.build.path);
}
function whoWrites(bin, inputs, env) {
  const r = runBinary(bin, trustArgs(inputs), env, { capture: true, captureStderr: true });
  let d = null;
  if (r.status === 0) {
    try {
      d = JSON.parse(r.stdout);
    } catch {
      d = null;
    }
  }
  if (!d) {
    warning(`go-ci-cache: who writes what could not be decided (\`go-ci-cache trust\` exited with status ${r.status}: ${(r.stderr || "").trim()}); this job saves nothing`);
    return null;
  }
  const archives = d.archives ? "archives are saved when new" : `archives are never saved: ${d.archives_why}`;
  info(`go-ci-cache: this job runs ${d.origin}${d.trusted ? " (trusted)" : ""}; ${archives}`);
  return d;
}
function checkRemote(bin, inputs, env, remote) {
  const r = runBinary(bin, ["cacheprog", "--check"], { ...env, ...remote.vars }, { capture: true, captureStderr: true });
  let c = null;
  try {
    c = JSON.parse(r.stdout);
  } catch {
    c = null;
  }
  const off = (why) => {
    warning(`go-ci-cache: the remote build cache is off for this job: ${why}. The job goes on${inputs.buildCache === false ? "" : " with the GOCACHE archive"}.`);
    return { on: false, note: "", vars: {}, buildCache: inputs.buildCache === null ? true : inputs.buildCache };
  };
  if (r.status !== 0 || !c?.ok) return off(`the cache program did not start (exit status ${r.status}: ${(r.stderr || "").trim().split("\n").pop()})`);
  if (!c.remote) return off((c.problems || []).join("; ") || `\`${inputs.remote}\` is not usable`);
  for (const p of c.problems || []) warning(`go-ci-cache: ${p}`);
  return { ...remote, url: c.remote, write: c.decision?.write || "", writeWhy: c.decision?.write_why || "" };
}
async function run() {
  let inputs;
  try {
    inputs = readInputs((n) => getInput(n));
  } catch (e) {
    if (e instanceof InputError) return setFailed(e.message);
    throw e;
  }
  exportVariable("GO_CI_CACHE_SAVE_ON_FAILURE", String(inputs.saveOnFailure));
  setOutputs(OFF);
  let bin = inputs.binary ? path2.resolve(process.env.GITHUB_WORKSPACE || process.cwd(), inputs.binary) : "";
  if (!bin) {
    startGroup("go-ci-cache: install");
    try {
      const manifest = readManifest();
      const repo = process.env.GITHUB_ACTION_REPOSITORY || manifest.repository;
      const baseUrl = process.env.GO_CI_CACHE_DOWNLOAD_URL || `https://github.com/${repo}/releases/download/v${manifest.version}`;
      bin = await install({
        actionDir: actionDir(),
        manifest,
        toolCache: process.env.RUNNER_TOOL_CACHE || `${process.env.RUNNER_TEMP || "/tmp"}/tool-cache`,
        baseUrl,
        log: info,
        // A ref without release assets builds from source once per repository; later jobs
        // restore that build from the Actions cache.
        sourceCache: isFeatureAvailable() ? { restore: (paths, key) => restoreCache(paths, key), save: (paths, key) => saveCache(paths, key) } : void 0
      });
    } catch (e) {
      endGroup();
      warning(`go-ci-cache is off for this job: it could not be installed: ${e.message}. The job goes on without caching.`);
      return;
    }
    endGroup();
  }
  if (inputs.binary && !fs2.existsSync(bin)) {
    warning(`go-ci-cache is off for this job: the \`binary\` input names \`${inputs.binary}\` (\`${bin}\`), which does not exist. The job goes on without caching.`);
    return;
  }
  const state = statePath();
  inputs.rollingSuffix = rollingSuffix(inputs, process.env);
  const env = binaryEnv(inputs, process.env, state);
  const mode = (process.env.ACTIONS_CACHE_MODE || "").trim().toLowerCase();
  const modeNote = cacheModeNotice(mode, inputs);
  if (modeNote) notice(`go-ci-cache: ${modeNote}`);
  const readable = !["none", "write-only"].includes(mode);
  const client = toolkitClient(cache_exports);
  const none = { status: "off", matched: "", hit: false };
  const before = rootsBefore(env);
  const switching = (env.GOTOOLCHAIN || "").trim() !== "local";
  const early = switching ? keys(bin, { ...env, GOTOOLCHAIN: "local" }, { quiet: true }) : null;
  let k = early || keys(bin, env);
  if (!k) return;
  const decision = whoWrites(bin, inputs, env);
  let remote = resolveRemote(inputs, { goVersion: k.inputs.go.GOVERSION || "", bin, env, scope: k.remote_manifest });
  if (remote.on) remote = checkRemote(bin, inputs, env, remote);
  inputs.buildCache = remote.buildCache;
  if (remote.note) notice(`go-ci-cache: ${remote.note}`);
  for (const [name, value] of Object.entries(remote.vars)) env[name] = value;
  if (remote.on) {
    const w = remote.write ? `reads it and writes \`${remote.write}\`` : `reads it, writes nothing (${remote.writeWhy})`;
    info(`go-ci-cache: remote build cache ${remote.url}: GOCACHEPROG is set for the job's steps, which ${w}${inputs.buildCache ? "" : "; the GOCACHE archive is off"}`);
  }
  if (!inputs.modulesCache && !inputs.buildCache) info("go-ci-cache: no archive to restore or save (modules-cache is off and the remote serves the builds)");
  const prefetchP = remote.on && !inputs.lookupOnly ? runBinaryAsync(bin, ["cacheprog", "--prefetch-only"], env) : null;
  const counted = (p, root, count) => before && before[root] === p ? before.counts[root] : count(p);
  const counts = {
    modules: inputs.modulesCache ? counted(k.modules.path, "modules", countEntries) : 0,
    build: inputs.buildCache ? counted(k.build.path, "build", countBuildEntries) : 0
  };
  const filled = prefilledWarning({ modules: inputs.modulesCache && k.modules.path, build: inputs.buildCache && k.build.path }, counts);
  if (filled && process.env.RUNNER_ENVIRONMENT === "github-hosted") warning(filled);
  const budgetP = readBudget({ apiUrl: process.env.GITHUB_API_URL, repository: process.env.GITHUB_REPOSITORY, token: inputs.token });
  const lookup = { lookupOnly: inputs.lookupOnly };
  const claimed = { modules: null, build: null };
  let machine = null;
  const claimFor = (name, e) => {
    if (inputs.lookupOnly) return;
    const c = claim(bin, e, name);
    if (!c) return;
    machine = machine || c;
    if (c[name]) claimed[name] = c[name];
  };
  const restoreOne = (name, entry, label = "") => {
    if (!(name === "modules" ? inputs.modulesCache : inputs.buildCache)) return Promise.resolve(none);
    const held = claimed[name];
    const target = restoreTarget(entry, held);
    if (!target) {
      log.info(`${name}: already on this machine (${held.why}); nothing looked up or downloaded`);
      return Promise.resolve(heldResult(name, held));
    }
    if (!readable) return Promise.resolve(none);
    if (target.narrowed) log.info(`${name}: this machine holds an earlier dependency set of this configuration (${held.why}); looking up only an entry of this one`);
    const restored = restoreEntry(client, name, target, log, { ...lookup, label });
    return target.narrowed ? restored.then((r) => narrowedResult(r, held)) : restored;
  };
  const archived = (name) => name === "modules" ? inputs.modulesCache : inputs.buildCache;
  let mod;
  let bld;
  const final = !early || runsInstalledGo(env.GOTOOLCHAIN, early.inputs.go.GOVERSION || "", early.project?.required_go);
  if (final) {
    if (early && earlyStderr) process.stderr.write(earlyStderr);
    exportPaths(k);
    const both = ["modules", "build"].filter(archived);
    if (both.length > 0) claimFor(both.length === 2 ? "both" : both[0], env);
    if (both.length === 2 && machine) Object.assign(claimed, { modules: machine.modules, build: machine.build });
    startGroup("go-ci-cache: restore");
    [mod, bld] = await Promise.all([restoreOne("modules", k.modules, "modules"), restoreOne("build", k.build, "build")]);
    endGroup();
  } else {
    if (archived("modules")) claimFor("modules", { ...env, GOTOOLCHAIN: "local" });
    startGroup("go-ci-cache: restore modules");
    mod = await restoreOne("modules", k.modules);
    endGroup();
    const full = keys(bin, env);
    if (!full) return;
    if (full.modules.key !== k.modules.key) {
      info(`go-ci-cache: the modules key changed with the job's GOTOOLCHAIN (${k.modules.key} → ${full.modules.key}); restoring again`);
      record("restore.modules", mod.timing);
      mod = await restoreOne("modules", full.modules);
    }
    k = full;
    exportPaths(k);
    if (archived("build")) claimFor("build", env);
    startGroup("go-ci-cache: restore build");
    bld = await restoreOne("build", k.build);
    endGroup();
  }
  record("restore.modules", mod.timing);
  record("restore.build", bld.timing);
  bld = judgeBuildHit(bld, k.build, Boolean(inputs.rollingSuffix));
  if (bld.hit && !bld.exact) info(`build: ${bld.matched} has this dependency set and configuration (the newest such entry); this run's own key is ${k.build.key}`);
  info(`go-ci-cache: restore status: modules ${mod.status}, build ${bld.status}`);
  if (prefetchP) {
    const t0 = performance.now();
    const p = await prefetchP;
    timings["restore.remote.prefetch"] = (performance.now() - t0) / 1e3;
    if (p.stderr) process.stderr.write(p.stderr);
    if (p.status !== 0) {
      warning(`go-ci-cache: the remote build cache is off for this job: its prefetch ended with status ${p.status} (the output is above); the job's go commands compile what they need`);
      for (const name of Object.keys(remote.vars)) delete env[name];
      remote = { ...remote, on: false, vars: {} };
    }
  }
  for (const [name, value] of Object.entries(remote.vars)) exportVariable(name, value);
  const budget = await budgetP;
  info(`go-ci-cache: ${budgetLine(budget)}`);
  const caches = inputs.modulesCache && inputs.buildCache ? "both" : inputs.modulesCache ? "modules" : "build";
  const common = ["--caches", caches];
  if (!inputs.lookupOnly) {
    const prep = ["prepare", ...common];
    if (mod.matched) prep.push("--modules-restored-key", mod.matched);
    if (mod.hit) prep.push("--modules-hit");
    if (bld.matched) prep.push("--build-restored-key", bld.matched);
    if (bld.hit) prep.push("--build-hit");
    runBinary(bin, prep, env);
  }
  const hits = { modules: !inputs.modulesCache || mod.hit, build: !inputs.buildCache || bld.hit };
  if (inputs.lookupOnly) {
    info("go-ci-cache: lookup-only: nothing was downloaded, the warm-up and the save are off");
  } else if (shouldWarm(inputs.warm, hits)) {
    const w = ["warm", ...common];
    if (inputs.warmVet) w.push("--vet");
    if (inputs.warmTest) w.push("--test");
    runBinary(bin, w, env);
  } else {
    const why = inputs.warm === "auto" ? "both entries were hits" : "the job compiles what it needs; set `warm: always` in a separate warm job";
    info(`go-ci-cache: warm-up skipped (warm: ${inputs.warm}: ${why})`);
  }
  let coverage = "";
  const rep = runBinary(bin, ["report", "--format", "json", "--state", state, ...inputs.lookupOnly ? [] : timingArgs(timings)], env, { capture: true });
  if (rep.status === 0) {
    try {
      const w = JSON.parse(rep.stdout).warm;
      const c = w?.after || w?.before;
      if (c) coverage = `${c.std_cached + c.third_party_cached}/${c.std_total + c.third_party_total}`;
    } catch {
    }
  }
  setOutputs({
    "cache-hit": String(inputs.modulesCache && inputs.buildCache && mod.hit && bld.hit),
    "modules-hit": String(mod.hit),
    "build-hit": String(bld.hit),
    "modules-status": mod.status,
    "build-status": bld.status,
    "modules-key": k.modules.key,
    "build-key": k.build.key,
    "modules-matched-key": mod.matched,
    "build-matched-key": bld.matched,
    coverage,
    "go-version": k.inputs.go.GOVERSION || "",
    "cache-budget-gb": String(budget.gb),
    persistent: String(Boolean(machine?.persistent))
  });
  saveState(
    "go-ci-cache",
    JSON.stringify({ bin, env: { dir: inputs.workingDirectory }, inputs: { ...inputs, token: "" }, state, keys: { modules: k.modules, build: k.build }, mod, bld, budget, prefilled: Boolean(filled), decision, persistent: Boolean(machine?.persistent) })
  );
}
run().catch((e) => warning(`go-ci-cache is off for this job after an unexpected error: ${e.stack || e.message}`));
