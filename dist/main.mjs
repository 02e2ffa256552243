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
async function install(opts) {
  const { actionDir: actionDir2, manifest, toolCache, baseUrl, log = () => {
  } } = opts;
  const triple = targetTriple(opts.platform, opts.arch);
  const exe = triple.includes("windows") ? ".exe" : "";
  const asset = manifest.assets?.[triple];
  if (asset) {
    const dir = path.join(toolCache, "go-ci-cache", manifest.version, triple);
    const bin = path.join(dir, `go-ci-cache${exe}`);
    if (fs.existsSync(bin) && sha256(fs.readFileSync(bin)) === asset.sha256) {
      log(`using go-ci-cache ${manifest.version} from the tool cache: ${bin}`);
      return bin;
    }
    const url = `${baseUrl.replace(/\/$/, "")}/${asset.name}`;
    log(`downloading ${url}`);
    let res;
    try {
      res = await fetch(url);
    } catch (e) {
      throw new Error(`cannot download go-ci-cache from ${url}: ${e.cause?.message ?? e.message}`);
    }
    if (res.status === 404) {
      log(`no release asset at ${url}; building from source instead`);
      return buildFromSource(actionDir2, log);
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
  log(`the manifest lists no go-ci-cache ${manifest.version} asset for ${triple} (a branch or commit ref); building from source`);
  return buildFromSource(actionDir2, log);
}
function buildFromSource(actionDir2, log = () => {
}) {
  const profile = process.env.GO_CI_CACHE_CARGO_PROFILE || "release";
  const manifestPath = path.join(actionDir2, "Cargo.toml");
  if (!fs.existsSync(manifestPath)) throw new Error(`cannot build go-ci-cache from source: no Cargo.toml in ${actionDir2}`);
  const args = ["build", "--locked", "--profile", profile, "--manifest-path", manifestPath];
  log(`cargo ${args.join(" ")}`);
  const r = spawnSync("cargo", args, { stdio: ["ignore", "inherit", "inherit"], env: process.env });
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
