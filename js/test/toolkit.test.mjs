// The real @actions/cache against a loopback server speaking the cache service's v1 protocol
// (the one act and GHES use): a 429 on reserve, and an archive that does not unpack. Checks that
// the toolkit's own messages reach our classification as they really are.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';

import * as cache from '@actions/cache';

import { restoreEntry, saveEntry, toolkitClient } from '../src/cacheops.mjs';
import { tempDir } from '../testlib/tempdir.mjs';


function recorder() {
  const r = { info: [], notice: [], warning: [] };
  return { log: { info: (m) => r.info.push(m), notice: (m) => r.notice.push(m), warning: (m) => r.warning.push(m) }, r };
}

async function withServer(handler, fn) {
  const hits = [];
  const server = http.createServer((req, res) => {
    hits.push(`${req.method} ${req.url.split('?')[0]}`);
    handler(req, res, `http://127.0.0.1:${server.address().port}`);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const tmp = tempDir('gcc-tk-');
  const saved = { ...process.env };
  Object.assign(process.env, {
    ACTIONS_CACHE_URL: `http://127.0.0.1:${server.address().port}/`,
    ACTIONS_RUNTIME_TOKEN: 'test-token',
    RUNNER_TEMP: tmp,
    GITHUB_WORKSPACE: tmp,
  });
  delete process.env.ACTIONS_CACHE_SERVICE_V2;
  delete process.env.ACTIONS_RESULTS_URL;
  delete process.env.ACTIONS_CACHE_MODE;
  try {
    await fn(tmp, hits);
  } finally {
    server.close();
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

const json = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

test('real toolkit, v1: a 429 on reserve is one notice and one attempt', async () => {
  await withServer(
    (req, res) => {
      if (req.method === 'GET' && req.url.startsWith('/_apis/artifactcache/cache')) {
        res.writeHead(204);
        res.end();
      } else if (req.method === 'POST' && req.url === '/_apis/artifactcache/caches') {
        res.setHeader('retry-after', '30');
        json(res, 429, { message: 'Too Many Requests' });
      } else {
        json(res, 500, { message: `unexpected ${req.method} ${req.url}` });
      }
    },
    async (tmp, hits) => {
      const dir = path.join(tmp, 'mod');
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'f'), 'x');
      const { log, r } = recorder();
      const res = await saveEntry(toolkitClient(cache), 'modules', { path: dir, key: 'k-mod-1', restore_keys: [] }, log);
      assert.equal(res.status, 'rate-limited', JSON.stringify(r));
      assert.equal(hits.filter((h) => h === 'POST /_apis/artifactcache/caches').length, 1, `no retry: ${hits}`);
      assert.equal(r.warning.length, 0, `${r.warning}`);
      assert.equal(r.notice.length, 1);
    },
  );
});

test('real toolkit, v1: an archive that does not unpack is a failed restore, not a miss', async () => {
  await withServer(
    (req, res, base) => {
      if (req.method === 'GET' && req.url.startsWith('/_apis/artifactcache/cache')) {
        json(res, 200, { cacheKey: 'k-mod-1', archiveLocation: `${base}/blob` });
      } else if (req.url === '/blob') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '16' });
        res.end('not an archive!!');
      } else {
        json(res, 500, {});
      }
    },
    async (tmp) => {
      const { log, r } = recorder();
      const origErr = process.stderr.write;
      process.stderr.write = () => true; // tar's complaint about the bytes
      let res;
      try {
        res = await restoreEntry(toolkitClient(cache), 'modules', { path: path.join(tmp, 'mod'), key: 'k-mod-1', restore_keys: ['k-mod-'] }, log);
      } finally {
        process.stderr.write = origErr;
      }
      assert.equal(res.status, 'failed', JSON.stringify(r));
      assert.equal(r.info.some((l) => /no cache/.test(l)), false);
      assert.equal(r.warning.length, 1);
      assert.match(r.warning[0], /modules: restore failed, going on without it/);
    },
  );
});
