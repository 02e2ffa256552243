// Restore and save against a fake @actions/cache that behaves as the real one does on trouble:
// it logs through @actions/core (the same messages, verbatim from its source) and returns
// undefined / -1, and tar writes to stderr. The code under test sees only those.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import * as core from '@actions/core';

import { captured, classify, countBuildEntries, countEntries, parseToolkitLine, phaseTimes, prefilledWarning, restoreEntry, saveEntry, skipExistingFiles, TAR_LINES_SHOWN, timingArgs, toolkitClient } from '../src/cacheops.mjs';
import { tempDir } from '../testlib/tempdir.mjs';


const entry = { path: '/tmp/gomodcache', key: 'go-ci-cache-mod-v1-linux-0123456789abcdef', restore_keys: ['go-ci-cache-mod-v1-linux-'] };

function recorder() {
  const r = { info: [], notice: [], warning: [] };
  return { log: { info: (m) => r.info.push(m), notice: (m) => r.notice.push(m), warning: (m) => r.warning.push(m) }, r };
}

/** A fake toolkit: `restore`/`save` behaviours, and a call log. */
function fakeToolkit({ restore = async () => undefined, save = async () => 1, lookup = async () => undefined } = {}) {
  const calls = { restore: [], save: [], lookup: [] };
  return {
    calls,
    restoreCache: async (paths, key, restoreKeys, opts) => {
      if (opts?.lookupOnly) {
        calls.lookup.push(key);
        return lookup(paths, key, restoreKeys);
      }
      calls.restore.push({ key, tarOptions: process.env.TAR_OPTIONS });
      return restore(paths, key, restoreKeys);
    },
    saveCache: async (paths, key) => {
      calls.save.push(key);
      return save(paths, key);
    },
  };
}

test('toolkit lines: workflow commands are messages, progress passes through', () => {
  assert.deepEqual(parseToolkitLine('::warning::Failed to restore: boom%0Anext'), { level: 'warning', text: 'Failed to restore: boom\nnext' });
  assert.deepEqual(parseToolkitLine('Failed to save: Unable to reserve cache'), { level: 'info', text: 'Failed to save: Unable to reserve cache' });
  assert.equal(parseToolkitLine('Received 1048576 of 2097152 (50.0%), 10.0 MBs/sec'), null);
});

test('429 on save (cache service v2): one notice, one attempt, the job goes on', async () => {
  const tk = fakeToolkit({
    save: async (_p, key) => {
      // saveCacheV2: the twirp client warns with Retry-After, then the reserve error is info.
      core.warning("You've hit a rate limit, your rate limit will reset in 42 seconds");
      core.info(`Failed to save: Unable to reserve cache with key ${key}, another job may be creating this cache.`);
      return -1;
    },
  });
  const { log, r } = recorder();
  const res = await saveEntry(toolkitClient(tk), 'modules', entry, log);
  assert.equal(res.status, 'rate-limited');
  assert.equal(tk.calls.save.length, 1, 'no retry');
  assert.equal(tk.calls.lookup.length, 1, 'looked up before saving');
  assert.equal(r.warning.length, 0, `${r.warning}`);
  assert.equal(r.notice.length, 1);
  assert.match(r.notice[0], /^go-ci-cache: modules cache not saved: .*rate-limiting .*\(HTTP 429\) \(retry after 42 s\); not retrying/);
  assert.equal(r.notice[0].includes('\n'), false, 'one line');
});

test('429 on save (cache service v1): the status code in the reserve error is enough', async () => {
  const tk = fakeToolkit({
    save: async (_p, key) => {
      core.info(`Failed to save: Unable to reserve cache with key ${key}, another job may be creating this cache. More details: Failed request: (429) Too Many Requests`);
      return -1;
    },
  });
  const { log, r } = recorder();
  assert.equal((await saveEntry(toolkitClient(tk), 'build', entry, log)).status, 'rate-limited');
  assert.equal(tk.calls.save.length, 1);
  assert.equal(r.notice.length, 1);
});

test('a denied write (403, read-only token) is a notice, not a warning', async () => {
  const tk = fakeToolkit({
    save: async (_p, key) => {
      core.warning(`Failed to save: Unable to reserve cache with key ${key}. More details: cache write denied: the token for this run is read-only`);
      return -1;
    },
  });
  const { log, r } = recorder();
  const res = await saveEntry(toolkitClient(tk), 'modules', entry, log);
  assert.equal(res.status, 'read-only');
  assert.equal(r.warning.length, 0);
  assert.match(r.notice[0], /may not write to the cache \(.*cache write denied.*\); restoring still works/);
});

test('read-only mode from the toolkit, and a plain HTTP 403', async () => {
  const tk = fakeToolkit({
    save: async () => {
      core.info("Cache save skipped: the effective cache-mode 'read' does not permit writes.");
      return -1;
    },
  });
  const { log, r } = recorder();
  assert.equal((await saveEntry(toolkitClient(tk), 'modules', entry, log)).status, 'read-only');
  assert.equal(r.notice.length, 1);
  assert.equal(classify([{ level: 'warning', text: 'Failed to save: Cache service responded with 403 (403) Forbidden' }]).kind, 'denied');
});

test('a read-only restore still restores; a denied read is a skip with a notice', async () => {
  process.env.ACTIONS_CACHE_MODE = 'read';
  try {
    const tk = fakeToolkit({ restore: async (_p, key) => key });
    const { log, r } = recorder();
    const res = await restoreEntry(toolkitClient(tk), 'modules', entry, log);
    assert.equal(res.status, 'hit');
    assert.equal(tk.calls.restore.length, 1);
    assert.equal(r.warning.length, 0);
  } finally {
    delete process.env.ACTIONS_CACHE_MODE;
  }
  const denied = fakeToolkit({
    restore: async () => {
      core.warning('Failed to restore: cache read denied: no readable cache scopes');
      return undefined;
    },
  });
  const { log, r } = recorder();
  const res = await restoreEntry(toolkitClient(denied), 'build', entry, log);
  assert.equal(res.status, 'skipped');
  assert.equal(r.warning.length, 0);
  assert.match(r.notice[0], /cannot be read by this job/);
});

test('a failed extraction is reported as failed, never as "no cache", and tar cannot flood the log', async () => {
  const tk = fakeToolkit({
    restore: async () => {
      for (let i = 0; i < 647; i += 1) process.stderr.write(`/usr/bin/tar: ../../go/pkg/mod/example.com/m${i}@v1.0.0/go.mod: Cannot open: File exists\n`);
      process.stderr.write('/usr/bin/tar: Exiting with failure status due to previous errors\n');
      core.warning('Failed to restore: "/usr/bin/tar" failed with error: The process \'/usr/bin/tar\' failed with exit code 2');
      return undefined;
    },
  });
  const { log, r } = recorder();
  const shown = [];
  const origErr = process.stderr.write;
  const origOut = process.stdout.write;
  let res;
  process.stderr.write = (c) => shown.push(`err:${c}`) > 0;
  process.stdout.write = (c) => shown.push(`out:${c}`) > 0;
  try {
    res = await restoreEntry(toolkitClient(tk), 'modules', entry, log);
  } finally {
    process.stderr.write = origErr;
    process.stdout.write = origOut;
  }
  assert.equal(res.status, 'failed');
  assert.equal(res.hit, false);
  assert.equal(r.info.some((l) => /no cache/.test(l)), false, `${r.info}`);
  assert.equal(r.warning.length, 1);
  assert.match(r.warning[0], /^go-ci-cache: modules: restore failed, going on without it: "\/usr\/bin\/tar" failed/);
  const tarLines = shown.filter((l) => l.startsWith('err:'));
  assert.equal(tarLines.length, TAR_LINES_SHOWN);
  assert.ok(shown.includes(`out:… and ${648 - TAR_LINES_SHOWN} more lines of tar output, not shown\n`), shown.join(''));
});

test('a restore extracts without replacing existing files, and TAR_OPTIONS is put back', async () => {
  process.env.TAR_OPTIONS = '--no-same-owner';
  try {
    const tk = fakeToolkit({ restore: async (_p, key, rk) => `${rk[0]}fedcba9876543210` });
    const { log } = recorder();
    const res = await restoreEntry(toolkitClient(tk), 'modules', entry, log);
    assert.equal(res.status, 'partial');
    assert.equal(tk.calls.restore[0].tarOptions, '--no-same-owner --skip-old-files');
    assert.equal(process.env.TAR_OPTIONS, '--no-same-owner');
  } finally {
    delete process.env.TAR_OPTIONS;
  }
  const tk = fakeToolkit({ restore: async () => undefined });
  const { log, r } = recorder();
  assert.equal((await restoreEntry(toolkitClient(tk), 'modules', entry, log)).status, 'miss');
  assert.match(r.info[0], /no cache for/);
  assert.equal('TAR_OPTIONS' in process.env, false);
});

test('lookup-only finds without downloading', async () => {
  const tk = fakeToolkit({ lookup: async (_p, key) => key.toUpperCase() });
  const { log } = recorder();
  const res = await restoreEntry(toolkitClient(tk), 'build', entry, log, { lookupOnly: true });
  assert.deepEqual([res.status, res.hit], ['found', true]);
  assert.equal(tk.calls.restore.length, 0);
});

test('a matrix uploads a key once: a job that finds it saved, or loses the race, does not upload', async () => {
  const store = new Set();
  let uploads = 0;
  const tk = fakeToolkit({
    lookup: async (_p, key) => (store.has(key) ? key : undefined),
    save: async (_p, key) => {
      if (store.has(key)) {
        core.info(`Failed to save: Unable to reserve cache with key ${key}, another job may be creating this cache.`);
        return -1;
      }
      store.add(key);
      uploads += 1;
      return 7;
    },
  });
  const statuses = [];
  for (let job = 0; job < 4; job += 1) {
    const { log, r } = recorder();
    statuses.push((await saveEntry(toolkitClient(tk), 'modules', entry, log)).status);
    assert.equal(r.warning.length, 0);
  }
  assert.deepEqual(statuses, ['saved', 'exists', 'exists', 'exists']);
  assert.equal(uploads, 1);
  // Two jobs that both looked up before either saved: the loser's reserve fails, quietly.
  const { log, r } = recorder();
  const racer = fakeToolkit({ lookup: async () => undefined, save: tk.saveCache });
  assert.equal((await saveEntry(toolkitClient(racer), 'modules', entry, log)).status, 'taken');
  assert.equal(r.warning.length + r.notice.length, 0);
  assert.equal(uploads, 1);
});

test('other save trouble is one warning; a thrown error too', async () => {
  const tk = fakeToolkit({
    save: async () => {
      throw new Error('socket hang up');
    },
  });
  const { log, r } = recorder();
  assert.equal((await saveEntry(toolkitClient(tk), 'build', entry, log)).status, 'failed');
  assert.equal(r.warning.length, 1);
  assert.match(r.warning[0], /could not be saved: socket hang up/);
});

test('the captured section keeps non-toolkit output', async () => {
  const seen = [];
  const out = { write: (c) => seen.push(String(c)) > 0 };
  const err = { write: () => true };
  const { value, messages } = await captured(async () => {
    out.write('Cache Size: ~1 MB\n::warning::Failed to restore: x\n');
    return 'v';
  }, { out, err });
  assert.equal(value, 'v');
  assert.deepEqual(messages, [{ level: 'warning', text: 'Failed to restore: x' }]);
  assert.deepEqual(seen, ['Cache Size: ~1 MB\n']);
});

test('prefilled roots: one warning naming setup-go and `cache: false`', () => {
  const dir = tempDir('gcc-pre-');
  assert.equal(countEntries(path.join(dir, 'missing')), 0);
  fs.mkdirSync(path.join(dir, 'mod', 'cache'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'mod', 'example.com'));
  const paths = { modules: path.join(dir, 'mod'), build: path.join(dir, 'build') };
  const w = prefilledWarning(paths, { modules: countEntries(paths.modules), build: countEntries(paths.build) });
  assert.match(w, /^GOMODCACHE \(.*: 2 entries\) already held files before go-ci-cache restored it/);
  assert.match(w, /actions\/setup-go/);
  assert.match(w, /Set `cache: false` on actions\/setup-go/);
  assert.equal(w.includes('\n'), false);
  assert.match(prefilledWarning(paths, { modules: 3, build: 900 }), /GOMODCACHE .* and GOCACHE .* restored them/);
  // The ten or so probe results a plain `go env` stores are not a restored cache.
  assert.equal(prefilledWarning(paths, { modules: 0, build: 11 }), '');
  assert.match(prefilledWarning(paths, { modules: 0, build: 64 }), /^GOCACHE .* restored it/);
  assert.equal(prefilledWarning(paths, { modules: 0, build: 0 }), '');
  assert.equal(prefilledWarning({ modules: false, build: paths.build }, { modules: 5, build: 0 }), '');
  // The skeleton any `go env` creates is not a filled build cache; entries in it are.
  for (let i = 0; i < 256; i += 1) fs.mkdirSync(path.join(paths.build, i.toString(16).padStart(2, '0')), { recursive: true });
  fs.writeFileSync(path.join(paths.build, 'README'), 'x');
  assert.equal(countBuildEntries(paths.build), 0);
  fs.writeFileSync(path.join(paths.build, '0a', '0a12-a'), 'x');
  fs.writeFileSync(path.join(paths.build, 'ff', 'ff34-d'), 'x');
  assert.equal(countBuildEntries(paths.build), 2);
  assert.equal(countBuildEntries(path.join(dir, 'missing')), 0);
});

test('phase times come from the toolkit\'s own log lines', () => {
  const m = (t, line) => ({ t, line });
  // Restore (cache service v2): found, downloaded, extracted.
  const restore = [m(100, 'Cache hit for restore-key: k'), m(150, '::debug::Archive path: /tmp/x/cache.tzst'), m(900, 'Cache Size: ~5 MB (5242880 B)'), m(1300, 'Cache restored successfully')];
  assert.deepEqual(phaseTimes('restore', restore, 0, 1400), { lookup: 0.1, download: 0.8, extract: 0.5 });
  // v1 names the archive path first; a miss is all lookup.
  assert.deepEqual(phaseTimes('restore', [m(200, '::debug::Archive Path: /x'), m(700, 'Cache Size: ~1 MB (1 B)')], 0, 1000), { lookup: 0.2, download: 0.5, extract: 0.3 });
  assert.deepEqual(phaseTimes('restore', [], 0, 250), { lookup: 0.25 });
  // A download that broke: no size line.
  assert.deepEqual(phaseTimes('restore', [m(100, 'Cache hit for: k')], 0, 400), { lookup: 0.1, download: 0.3 });
  // Save: compress until the size, then reserve + upload + commit.
  assert.deepEqual(phaseTimes('save', [m(1500, '::debug::File Size: 123'), m(1600, '::debug::Reserving Cache')], 0, 2500), { compress: 1.5, upload: 1 });
  assert.deepEqual(phaseTimes('save', [], 0, 300), { compress: 0.3 });
  assert.deepEqual(timingArgs({ keys: 0.0456, 'restore.build.lookup': 1 }), ['--timing', 'keys=0.046', '--timing', 'restore.build.lookup=1.000']);
});

test('a restore and a save through the real capture are timed per phase', async () => {
  let now = 0;
  const clock = () => now;
  const lib = {
    restoreCache: async () => {
      now = 100;
      core.info('Cache hit for: k');
      now = 600;
      core.info('Cache Size: ~1 MB (1048576 B)');
      now = 800;
      return entry.key;
    },
    saveCache: async () => {
      now = 2000;
      core.debug('File Size: 1048576');
      now = 2600;
      return 7;
    },
  };
  const client = toolkitClient(lib, { clock });
  const { log } = recorder();
  const r = await restoreEntry(client, 'modules', entry, log, { clock });
  assert.equal(r.status, 'hit');
  assert.deepEqual(r.timing, { lookup: 0.1, download: 0.5, extract: 0.2 });
  now = 1000;
  const lookups = { restoreCache: async () => undefined };
  const s = await saveEntry({ restore: () => captured(() => lookups.restoreCache(), undefined, clock), save: client.save }, 'modules', entry, log, { clock });
  assert.equal(s.status, 'saved');
  assert.deepEqual(s.timing, { lookup: 0, compress: 1, upload: 0.6 });
});

test('two restores at once: each gets its own messages, marks and tar lines', async () => {
  const tick = () => new Promise((r) => setTimeout(r, 5));
  const lib = {
    restoreCache: async (paths, key) => {
      if (key === 'mod') {
        await tick();
        core.info('Cache hit for: mod');
        await tick();
        process.stderr.write('tar: mod line\n'.repeat(TAR_LINES_SHOWN + 2));
        core.info('Cache Size: ~1 MB (1 B)');
        return 'mod';
      }
      core.info('Cache hit for: bld');
      await tick();
      core.warning('Failed to restore: Unexpected end of data');
      await tick();
      return undefined;
    },
  };
  const client = toolkitClient(lib);
  const a = recorder();
  const b = recorder();
  const before = process.env.TAR_OPTIONS;
  const write = process.stdout.write;
  const [m, bl] = await Promise.all([
    restoreEntry(client, 'modules', { ...entry, key: 'mod' }, a.log, { label: 'modules' }),
    restoreEntry(client, 'build', { ...entry, key: 'bld' }, b.log, { label: 'build' }),
  ]);
  assert.equal(m.status, 'hit');
  assert.equal(bl.status, 'failed', 'the build entry\'s own warning, not the modules entry\'s success');
  assert.deepEqual(a.r.warning, []);
  assert.equal(b.r.warning.length, 1);
  assert.ok(m.timing.download !== undefined && bl.timing.download !== undefined);
  assert.equal(process.env.TAR_OPTIONS, before, 'TAR_OPTIONS put back after both');
  assert.equal(process.stdout.write, write, 'stdout put back after both');
});

test('TAR_OPTIONS stays while any restore runs', () => {
  const env = { TAR_OPTIONS: '--a' };
  const u1 = skipExistingFiles(env);
  const u2 = skipExistingFiles(env);
  assert.equal(env.TAR_OPTIONS, '--a --skip-old-files');
  u1();
  u1();
  assert.equal(env.TAR_OPTIONS, '--a --skip-old-files', 'the second restore still runs');
  u2();
  assert.equal(env.TAR_OPTIONS, '--a');
});
