// Getting the go-ci-cache binary: a path given as input; else the release asset for this action's
// version from dist/manifest.json, verified by sha256 and kept in the runner's tool cache; else,
// when the manifest lists no asset for this platform (a branch or commit ref), a cargo build of
// the action's own source.

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

/**
 * Installs and returns the binary's path. `opts`: actionDir (the action's checkout), manifest
 * (parsed dist/manifest.json), toolCache (directory), baseUrl (where assets are served), log.
 */
export async function install(opts) {
  const { actionDir, manifest, toolCache, baseUrl, log = () => {} } = opts;
  const triple = targetTriple(opts.platform, opts.arch);
  const exe = triple.includes('windows') ? '.exe' : '';
  const asset = manifest.assets?.[triple];
  if (asset) {
    const dir = path.join(toolCache, 'go-ci-cache', manifest.version, triple);
    const bin = path.join(dir, `go-ci-cache${exe}`);
    if (fs.existsSync(bin) && sha256(fs.readFileSync(bin)) === asset.sha256) {
      log(`using go-ci-cache ${manifest.version} from the tool cache: ${bin}`);
      return bin;
    }
    const url = `${baseUrl.replace(/\/$/, '')}/${asset.name}`;
    log(`downloading ${url}`);
    let res;
    try {
      res = await fetch(url);
    } catch (e) {
      throw new Error(`cannot download go-ci-cache from ${url}: ${e.cause?.message ?? e.message}`);
    }
    if (res.status === 404) {
      log(`no release asset at ${url}; building from source instead`);
      return buildFromSource(actionDir, log);
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
  log(`the manifest lists no go-ci-cache ${manifest.version} asset for ${triple} (a branch or commit ref); building from source`);
  return buildFromSource(actionDir, log);
}

/**
 * `cargo build --locked` of the action's own source. GO_CI_CACHE_CARGO_PROFILE picks another
 * profile than `release` (development of the action itself).
 */
export function buildFromSource(actionDir, log = () => {}) {
  const profile = process.env.GO_CI_CACHE_CARGO_PROFILE || 'release';
  const manifestPath = path.join(actionDir, 'Cargo.toml');
  if (!fs.existsSync(manifestPath)) throw new Error(`cannot build go-ci-cache from source: no Cargo.toml in ${actionDir}`);
  const args = ['build', '--locked', '--profile', profile, '--manifest-path', manifestPath];
  log(`cargo ${args.join(' ')}`);
  const r = spawnSync('cargo', args, { stdio: ['ignore', 'inherit', 'inherit'], env: process.env });
  if (r.error) throw new Error(`cannot build go-ci-cache from source: cargo: ${r.error.message} (install Rust, or use a released version of the action)`);
  if (r.status !== 0) throw new Error(`cannot build go-ci-cache from source: cargo exited with ${r.status}`);
  const targetDir = process.env.CARGO_TARGET_DIR || path.join(actionDir, 'target');
  const dirName = profile === 'dev' ? 'debug' : profile;
  const bin = path.join(targetDir, dirName, `go-ci-cache${os.platform() === 'win32' ? '.exe' : ''}`);
  if (!fs.existsSync(bin)) throw new Error(`cargo build succeeded but ${bin} is missing`);
  return bin;
}
