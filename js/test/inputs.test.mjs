import assert from 'node:assert/strict';
import { test } from 'node:test';

import { binaryEnv, cacheModeNotice, InputError, readInputs, saveDecision, shouldWarm } from '../src/inputs.mjs';

const get = (over) => (n) => over[n] ?? '';

test('defaults', () => {
  const i = readInputs(get({}));
  assert.equal(i.warm, 'auto');
  assert.equal(i.save, 'default-branch');
  assert.equal(i.modulesCache, true);
  assert.equal(i.saveOnFailure, false);
  assert.equal(i.workingDirectory, '.');
});

test('values outside their set name the input and the allowed values', () => {
  assert.throws(() => readInputs(get({ save: 'sometimes' })), (e) => e instanceof InputError && /`save` is `sometimes`; allowed values: `default-branch`, `always`, `never`/.test(e.message));
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

test('save policy', () => {
  const base = { policy: 'default-branch', ref: 'refs/heads/main', defaultBranch: 'main', exactHit: false, cacheMode: '' };
  assert.equal(saveDecision(base).save, true);
  assert.match(saveDecision({ ...base, ref: 'refs/pull/1/merge' }).why, /not the default branch/);
  assert.match(saveDecision({ ...base, defaultBranch: '' }).why, /default branch is unknown/);
  assert.match(saveDecision({ ...base, exactHit: true }).why, /exact key hit/);
  assert.match(saveDecision({ ...base, policy: 'never' }).why, /never/);
  assert.match(saveDecision({ ...base, cacheMode: 'read' }).why, /read-only/);
  assert.equal(saveDecision({ ...base, policy: 'always', ref: 'refs/heads/feature' }).save, true);
});

test('lookup-only never saves; the token and the action\'s INPUT_/STATE_ variables never reach the binary', () => {
  const i = readInputs(get({ 'lookup-only': 'true', token: 'ghs_x' }));
  assert.equal(i.lookupOnly, true);
  assert.throws(() => readInputs(get({ 'lookup-only': 'maybe' })), /`lookup-only` is `maybe`/);
  const base = { policy: 'always', ref: 'refs/heads/main', defaultBranch: 'main', exactHit: false, cacheMode: '' };
  assert.match(saveDecision({ ...base, lookupOnly: true }).why, /lookup-only/);
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
