// The background runner the main step uses for the remote cache's prefetch, on a real process.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { runBinaryAsync } from '../src/common.mjs';

const node = process.execPath;

test('runBinaryAsync holds back output and gives the exit status', async () => {
  const r = await runBinaryAsync(node, ['-e', 'process.stdout.write("out"); process.stderr.write("err"); process.exit(3)'], process.env);
  assert.deepEqual(r, { status: 3, stdout: 'out', stderr: 'err' });
});

test('runBinaryAsync stops a process that outlives its limit', async () => {
  const t0 = performance.now();
  const r = await runBinaryAsync(node, ['-e', 'setTimeout(() => {}, 60000)'], process.env, { timeoutMs: 300 });
  assert.equal(r.status, null);
  assert.match(r.stderr, /did not end within 0s and was stopped/);
  assert.ok(performance.now() - t0 < 30000);
});

test('runBinaryAsync resolves when the binary cannot start', async () => {
  const r = await runBinaryAsync('/nonexistent/go-ci-cache', ['cacheprog'], process.env);
  assert.equal(r.status, null);
  assert.match(r.stderr, /cannot run \/nonexistent\/go-ci-cache/);
});
