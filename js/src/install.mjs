// Getting the go-ci-cache binary: a path given as input; else the release asset for this action's
// version from dist/manifest.json, verified by sha256 and kept in the runner's tool cache; else,
// when the manifest lists no asset for this platform (a branch or commit ref), a cargo build of
// the action's own source, built once per repository and kept in the Actions cache under a key
// made of the target and the source's digest, so later jobs restore it instead of building.

import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Rust target triple for a Node platform/arch. */
export function targetTriple(platform = process.platform, arch = process.arch) {
  const table = {
    'linux-x64': 'x86_64-unknown-linux-musl',
    'linux-arm64': 'aarch64-unknown-linux-musl',
    'darwin-arm64': 'aarch64-apple-darwin',
    'darwin-x64': 'x86_64-apple-darwin',
    'win32-x64': 'x86_64-pc-windows-msvc',
    'win32-arm64': 'aarch64-pc-windows-msvc',
  };
  const t = table[`${platform}-${arch}`];
  if (!t) throw new Error(`go-ci-cache has no build for ${platform}/${arch}; set the \`binary\` input to a go-ci-cache you built`);
  return t;
}

/** Thrown when a download does not match the manifest's checksum: never fall back silently. */
export class ChecksumError extends Error {}

export function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Thrown when the manifest names an asset the release does not have: never build silently. */
export class MissingAssetError extends Error {}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * GET with retries: network errors, 5xx and 429 are retried (after Retry-After when the server
 * gives one, else 1 s, 2 s, …); any other status is returned as it is.
 */
export async function fetchWithRetry(url, { attempts = 4, fetchImpl = fetch, delayMs = 1000, log = () => {} } = {}) {
  let last;
  for (let i = 1; i <= attempts; i++) {
    try {
      const res = await fetchImpl(url);
      if (res.status < 500 && res.status !== 429) return res;
      last = new Error(`HTTP ${res.status}`);
      const after = Number(res.headers?.get?.('retry-after'));
      if (i < attempts) {
        const wait = Number.isFinite(after) && after > 0 ? after * 1000 : delayMs * i;
        log(`download of ${url} answered HTTP ${res.status}; retrying in ${Math.round(wait / 1000)} s (${i}/${attempts - 1})`);
        await sleep(wait);
      }
    } catch (e) {
      last = new Error(e.cause?.message ?? e.message);
      if (i < attempts) {
        log(`download of ${url} failed (${last.message}); retrying in ${Math.round((delayMs * i) / 1000)} s (${i}/${attempts - 1})`);
        await sleep(delayMs * i);
      }
    }
  }
  throw new Error(`cannot download go-ci-cache from ${url} after ${attempts} attempts: ${last.message}`);
}

/**
 * Installs and returns the binary's path. `opts`: actionDir (the action's checkout), manifest
 * (parsed dist/manifest.json), toolCache (directory), baseUrl (where assets are served), log,
 * and for source builds `sourceCache` ({ restore(paths, key), save(paths, key) }, e.g.
 * @actions/cache; optional). Tests may pass fetchImpl, attempts and delayMs.
 */
export async function install(opts) {
  const { actionDir, manifest, toolCache, baseUrl, log = () => {} } = opts;
  const triple = targetTriple(opts.platform, opts.arch);
  const exe = triple.includes('windows') ? '.exe' : '';
  const asset = manifest.assets?.[triple];
  if (!asset) {
    log(`the manifest lists no go-ci-cache ${manifest.version} asset for ${triple} (a branch or commit ref); building from source once, then caching the build`);
    return cachedSourceBuild({ actionDir, toolCache, triple, exe, cache: opts.sourceCache, log });
  }
  const dir = path.join(toolCache, 'go-ci-cache', manifest.version, triple);
  const bin = path.join(dir, `go-ci-cache${exe}`);
  if (fs.existsSync(bin) && sha256(fs.readFileSync(bin)) === asset.sha256) {
    log(`using go-ci-cache ${manifest.version} from the tool cache: ${bin}`);
    return bin;
  }
  const url = `${baseUrl.replace(/\/$/, '')}/${asset.name}`;
  log(`downloading ${url}`);
  const res = await fetchWithRetry(url, { ...opts, log });
  if (res.status === 404) {
    throw new MissingAssetError(
      `the release asset ${asset.name} that dist/manifest.json names for go-ci-cache ${manifest.version} is missing: ${url} answered HTTP 404 (an incomplete or deleted release)`,
    );
  }
  if (!res.ok) throw new Error(`cannot download go-ci-cache from ${url}: HTTP ${res.status}`);
  const bytes = Buffer.from(await res.arrayBuffer());
  const got = sha256(bytes);
  if (got !== asset.sha256) {
    throw new ChecksumError(
      `checksum mismatch for ${asset.name}: expected sha256 ${asset.sha256}, got ${got}; refusing to run it (a tampered or corrupt download)`,
    );
  }
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, bytes, { mode: 0o755 });
  fs.renameSync(tmp, bin);
  return bin;
}

/**
 * Digest of what a source build compiles (Cargo.toml, Cargo.lock, src/): the action's commit as
 * far as the binary is concerned, known even where the checkout names only a branch.
 */
export function sourceDigest(actionDir) {
  const files = ['Cargo.toml', 'Cargo.lock'];
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(actionDir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) files.push(r);
    }
  };
  walk('src');
  const h = createHash('sha256');
  for (const f of files) {
    h.update(`${f}\0`);
    h.update(fs.readFileSync(path.join(actionDir, f)));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 32);
}

/** A source build kept in the Actions cache: restore it, else build and save it at once. */
async function cachedSourceBuild({ actionDir, toolCache, triple, exe, cache, log }) {
  if (!fs.existsSync(path.join(actionDir, 'Cargo.toml'))) throw new Error(`cannot build go-ci-cache from source: no Cargo.toml in ${actionDir}`);
  const digest = sourceDigest(actionDir);
  const dir = path.join(toolCache, 'go-ci-cache', `source-${digest}`, triple);
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
  const built = buildFromSource(actionDir, log);
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(built, bin);
  fs.chmodSync(bin, 0o755);
  if (cache) {
    try {
      await cache.save([dir], key);
      log(`saved the source build to the Actions cache as ${key}`);
    } catch (e) {
      // Another job saving the same key first is the common case; the build is still used.
      log(`the source build was not cached (${e.message})`);
    }
  }
  return bin;
}

/**
 * The environment of a source build: the runner's tokens removed, since the build runs the
 * build scripts of every dependency.
 */
export function buildEnv(env = process.env) {
  const out = {};
  for (const [k, v] of Object.entries(env)) {
    if (/TOKEN/i.test(k) || /^ACTIONS_(ID_TOKEN_REQUEST_URL|RUNTIME_URL|RESULTS_URL|CACHE_URL)$/.test(k)) continue;
    out[k] = v;
  }
  return out;
}

/**
 * `cargo build --locked` of the action's own source, with the runner's tokens removed from its
 * environment. GO_CI_CACHE_CARGO_PROFILE picks another profile than `release` (development of
 * the action itself).
 */
export function buildFromSource(actionDir, log = () => {}) {
  const profile = process.env.GO_CI_CACHE_CARGO_PROFILE || 'release';
  const manifestPath = path.join(actionDir, 'Cargo.toml');
  if (!fs.existsSync(manifestPath)) throw new Error(`cannot build go-ci-cache from source: no Cargo.toml in ${actionDir}`);
  const args = ['build', '--locked', '--profile', profile, '--manifest-path', manifestPath];
  log(`cargo ${args.join(' ')}`);
  const r = spawnSync('cargo', args, { stdio: ['ignore', 'inherit', 'inherit'], env: buildEnv() });
  if (r.error) throw new Error(`cannot build go-ci-cache from source: cargo: ${r.error.message} (install Rust, or use a released version of the action)`);
  if (r.status !== 0) throw new Error(`cannot build go-ci-cache from source: cargo exited with ${r.status}`);
  const targetDir = process.env.CARGO_TARGET_DIR || path.join(actionDir, 'target');
  const dirName = profile === 'dev' ? 'debug' : profile;
  const bin = path.join(targetDir, dirName, `go-ci-cache${os.platform() === 'win32' ? '.exe' : ''}`);
  if (!fs.existsSync(bin)) throw new Error(`cargo build succeeded but ${bin} is missing`);
  return bin;
}
