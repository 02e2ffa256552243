// The action's main step: install → keys → restore both entries → prepare → warm → outputs.
// Cache trouble is a warning; a bad input or an install failure fails the step.

import * as cache from '@actions/cache';
import * as core from '@actions/core';

import { actionDir, readManifest, runBinary, statePath } from './common.mjs';
import { binaryEnv, InputError, readInputs, shouldWarm } from './inputs.mjs';
import { install } from './install.mjs';

async function restore(name, entry) {
  try {
    const matched = await cache.restoreCache([entry.path], entry.key, entry.restore_keys);
    if (!matched) {
      core.info(`${name}: no cache for ${entry.key} or its restore keys`);
      return { matched: '', hit: false };
    }
    // Compare case-insensitively: some cache servers lowercase keys.
    const hit = matched.toLowerCase() === entry.key.toLowerCase();
    core.info(`${name}: restored ${hit ? 'exact key' : 'restore key'} ${matched}`);
    return { matched, hit };
  } catch (e) {
    core.warning(`${name} cache could not be restored, going on without it: ${e.message}`);
    return { matched: '', hit: false };
  }
}

async function run() {
  let inputs;
  try {
    inputs = readInputs((n) => core.getInput(n));
  } catch (e) {
    if (e instanceof InputError) return core.setFailed(e.message);
    throw e;
  }
  // post-if cannot read inputs (actions/cache#1452): export what it needs.
  core.exportVariable('GO_CI_CACHE_SAVE_ON_FAILURE', String(inputs.saveOnFailure));

  let bin = inputs.binary;
  if (!bin) {
    core.startGroup('go-ci-cache: install');
    try {
      const manifest = readManifest();
      const repo = process.env.GITHUB_ACTION_REPOSITORY || manifest.repository;
      const baseUrl = process.env.GO_CI_CACHE_DOWNLOAD_URL || `https://github.com/${repo}/releases/download/v${manifest.version}`;
      bin = await install({
        actionDir: actionDir(),
        manifest,
        toolCache: process.env.RUNNER_TOOL_CACHE || `${process.env.RUNNER_TEMP || '/tmp'}/tool-cache`,
        baseUrl,
        log: core.info,
      });
    } catch (e) {
      core.endGroup();
      return core.setFailed(`go-ci-cache could not be installed: ${e.message}`);
    }
    core.endGroup();
  }

  const state = statePath();
  const env = binaryEnv(inputs, process.env, state);
  const keysRun = runBinary(bin, ['keys', '--format', 'json'], env, { capture: true });
  if (keysRun.status !== 0) return core.setFailed(`go-ci-cache keys failed (exit status ${keysRun.status}); see the error above`);
  const keys = JSON.parse(keysRun.stdout);

  core.startGroup('go-ci-cache: cache configuration');
  for (const [name, e] of [['modules', keys.modules], ['build', keys.build]]) {
    core.info(`${name} (${e.path})\n  key:          ${e.key}\n  restore keys: ${e.restore_keys.join('\n                ')}`);
    for (const l of e.layers) {
      if (l.inputs.length > 1) core.info(`  ${l.name} ${l.value} <- ${l.inputs.map((i) => `${i.name}=${i.value}`).join(', ')}`);
    }
  }
  core.endGroup();

  // Later steps must use the directories the keys describe.
  core.exportVariable('GOMODCACHE', keys.modules.path);
  core.exportVariable('GOCACHE', keys.build.path);

  core.startGroup('go-ci-cache: restore');
  const none = { matched: '', hit: false };
  const mod = inputs.modulesCache ? await restore('modules', keys.modules) : none;
  const bld = inputs.buildCache ? await restore('build', keys.build) : none;
  core.endGroup();

  const caches = inputs.modulesCache && inputs.buildCache ? 'both' : inputs.modulesCache ? 'modules' : 'build';
  const common = ['--caches', caches];
  const prep = ['prepare', ...common];
  if (mod.matched) prep.push('--modules-restored-key', mod.matched);
  if (mod.hit) prep.push('--modules-hit');
  if (bld.matched) prep.push('--build-restored-key', bld.matched);
  if (bld.hit) prep.push('--build-hit');
  runBinary(bin, prep, env);

  const hits = { modules: !inputs.modulesCache || mod.hit, build: !inputs.buildCache || bld.hit };
  if (shouldWarm(inputs.warm, hits)) {
    const w = ['warm', ...common];
    if (inputs.warmVet) w.push('--vet');
    if (inputs.warmTest) w.push('--test');
    runBinary(bin, w, env);
  } else {
    core.info(`go-ci-cache: warm-up skipped (warm: ${inputs.warm}${inputs.warm === 'auto' ? ', both entries were exact hits' : ''})`);
  }

  let coverage = '';
  const rep = runBinary(bin, ['report', '--format', 'json', '--state', state], env, { capture: true });
  if (rep.status === 0) {
    const w = JSON.parse(rep.stdout).warm;
    const c = w?.after || w?.before;
    if (c) coverage = `${c.std_cached + c.third_party_cached}/${c.std_total + c.third_party_total}`;
  }

  core.setOutput('cache-hit', String(inputs.modulesCache && inputs.buildCache && mod.hit && bld.hit));
  core.setOutput('modules-hit', String(mod.hit));
  core.setOutput('build-hit', String(bld.hit));
  core.setOutput('modules-key', keys.modules.key);
  core.setOutput('build-key', keys.build.key);
  core.setOutput('modules-matched-key', mod.matched);
  core.setOutput('build-matched-key', bld.matched);
  core.setOutput('coverage', coverage);
  core.setOutput('go-version', keys.inputs.go.GOVERSION || '');

  core.saveState('go-ci-cache', JSON.stringify({ bin, env: { dir: inputs.workingDirectory }, inputs, state, keys: { modules: keys.modules, build: keys.build }, mod, bld }));
}

run().catch((e) => core.setFailed(`go-ci-cache: ${e.stack || e.message}`));
