import { createRequire as __gcc_createRequire } from 'node:module'; const require = __gcc_createRequire(import.meta.url);
import {
  InputError,
  actionDir,
  binaryEnv,
  endGroup,
  exportVariable,
  getInput,
  info,
  readInputs,
  readManifest,
  restoreCache,
  runBinary,
  saveState,
  setFailed,
  setOutput,
  shouldWarm,
  startGroup,
  statePath,
  warning
} from "./shared-MIO3AMXA.mjs";

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
async function fetchWithRetry(url, { attempts = 4, fetchImpl = fetch, delayMs = 1e3, log = () => {
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
        log(`download of ${url} answered HTTP ${res.status}; retrying in ${Math.round(wait / 1e3)} s (${i}/${attempts - 1})`);
        await sleep(wait);
      }
    } catch (e) {
      last = new Error(e.cause?.message ?? e.message);
      if (i < attempts) {
        log(`download of ${url} failed (${last.message}); retrying in ${Math.round(delayMs * i / 1e3)} s (${i}/${attempts - 1})`);
        await sleep(delayMs * i);
      }
    }
  }
  throw new Error(`cannot download go-ci-cache from ${url} after ${attempts} attempts: ${last.message}`);
}
async function install(opts) {
  const { actionDir: actionDir2, manifest, toolCache, baseUrl, log = () => {
  } } = opts;
  const triple = targetTriple(opts.platform, opts.arch);
  const exe = triple.includes("windows") ? ".exe" : "";
  const asset = manifest.assets?.[triple];
  if (!asset) {
    log(`the manifest lists no go-ci-cache ${manifest.version} asset for ${triple} (a branch or commit ref); building from source once, then caching the build`);
    return cachedSourceBuild({ actionDir: actionDir2, toolCache, triple, exe, cache: opts.sourceCache, log });
  }
  const dir = path.join(toolCache, "go-ci-cache", manifest.version, triple);
  const bin = path.join(dir, `go-ci-cache${exe}`);
  if (fs.existsSync(bin) && sha256(fs.readFileSync(bin)) === asset.sha256) {
    log(`using go-ci-cache ${manifest.version} from the tool cache: ${bin}`);
    return bin;
  }
  const url = `${baseUrl.replace(/\/$/, "")}/${asset.name}`;
  log(`downloading ${url}`);
  const res = await fetchWithRetry(url, { ...opts, log });
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
async function cachedSourceBuild({ actionDir: actionDir2, toolCache, triple, exe, cache, log }) {
  if (!fs.existsSync(path.join(actionDir2, "Cargo.toml"))) throw new Error(`cannot build go-ci-cache from source: no Cargo.toml in ${actionDir2}`);
  const digest = sourceDigest(actionDir2);
  const dir = path.join(toolCache, "go-ci-cache", `source-${digest}`, triple);
  const bin = path.join(dir, `go-ci-cache${exe}`);
  const key = `go-ci-cache-binary-${triple}-${digest}`;
  if (fs.existsSync(bin)) {
    log(`using the source build ${bin}`);
    return bin;
  }
  if (cache) {
    try {
      if (await cache.restore([dir], key)) {
        if (fs.existsSync(bin)) {
          log(`restored the source build from the Actions cache (${key})`);
          return bin;
        }
      }
    } catch (e) {
      log(`the cached source build could not be restored (${e.message}); building`);
    }
  }
  const built = buildFromSource(actionDir2, log);
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(built, bin);
  fs.chmodSync(bin, 493);
  if (cache) {
    try {
      await cache.save([dir], key);
      log(`saved the source build to the Actions cache as ${key}`);
    } catch (e) {
      log(`the source build was not cached (${e.message})`);
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
function buildFromSource(actionDir2, log = () => {
}) {
  const profile = process.env.GO_CI_CACHE_CARGO_PROFILE || "release";
  const manifestPath = path.join(actionDir2, "Cargo.toml");
  if (!fs.existsSync(manifestPath)) throw new Error(`cannot build go-ci-cache from source: no Cargo.toml in ${actionDir2}`);
  const args = ["build", "--locked", "--profile", profile, "--manifest-path", manifestPath];
  log(`cargo ${args.join(" ")}`);
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
async function restore(name, entry) {
  try {
    const matched = await restoreCache([entry.path], entry.key, entry.restore_keys);
    if (!matched) {
      info(`${name}: no cache for ${entry.key} or its restore keys`);
      return { matched: "", hit: false };
    }
    const hit = matched.toLowerCase() === entry.key.toLowerCase();
    info(`${name}: restored ${hit ? "exact key" : "restore key"} ${matched}`);
    return { matched, hit };
  } catch (e) {
    warning(`${name} cache could not be restored, going on without it: ${e.message}`);
    return { matched: "", hit: false };
  }
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
  let bin = inputs.binary;
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
        log: info
      });
    } catch (e) {
      endGroup();
      return setFailed(`go-ci-cache could not be installed: ${e.message}`);
    }
    endGroup();
  }
  const state = statePath();
  const env = binaryEnv(inputs, process.env, state);
  const keysRun = runBinary(bin, ["keys", "--format", "json"], env, { capture: true });
  if (keysRun.status !== 0) return setFailed(`go-ci-cache keys failed (exit status ${keysRun.status}); see the error above`);
  const keys = JSON.parse(keysRun.stdout);
  startGroup("go-ci-cache: cache configuration");
  for (const [name, e] of [["modules", keys.modules], ["build", keys.build]]) {
    info(`${name} (${e.path})
  key:          ${e.key}
  restore keys: ${e.restore_keys.join("\n                ")}`);
    for (const l of e.layers) {
      if (l.inputs.length > 1) info(`  ${l.name} ${l.value} <- ${l.inputs.map((i) => `${i.name}=${i.value}`).join(", ")}`);
    }
  }
  endGroup();
  exportVariable("GOMODCACHE", keys.modules.path);
  exportVariable("GOCACHE", keys.build.path);
  startGroup("go-ci-cache: restore");
  const none = { matched: "", hit: false };
  const mod = inputs.modulesCache ? await restore("modules", keys.modules) : none;
  const bld = inputs.buildCache ? await restore("build", keys.build) : none;
  endGroup();
  const caches = inputs.modulesCache && inputs.buildCache ? "both" : inputs.modulesCache ? "modules" : "build";
  const common = ["--caches", caches];
  const prep = ["prepare", ...common];
  if (mod.matched) prep.push("--modules-restored-key", mod.matched);
  if (mod.hit) prep.push("--modules-hit");
  if (bld.matched) prep.push("--build-restored-key", bld.matched);
  if (bld.hit) prep.push("--build-hit");
  runBinary(bin, prep, env);
  const hits = { modules: !inputs.modulesCache || mod.hit, build: !inputs.buildCache || bld.hit };
  if (shouldWarm(inputs.warm, hits)) {
    const w = ["warm", ...common];
    if (inputs.warmVet) w.push("--vet");
    if (inputs.warmTest) w.push("--test");
    runBinary(bin, w, env);
  } else {
    info(`go-ci-cache: warm-up skipped (warm: ${inputs.warm}${inputs.warm === "auto" ? ", both entries were exact hits" : ""})`);
  }
  let coverage = "";
  const rep = runBinary(bin, ["report", "--format", "json", "--state", state], env, { capture: true });
  if (rep.status === 0) {
    const w = JSON.parse(rep.stdout).warm;
    const c = w?.after || w?.before;
    if (c) coverage = `${c.std_cached + c.third_party_cached}/${c.std_total + c.third_party_total}`;
  }
  setOutput("cache-hit", String(inputs.modulesCache && inputs.buildCache && mod.hit && bld.hit));
  setOutput("modules-hit", String(mod.hit));
  setOutput("build-hit", String(bld.hit));
  setOutput("modules-key", keys.modules.key);
  setOutput("build-key", keys.build.key);
  setOutput("modules-matched-key", mod.matched);
  setOutput("build-matched-key", bld.matched);
  setOutput("coverage", coverage);
  setOutput("go-version", keys.inputs.go.GOVERSION || "");
  saveState("go-ci-cache", JSON.stringify({ bin, env: { dir: inputs.workingDirectory }, inputs, state, keys: { modules: keys.modules, build: keys.build }, mod, bld }));
}
run().catch((e) => setFailed(`go-ci-cache: ${e.stack || e.message}`));
