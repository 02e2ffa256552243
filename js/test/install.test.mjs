// The installer against a loopback HTTP server serving locally built assets.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { ChecksumError, install, sha256, targetTriple } from '../src/install.mjs';

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
  const toolCache = fs.mkdtempSync(path.join(os.tmpdir(), 'gcc-tc-'));
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
  const toolCache = fs.mkdtempSync(path.join(os.tmpdir(), 'gcc-tc-'));
  await withServer({ [name]: Buffer.from('not the binary') }, async (baseUrl) => {
    const manifest = { version: '9.9.9', assets: { [triple]: { name, sha256: 'a'.repeat(64) } } };
    await assert.rejects(install({ actionDir: repo, manifest, toolCache, baseUrl }), (e) => e instanceof ChecksumError && /checksum mismatch for go-ci-cache-9\.9\.9-.*expected sha256 a{64}, got [0-9a-f]{64}; refusing/.test(e.message));
    assert.equal(fs.existsSync(path.join(toolCache, 'go-ci-cache', '9.9.9', triple, 'go-ci-cache')), false);
  });
});

test('a missing asset falls back to a source build', async () => {
  // The dev profile reuses the test build in target/, so this stays fast.
  process.env.GO_CI_CACHE_CARGO_PROFILE = 'dev';
  const toolCache = fs.mkdtempSync(path.join(os.tmpdir(), 'gcc-tc-'));
  const logs = [];
  await withServer({}, async (baseUrl) => {
    const manifest = { version: '9.9.9', assets: { [triple]: { name, sha256: 'b'.repeat(64) } } };
    const bin = await install({ actionDir: repo, manifest, toolCache, baseUrl, log: (l) => logs.push(l) });
    assert.match(logs.join('\n'), /no release asset at .*; building from source/);
    assert.match(bin, /target[/\\]debug[/\\]go-ci-cache$/);
    // An unreleased manifest (a branch ref) builds from source too.
    const bin2 = await install({ actionDir: repo, manifest: { version: '0.1.0-dev', assets: {} }, toolCache, baseUrl });
    assert.equal(bin2, bin);
  });
});

test('an unreachable server fails with the URL in the message', async () => {
  const manifest = { version: '9.9.9', assets: { [triple]: { name, sha256: 'c'.repeat(64) } } };
  await assert.rejects(install({ actionDir: repo, manifest, toolCache: os.tmpdir(), baseUrl: 'http://127.0.0.1:9/x' }), /cannot download go-ci-cache from http:\/\/127\.0\.0\.1:9\/x\//);
});
