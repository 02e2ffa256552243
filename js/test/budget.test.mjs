// The cache budget against a loopback HTTP server answering as the REST API does.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';

import { budgetLine, DEFAULT_BUDGET_GB, readBudget } from '../src/budget.mjs';

async function withApi(handler, fn) {
  const seen = [];
  const server = http.createServer((req, res) => {
    seen.push({ url: req.url, auth: req.headers.authorization, version: req.headers['x-github-api-version'] });
    handler(req, res);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    await fn(`http://127.0.0.1:${server.address().port}`, seen);
  } finally {
    server.close();
  }
}

const json = (status, body) => (_req, res) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};

test('the repository limit is read and reported', async () => {
  await withApi(json(200, { max_cache_size_gb: 25 }), async (apiUrl, seen) => {
    const b = await readBudget({ apiUrl, repository: 'o/r', token: 't0k' });
    assert.deepEqual(b, { gb: 25, source: 'repository', detail: "the repository's max_cache_size_gb" });
    assert.equal(seen[0].url, '/repos/o/r/actions/cache/storage-limit');
    assert.equal(seen[0].auth, 'Bearer t0k');
    assert.equal(seen[0].version, '2022-11-28');
    assert.equal(budgetLine(b), "cache budget: 25 GB (the repository's max_cache_size_gb)");
  });
});

test('without permission, the default and the reason', async () => {
  await withApi(json(403, { message: 'Resource not accessible by integration' }), async (apiUrl) => {
    const b = await readBudget({ apiUrl, repository: 'o/r', token: 't' });
    assert.equal(b.gb, DEFAULT_BUDGET_GB);
    assert.equal(b.source, 'default');
    assert.equal(budgetLine(b), "cache budget: 10 GB (GitHub's default; storage-limit answered HTTP 403: the token may not read it)");
  });
  await withApi(json(404, { message: 'Not Found' }), async (apiUrl) => {
    assert.match((await readBudget({ apiUrl, repository: 'o/r', token: 't' })).detail, /HTTP 404: not available/);
  });
});

test('odd answers and no token fall back to the default, never throw', async () => {
  await withApi(json(200, 'not json'), async (apiUrl) => {
    assert.match((await readBudget({ apiUrl, repository: 'o/r', token: 't' })).detail, /not JSON/);
  });
  await withApi(json(200, { max_cache_size_gb: 'ten' }), async (apiUrl) => {
    assert.match((await readBudget({ apiUrl, repository: 'o/r', token: 't' })).detail, /without a usable max_cache_size_gb \("ten"\)/);
  });
  assert.match((await readBudget({ apiUrl: 'http://127.0.0.1:9', repository: 'o/r', token: '' })).detail, /no token/);
  assert.match((await readBudget({ repository: '', token: 't' })).detail, /no repository/);
  assert.match((await readBudget({ apiUrl: 'http://127.0.0.1:9', repository: 'o/r', token: 't' })).detail, /request failed/);
  // A server that never answers is cut off.
  await withApi(() => {}, async (apiUrl) => {
    assert.match((await readBudget({ apiUrl, repository: 'o/r', token: 't', timeoutMs: 200 })).detail, /request failed/);
  });
});
