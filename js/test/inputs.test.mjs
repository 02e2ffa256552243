import assert from 'node:assert/strict';
import { test } from 'node:test';

import { binaryEnv, cacheModeNotice, compareGo, freshDecision, runsInstalledGo, InputError, judgeBuildHit, MAX_KEEP, pruneArgs, readInputs, resolveRemote, rollingSuffix, saveDecision, shouldWarm, trustArgs } from '../src/inputs.mjs';

const get = (over) => (n) => over[n] ?? '';

test('defaults', () => {
  const i = readInputs(get({}));
  assert.equal(i.warm, 'never');
  assert.equal(i.save, 'default-branch');
  assert.equal(i.modulesCache, true);
  assert.equal(i.saveOnFailure, false);
  assert.equal(i.workingDirectory, '.');
});

test('values outside their set name the input and the allowed values', () => {
  assert.throws(() => readInputs(get({ save: 'sometimes' })), (e) => e instanceof InputError && /`save` is `sometimes`; allowed values: `default-branch`, `pull-requests`, `always`, `never`/.test(e.message));
  assert.throws(() => readInputs(get({ warm: 'maybe' })), /`warm` is `maybe`/);
  assert.throws(() => readInputs(get({ 'build-cache': 'yes' })), /`build-cache` is `yes`; allowed values: `true`, `false`/);
  assert.throws(() => readInputs(get({ 'build-cache': 'false', 'modules-cache': 'false' })), /enable at least one/);
  assert.equal(readInputs(get({ save: 'ALWAYS' })).save, 'always');
});

test('the binary never sees the runtime token', () => {
  const env = binaryEnv(readInputs(get({ 'build-flags': '-race' })), { ACTIONS_RUNTIME_TOKEN: 's3cret', ACTIONS_RESULTS_URL: 'u', PATH: '/bin' }, '/t/state.json');
  assert.equal(env.ACTIONS_RUNTIME_TOKEN, undefined);
  assert.equal(env.ACTIONS_RESULTS_URL, undefined);
  assert.equal(env.PATH, '/bin');
  assert.equal(env.GO_CI_CACHE_BUILD_FLAGS, '-race');
  assert.equal(env.GO_CI_CACHE_STATE, '/t/state.json');
  assert.equal('GO_CI_CACHE_ROLLING_SUFFIX' in env, false);
});

test('warm policy', () => {
  assert.equal(shouldWarm('auto', { modules: true, build: true }), false);
  assert.equal(shouldWarm('auto', { modules: true, build: false }), true);
  assert.equal(shouldWarm('always', { modules: true, build: true }), true);
  assert.equal(shouldWarm('never', { modules: false, build: false }), false);
});

test('saving follows the binary\'s decision of who writes what', () => {
  const saves = { trusted: true, archives: true, archives_why: '' };
  assert.equal(saveDecision({ decision: saves, exactHit: false }).save, true);
  assert.match(saveDecision({ decision: saves, exactHit: true }).why, /exact key hit/);
  const refused = { trusted: false, archives: false, archives_why: 'pull request #7 (pull_request_target) runs with the default branch\'s ref' };
  assert.deepEqual(saveDecision({ decision: refused, exactHit: false }), { save: false, why: refused.archives_why });
  // No decision (the binary failed): nothing is saved.
  assert.equal(saveDecision({ decision: null, exactHit: false }).save, false);
  assert.match(saveDecision({ decision: undefined, exactHit: false }).why, /could not be decided/);
});

test('the decision is asked with the save policy, lookup-only and remote-read-only', () => {
  const i = readInputs(get({ save: 'pull-requests', 'remote-read-only': 'true' }));
  assert.deepEqual(trustArgs(i), ['trust', '--json', '--save', 'pull-requests', '--read-only=true']);
  assert.deepEqual(trustArgs(readInputs(get({ 'lookup-only': 'true' }))), ['trust', '--json', '--save', 'default-branch', '--read-only=false', '--lookup-only']);
});

test('lookup-only never saves; the token and the action\'s INPUT_/STATE_ variables never reach the binary', () => {
  const i = readInputs(get({ 'lookup-only': 'true', token: 'ghs_x' }));
  assert.equal(i.lookupOnly, true);
  assert.throws(() => readInputs(get({ 'lookup-only': 'maybe' })), /`lookup-only` is `maybe`/);
  const env = binaryEnv(i, { INPUT_TOKEN: 'ghs_x', 'STATE_go-ci-cache': '{}', PATH: '/bin' }, '/t/s.json');
  assert.equal(Object.values(env).includes('ghs_x'), false);
  assert.equal(Object.keys(env).some((k) => k.startsWith('INPUT_') || k.startsWith('STATE_')), false);
});

test('cache modes: one notice each, none when the job never saves anyway', () => {
  const i = readInputs(get({}));
  assert.match(cacheModeNotice('read', i), /read-only for this job \(ACTIONS_CACHE_MODE=read\): restoring, not saving/);
  assert.equal(cacheModeNotice('read', readInputs(get({ save: 'never' }))), '');
  assert.match(cacheModeNotice('none', i), /no cache access/);
  assert.match(cacheModeNotice('write-only', i), /starting cold/);
  assert.equal(cacheModeNotice('write', i), '');
  assert.equal(cacheModeNotice('', i), '');
});

test('the job input picks the warm-up and reaches the binary', () => {
  assert.equal(readInputs(get({})).job, 'test');
  assert.equal(binaryEnv(readInputs(get({})), {}, '/s').GO_CI_CACHE_JOB, 'test');
  assert.equal(binaryEnv(readInputs(get({ job: 'Build' })), {}, '/s').GO_CI_CACHE_JOB, 'build');
  assert.throws(() => readInputs(get({ job: 'lint' })), /`job` is `lint`; allowed values: `test`, `build`, `vet`/);
});

test('keep is a small whole number, 2 by default', () => {
  assert.equal(readInputs(get({})).keep, 2);
  assert.equal(readInputs(get({ keep: ' 5 ' })).keep, 5);
  for (const bad of ['0', '-1', 'two', '2.5', String(MAX_KEEP + 1)]) {
    assert.throws(() => readInputs(get({ keep: bad })), (e) => e instanceof InputError && e.message.includes(`\`keep\` is \`${bad}\``), bad);
  }
});

test('the build key gets one last layer per run unless refresh is off or a suffix is given', () => {
  const env = { GITHUB_RUN_ID: '9001', GITHUB_RUN_ATTEMPT: '2' };
  assert.equal(rollingSuffix(readInputs(get({})), env), 'r9001.2');
  assert.equal(rollingSuffix(readInputs(get({ refresh: 'false' })), env), '');
  assert.equal(rollingSuffix(readInputs(get({ 'rolling-suffix': 'w48', refresh: 'false' })), env), 'w48');
  // Jobs of one run share it (a matrix saves one entry); another run or attempt differs.
  assert.equal(rollingSuffix(readInputs(get({})), { ...env }), 'r9001.2');
  assert.notEqual(rollingSuffix(readInputs(get({})), { ...env, GITHUB_RUN_ATTEMPT: '3' }), 'r9001.2');
  assert.match(rollingSuffix(readInputs(get({})), {}), /^r[0-9]+\.1$/);
  assert.match(rollingSuffix(readInputs(get({})), { GITHUB_RUN_ID: 'x;y' }), /^r[0-9]+\.1$/);
});

test('with a per-run layer, the newest entry of the same dependency set is a hit', () => {
  const entry = { key: 'p-build-v1-t-go-fp-deps-r2-1', restore_keys: ['p-build-v1-t-go-fp-deps-', 'p-build-v1-t-go-fp-'] };
  const same = { status: 'partial', matched: 'p-build-v1-t-go-fp-deps-r1-1', hit: false };
  assert.deepEqual(judgeBuildHit(same, entry, true), { ...same, status: 'hit', hit: true, exact: false });
  const older = { status: 'partial', matched: 'p-build-v1-t-go-fp-olddeps-r1-1', hit: false };
  assert.deepEqual(judgeBuildHit(older, entry, true), { ...older, exact: false });
  const exact = { status: 'hit', matched: entry.key, hit: true };
  assert.deepEqual(judgeBuildHit(exact, entry, true), { ...exact, exact: true });
  // Without a rolling layer the first restore key is another dependency set: never a hit.
  assert.deepEqual(judgeBuildHit(same, entry, false), { ...same, exact: false });
  const miss = { status: 'miss', matched: '', hit: false };
  assert.deepEqual(judgeBuildHit(miss, entry, true), { ...miss, exact: false });
});

test('a build entry is saved only when the job added to what was restored', () => {
  assert.deepEqual(freshDecision({ matched: 'k', added: 0 }), { save: false, why: 'the job added nothing to the restored entry' });
  assert.equal(freshDecision({ matched: 'k', added: 3 }).save, true);
  assert.equal(freshDecision({ matched: '', added: 0 }).save, true, 'nothing restored: all of it is new');
  assert.equal(freshDecision({ matched: 'k', added: undefined }).save, true, 'unknown: save');
  assert.equal(freshDecision({ matched: 'k', added: 0, sameSet: false }).save, true, 'another dependency set: save under this one');
});

test('prune after a save: the entry kind, configuration and project, the saved key protected', () => {
  const entry = {
    key: 'p-build-v1-t-go-fp-proj-deps-r2-1',
    restore_keys: ['p-build-v1-t-go-fp-proj-deps-', 'p-build-v1-t-go-fp-proj-', 'p-build-v1-t-go-fp-'],
    prune_prefix: 'p-build-v1-t-go-fp-proj-',
  };
  assert.deepEqual(pruneArgs(entry, { keep: 2, ref: 'refs/heads/main', budgetGb: 10 }), [
    'prune', '--prefix', 'p-build-v1-t-go-fp-proj-', '--protect', entry.key, '--keep', '2', '--ref', 'refs/heads/main', '--budget-gb', '10',
  ]);
  // Never the last restore key: that one also reaches a sibling module's entries.
  assert.notEqual(pruneArgs(entry, { keep: 2, ref: 'r' })[2], entry.restore_keys.at(-1));
  const mod = { key: 'p-mod-v1-linux-proj-deps', restore_keys: ['p-mod-v1-linux-proj-', 'p-mod-v1-linux-'], prune_prefix: 'p-mod-v1-linux-proj-' };
  assert.deepEqual(pruneArgs(mod, { keep: 1, ref: 'refs/pull/3/merge' }), ['prune', '--prefix', 'p-mod-v1-linux-proj-', '--protect', mod.key, '--keep', '1', '--ref', 'refs/pull/3/merge']);
});

test('Go versions compare as Go orders them', () => {
  assert.equal(compareGo('go1.27', 'go1.27rc1'), -1);
  assert.equal(compareGo('go1.27rc1', 'go1.27.0'), -1);
  assert.equal(compareGo('go1.27beta2', 'go1.27rc1'), -1);
  assert.equal(compareGo('go1.26.10', 'go1.26.9'), 1);
  assert.equal(compareGo('1.26.8', 'go1.26.8'), 0);
  assert.equal(compareGo('go1.26.8 X:boringcrypto', 'go1.26.8'), 0);
  assert.equal(compareGo('devel', 'go1.26.8'), null);
});

test('keys computed with GOTOOLCHAIN=local are final only when the installed Go runs the job', () => {
  const go = 'go1.26.8';
  const cases = [
    ['local', 'go1.27.3', true],
    ['go1.26.8', 'go1.27.3', true],
    ['', 'go1.26.0', true],
    ['auto', 'go1.26.8', true],
    ['auto', null, true],
    ['path', 'go1.26', true],
    ['local+auto', 'go1.25.1', true],
    ['auto', 'go1.27.3', false],
    ['', 'go1.26.9', false],
    ['go1.27.3', null, false],
    ['go1.25.0+auto', 'go1.22', false],
    ['go1.26.8+auto', 'go1.26.1', true],
    ['auto', 'gobbledygook', false],
  ];
  for (const [tc, req, want] of cases) assert.equal(runsInstalledGo(tc, go, req), want, `${tc} / ${req}`);
});

test('remote: the input is passed on as given; the binary checks it (one rule)', () => {
  assert.equal(readInputs(get({})).remote, '');
  assert.equal(readInputs(get({})).buildCache, null);
  // No second copy of the cache program's rule here: whatever the input says reaches
  // `cacheprog --check`, whose answer decides (a value it rejects is a warning, never a failed step).
  for (const v of [' s3://ci-cache/go-build/ ', 's3://b/x', 'https://ci-cache/x']) {
    assert.equal(readInputs(get({ remote: v })).remote, v.trim());
  }
  // With the remote on, no archive at all is a valid configuration.
  assert.equal(readInputs(get({ remote: 's3://ci-cache/x', 'modules-cache': 'false', 'build-cache': 'false' })).modulesCache, false);
  assert.throws(() => readInputs(get({ 'remote-read-only': 'maybe' })), /`remote-read-only` is `maybe`/);
});

test('remote: GOCACHEPROG, the namespaces written, and the archive it replaces', () => {
  const hosted = { RUNNER_ENVIRONMENT: 'github-hosted', AWS_ACCESS_KEY_ID: 'AKIA', AWS_SECRET_ACCESS_KEY: 's' };
  const scope = { configuration: '0469275679ae', project: 'proj45' };
  const ctx = (over = {}) => ({ goVersion: 'go1.26.0', bin: '/opt/tool/go-ci-cache', env: hosted, scope, ...over });
  const on = readInputs(get({ remote: 's3://ci-cache/go' }));

  const r = resolveRemote(on, ctx());
  assert.equal(r.on, true);
  assert.deepEqual(r.vars, {
    GOCACHEPROG: '/opt/tool/go-ci-cache cacheprog',
    GO_CI_CACHE_REMOTE: 's3://ci-cache/go',
    GO_CI_CACHE_SAVE: 'default-branch',
    GO_CI_CACHE_READ_ONLY: 'false',
    GO_CI_CACHE_REMOTE_CONFIGURATION: '0469275679ae',
    GO_CI_CACHE_REMOTE_PROJECT: 'proj45',
  });
  assert.equal(r.buildCache, false, 'the GOCACHE archive is off by default with the remote on');
  assert.equal(resolveRemote({ ...on, buildCache: true }, ctx()).buildCache, true, 'unless asked for');

  // The cache program decides what the job writes from the save policy (lookup-only: never)
  // and remote-read-only.
  assert.equal(resolveRemote({ ...on, lookupOnly: true }, ctx()).vars.GO_CI_CACHE_SAVE, 'never');
  assert.equal(resolveRemote({ ...on, save: 'pull-requests' }, ctx()).vars.GO_CI_CACHE_SAVE, 'pull-requests');
  assert.equal(resolveRemote({ ...on, remoteReadOnly: true }, ctx()).vars.GO_CI_CACHE_READ_ONLY, 'true');
  // A path with a space is quoted for Go's quoted.Split; a configuration the user set stays
  // (a manifest name the user set wins in the cache program).
  assert.equal(resolveRemote(on, ctx({ bin: '/a b/go-ci-cache' })).vars.GOCACHEPROG, "'/a b/go-ci-cache' cacheprog");
  const theirConf = resolveRemote(on, ctx({ env: { ...hosted, GO_CI_CACHE_REMOTE_CONFIGURATION: 'mine' } })).vars;
  assert.equal('GO_CI_CACHE_REMOTE_CONFIGURATION' in theirConf || 'GO_CI_CACHE_REMOTE_PROJECT' in theirConf, false);
  // Keys without a project layer (an older binary) name it `any`; no scope at all sets none.
  assert.equal(resolveRemote(on, ctx({ scope: { configuration: 'abc' } })).vars.GO_CI_CACHE_REMOTE_PROJECT, 'any');
  assert.equal('GO_CI_CACHE_REMOTE_CONFIGURATION' in resolveRemote(on, ctx({ scope: undefined })).vars, false);

  // Off, with one line, and the archive back: Go before 1.24, a GOCACHEPROG of the user's, a
  // hosted runner without credentials (a fork's pull request).
  const old = resolveRemote(on, ctx({ goVersion: 'go1.23.4' }));
  assert.equal(old.on, false);
  assert.match(old.note, /needs Go 1\.24 or later .*`go1\.23\.4`.*archived as usual/);
  assert.equal(old.buildCache, true);
  const theirs = resolveRemote(on, ctx({ env: { ...hosted, GOCACHEPROG: 'gobuildcache' } }));
  assert.equal(theirs.on, false);
  assert.match(theirs.note, /GOCACHEPROG is already `gobuildcache`/);
  assert.equal(theirs.buildCache, false, 'their program serves the builds');
  const fork = resolveRemote(on, ctx({ env: { RUNNER_ENVIRONMENT: 'github-hosted' } }));
  assert.equal(fork.on, false);
  assert.match(fork.note, /no AWS credentials/);
  assert.deepEqual(fork.vars, {});
  // A self-hosted runner may have an instance role: the cache program's credential chain decides.
  assert.equal(resolveRemote(on, ctx({ env: { RUNNER_ENVIRONMENT: 'self-hosted' } })).on, true);
  assert.equal(resolveRemote(on, ctx({ env: { RUNNER_ENVIRONMENT: 'github-hosted', AWS_WEB_IDENTITY_TOKEN_FILE: '/t' } })).on, true);

  // No remote: nothing set, the archive as the input says.
  const none = resolveRemote(readInputs(get({})), ctx());
  assert.deepEqual([none.on, none.vars, none.buildCache], [false, {}, true]);
});



test('persistent and cache-budget: checked, passed to the binary', async () => {
  const { excludeOptions, heldResult, trimArgs } = await import('../src/inputs.mjs');
  const i = readInputs(get({}));
  assert.equal(i.persistent, 'auto');
  assert.equal(i.budget, 'auto');
  const env = binaryEnv(readInputs(get({ persistent: 'True', 'cache-budget': '20GB' })), {}, '/t/s.json');
  assert.equal(env.GO_CI_CACHE_PERSISTENT, 'true');
  assert.equal(env.GO_CI_CACHE_BUDGET, '20GB');
  for (const ok of ['512MiB', '1.5 GB', '4096', 'AUTO', '3t']) assert.equal(readInputs(get({ 'cache-budget': ok })).budget, ok);
  assert.throws(() => readInputs(get({ persistent: 'sometimes' })), /`persistent` is `sometimes`; allowed values: `auto`, `true`, `false`/);
  assert.throws(() => readInputs(get({ 'cache-budget': 'lots' })), (e) => e instanceof InputError && /`cache-budget` is `lots`/.test(e.message));

  // An entry the machine holds: a hit, never exact (the post step looks the key up before
  // saving); the build entry keeps the key it holds, so a job that added nothing saves nothing.
  const m = heldResult('modules', { held: true, key: 'k-mod', why: 'w' });
  assert.deepEqual([m.status, m.matched, m.hit, m.exact], ['local', '', true, false]);
  const b = heldResult('build', { held: true, key: 'k-build-r1.1', why: 'w' });
  assert.equal(b.matched, 'k-build-r1.1');
  assert.equal(judgeBuildHit(b, { key: 'k-build-r2.1', restore_keys: ['k-build-'] }, true), b);
  assert.deepEqual(freshDecision({ matched: b.matched, added: 0, sameSet: b.hit }), { save: false, why: 'the job added nothing to the restored entry' });

  // Held: nothing to look up. An earlier dependency set of this configuration on the machine:
  // the same key, only the restore keys `claim` gives (an entry of this set); and finding
  // none is `partial`, as the earlier set's entry would have been. Otherwise the entry as is.
  const { narrowedResult, restoreTarget } = await import('../src/inputs.mjs');
  const entry = { key: 'k-build-d2-r2.1', restore_keys: ['k-build-d2-', 'k-build-', 'k-'], path: '/c' };
  assert.equal(restoreTarget(entry, { held: true, key: 'k-build-d2-r1.1', why: 'w' }), null);
  assert.deepEqual(restoreTarget(entry, { held: false, key: null, why: 'another set', restore_keys: ['k-build-d2-'] }), { ...entry, restore_keys: ['k-build-d2-'], narrowed: true });
  assert.deepEqual(restoreTarget(entry, { held: false, why: 'another set', restore_keys: [] }).restore_keys, []);
  assert.equal(restoreTarget(entry, { held: false, why: 'no record', restore_keys: null }), entry);
  assert.equal(restoreTarget(entry, null), entry);
  const missed = narrowedResult({ status: 'miss', matched: '', hit: false, detail: '' }, { why: 'another set' });
  assert.deepEqual([missed.status, missed.matched, missed.hit], ['partial', '', false]);
  assert.match(missed.detail, /earlier dependency set: another set/);
  const found = { status: 'hit', matched: 'k-build-d2-r1.1', hit: false, detail: '' };
  assert.equal(narrowedResult(found, { why: 'w' }), found);
  assert.equal(narrowedResult({ status: 'failed' }, {}).status, 'failed');

  // Every job on a persistent machine trims both caches; elsewhere only what is saved, or
  // nothing but the record.
  assert.deepEqual(trimArgs([], true), ['trim', '--caches', 'both']);
  assert.deepEqual(trimArgs([], false), ['trim', '--record-only']);
  assert.deepEqual(trimArgs(['build'], false), ['trim', '--caches', 'build']);
  assert.deepEqual(trimArgs(['modules', 'build'], false), ['trim', '--caches', 'both']);

  // The archive's exclusions reach GNU tar through TAR_OPTIONS, after what was there.
  assert.equal(excludeOptions('/t/s.exclude-build'), '--exclude-from=/t/s.exclude-build');
  assert.equal(excludeOptions('/t/s.exclude-build', '--skip-old-files'), '--skip-old-files --exclude-from=/t/s.exclude-build');
  assert.equal(excludeOptions('/t/a b/x'), "--exclude-from='/t/a b/x'");
  assert.equal(excludeOptions(undefined), null);
});
