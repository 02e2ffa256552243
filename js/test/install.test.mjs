// The installer against a loopback HTTP server serving locally built assets.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { buildEnv, ChecksumError, install, MissingAssetError, sha256, sourceDigest, targetTriple } from '../src/install.mjs';
import { tempDir } from '../testlib/tempdir.mjs';


const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function serve(files) {
  return new Promise((resolve) => {
    const server = http.createServer((req, res) => {
      const name = decodeURIComponent(req.url.split('/').pop());
      if (files[name]) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(files[name]);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

const asset = () => {
  // Any locally built binary stands in for a release asset; the checksum is what matters.
  const p = process.env.GO_CI_CACHE_TEST_BINARY || path.join(repo, 'target', 'debug', 'go-ci-cache');
  return fs.readFileSync(p);
};

test('triples', () => {
  assert.equal(targetTriple('linux', 'x64'), 'x86_64-unknown-linux-musl');
  assert.equal(targetTriple('linux', 'arm64'), 'aarch64-unknown-linux-musl');
  assert.equal(targetTriple('darwin', 'arm64'), 'aarch64-apple-darwin');
  assert.equal(targetTriple('darwin', 'x64'), 'x86_64-apple-darwin');
  assert.equal(targetTriple('win32', 'x64'), 'x86_64-pc-windows-msvc');
  assert.equal(targetTriple('win32', 'arm64'), 'aarch64-pc-windows-msvc');
  assert.throws(() => targetTriple('aix', 'ppc64'), /no build for aix\/ppc64/);
});

async function withServer(files, fn) {
  const server = await serve(files);
  try {
    await fn(`http://127.0.0.1:${server.address().port}/releases/download/v9.9.9`);
  } finally {
    server.close();
  }
}

const triple = targetTriple();
const name = `go-ci-cache-9.9.9-${triple}`;

test('a good checksum installs into the tool cache, and a second install reuses it', async () => {
  const bytes = asset();
  const toolCache = tempDir('gcc-tc-');
  await withServer({ [name]: bytes }, async (baseUrl) => {
    const manifest = { version: '9.9.9', assets: { [triple]: { name, sha256: sha256(bytes) } } };
    const bin = await install({ actionDir: repo, manifest, toolCache, baseUrl });
    assert.equal(bin, path.join(toolCache, 'go-ci-cache', '9.9.9', triple, 'go-ci-cache'));
    assert.equal(sha256(fs.readFileSync(bin)), sha256(bytes));
    assert.ok(fs.statSync(bin).mode & 0o100, 'executable');
    const logs = [];
    await install({ actionDir: repo, manifest, toolCache, baseUrl: 'http://127.0.0.1:9/unused', log: (l) => logs.push(l) });
    assert.match(logs.join('\n'), /from the tool cache/);
  });
});

test('a wrong checksum is refused with a clear error and nothing is installed', async () => {
  const toolCache = tempDir('gcc-tc-');
  await withServer({ [name]: Buffer.from('not the binary') }, async (baseUrl) => {
    const manifest = { version: '9.9.9', assets: { [triple]: { name, sha256: 'a'.repeat(64) } } };
    await assert.rejects(install({ actionDir: repo, manifest, toolCache, baseUrl }), (e) => e instanceof ChecksumError && /checksum mismatch for go-ci-cache-9\.9\.9-.*expected sha256 a{64}, got [0-9a-f]{64}; refusing/.test(e.message));
    assert.equal(fs.existsSync(path.join(toolCache, 'go-ci-cache', '9.9.9', triple, 'go-ci-cache')), false);
  });
});

test('a 404 for an asset the manifest names is an error that says so, not a source build', async () => {
  const toolCache = tempDir('gcc-tc-');
  await withServer({}, async (baseUrl) => {
    const manifest = { version: '9.9.9', assets: { [triple]: { name, sha256: 'b'.repeat(64) } } };
    await assert.rejects(install({ actionDir: repo, manifest, toolCache, baseUrl }), (e) => e instanceof MissingAssetError && /release asset go-ci-cache-9\.9\.9-.* that dist\/manifest\.json names .* is missing: .* HTTP 404/.test(e.message));
  });
});

test('downloads are retried on 5xx and network errors, and a 4xx is not retried', async () => {
  const bytes = Buffer.from('binary');
  const manifest = { version: '9.9.9', assets: { [triple]: { name, sha256: sha256(bytes) } } };
  const answers = [new Error('ECONNRESET'), { status: 503 }, { status: 200 }];
  const seen = [];
  const fetchImpl = async (url) => {
    seen.push(url);
    const a = answers.shift();
    if (a instanceof Error) throw new TypeError('fetch failed', { cause: a });
    return { status: a.status, ok: a.status === 200, headers: new Headers(), arrayBuffer: async () => bytes };
  };
  const toolCache = tempDir('gcc-tc-');
  const logs = [];
  const bin = await install({ actionDir: repo, manifest, toolCache, baseUrl: 'http://x/y', fetchImpl, delayMs: 1, log: (l) => logs.push(l) });
  assert.equal(seen.length, 3);
  assert.equal(fs.readFileSync(bin, 'utf8'), 'binary');
  assert.match(logs.join('\n'), /failed \(ECONNRESET\); retrying/);
  assert.match(logs.join('\n'), /answered HTTP 503; retrying/);

  let calls = 0;
  const forbidden = async () => {
    calls++;
    return { status: 403, ok: false, headers: new Headers() };
  };
  await assert.rejects(install({ actionDir: repo, manifest, toolCache: tempDir('gcc-tc-'), baseUrl: 'http://x/y', fetchImpl: forbidden, delayMs: 1 }), /HTTP 403/);
  assert.equal(calls, 1);
});

/**
 * An action checkout whose source is a crate without dependencies, built with the same
 * `cargo build --locked` as the real one: what is tested here is the installer's flow, and the
 * real source's build is CI's release build.
 */
function fakeActionSource() {
  const dir = tempDir('gcc-src-');
  fs.mkdirSync(path.join(dir, 'src'));
  fs.writeFileSync(path.join(dir, 'Cargo.toml'), '[package]\nname = "go-ci-cache"\nversion = "0.1.0"\nedition = "2021"\n');
  fs.writeFileSync(path.join(dir, 'Cargo.lock'), '# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\nversion = 4\n\n[[package]]\nname = "go-ci-cache"\nversion = "0.1.0"\n');
  fs.writeFileSync(path.join(dir, 'src', 'main.rs'), 'fn main() {\n    println!("go-ci-cache built from source");\n}\n');
  return dir;
}

test('a ref without assets builds from source once and keeps the build in the Actions cache', async () => {
  process.env.GO_CI_CACHE_CARGO_PROFILE = 'dev';
  // The build goes to the checkout's own target/, as on a runner.
  delete process.env.CARGO_TARGET_DIR;
  const source = fakeActionSource();
  const store = new Map();
  const saved = [];
  const sourceCache = {
    restore: async (paths, key) => {
      const files = store.get(key);
      if (!files) return undefined;
      // Like @actions/cache: the entry lands where the same path was saved from.
      fs.mkdirSync(paths[0], { recursive: true });
      for (const [f, b] of files) fs.writeFileSync(path.join(paths[0], f), b, { mode: 0o755 });
      return key;
    },
    save: async (paths, key) => {
      saved.push(key);
      const files = [];
      for (const f of fs.readdirSync(paths[0])) files.push([f, fs.readFileSync(path.join(paths[0], f))]);
      store.set(key, files);
    },
  };
  const manifest = { version: '0.1.0-dev', assets: {} };
  const logs = [];
  const log = (l) => logs.push(l);
  const toolCache = tempDir('gcc-tc-');
  const first = await install({ actionDir: source, manifest, toolCache, baseUrl: 'http://unused', sourceCache, log });
  assert.match(logs.join('\n'), /building from source once/);
  assert.deepEqual(saved, [`go-ci-cache-binary-${triple}-${sourceDigest(source)}`]);
  assert.match(first, new RegExp(`source-${sourceDigest(source)}`));
  const built = fs.readFileSync(first);
  assert.equal(execFileSync(first, { encoding: 'utf8' }), 'go-ci-cache built from source\n');
  // A fresh runner (the same tool cache path, empty): restored from the Actions cache, no cargo.
  fs.rmSync(toolCache, { recursive: true });
  logs.length = 0;
  const second = await install({ actionDir: source, manifest, toolCache, baseUrl: 'http://unused', sourceCache, log });
  assert.match(logs.join('\n'), /restored the source build from the Actions cache/);
  assert.doesNotMatch(logs.join('\n'), /^cargo /m);
  assert.equal(second, first);
  assert.equal(sha256(fs.readFileSync(second)), sha256(built));
  assert.equal(saved.length, 1);
});

test('a source build runs without the runner tokens', () => {
  const env = buildEnv({ PATH: '/bin', HOME: '/h', ACTIONS_RUNTIME_TOKEN: 'a', ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'b', ACTIONS_ID_TOKEN_REQUEST_URL: 'u', GITHUB_TOKEN: 'c', INPUT_TOKEN: 'd', ACTIONS_CACHE_URL: 'e', CARGO_TARGET_DIR: '/t' });
  assert.deepEqual(env, { PATH: '/bin', HOME: '/h', CARGO_TARGET_DIR: '/t' });
});

test('an unreachable server fails with the URL in the message', async () => {
  const manifest = { version: '9.9.9', assets: { [triple]: { name, sha256: 'c'.repeat(64) } } };
  await assert.rejects(install({ actionDir: repo, manifest, toolCache: os.tmpdir(), baseUrl: 'http://127.0.0.1:9/x', delayMs: 1 }), /cannot download go-ci-cache from http:\/\/127\.0\.0\.1:9\/x\/.* after 4 attempts/);
});
