// The action's main step: install → keys (toolchain switching off) → claim (the job's lease
// before any restore; the machine record says which entries this machine's caches already
// hold, and those are neither looked up nor downloaded) → restore both entries at once when
// that Go is the one that runs the job, else claim and restore modules → keys → claim and
// restore build → prepare → warm → outputs. With the remote build cache on, `cacheprog --prefetch-only` runs
// beside the restores and the step waits for it before prepare.
//
// The modules entry is restored before any `go` command may switch toolchains: with a go.mod
// `toolchain` line newer than the runner's Go, `go env` under GOTOOLCHAIN=auto downloads that
// toolchain into GOMODCACHE as read-only trees, and a restore over them used to fail. The first
// `keys` runs with GOTOOLCHAIN=local, which never downloads; the modules key and path do not
// depend on the Go version. The second `keys`, with the job's own GOTOOLCHAIN, then finds the
// toolchain in the restored entry and gives the build key of the Go that will run.
//
// Only a bad input fails the step. Everything else (install, keys, restore) is cache trouble: a
// warning, and the job goes on without caching.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import * as cache from '@actions/cache';
import * as core from '@actions/core';

import { readBudget, budgetLine } from './budget.mjs';
import { countBuildEntries, countEntries, prefilledWarning, restoreEntry, timingArgs, toolkitClient } from './cacheops.mjs';
import { actionDir, readManifest, runBinary, runBinaryAsync, statePath } from './common.mjs';
import { binaryEnv, cacheModeNotice, heldResult, InputError, judgeBuildHit, narrowedResult, readInputs, resolveRemote, restoreTarget, rollingSuffix, runsInstalledGo, shouldWarm, trustArgs } from './inputs.mjs';
import { install } from './install.mjs';

const log = { info: core.info, notice: core.notice, warning: core.warning };

/** Adds an operation's phases (seconds) under `prefix`. */
function record(prefix, timing) {
  for (const [k, v] of Object.entries(timing || {})) timings[`${prefix}.${k}`] = (timings[`${prefix}.${k}`] || 0) + v;
}

function setOutputs(o) {
  for (const [k, v] of Object.entries(o)) core.setOutput(k, v);
}

const OFF = { 'cache-hit': 'false', 'modules-hit': 'false', 'build-hit': 'false', 'modules-status': 'off', 'build-status': 'off', persistent: 'false' };

/** Wall seconds per phase of this step, for `report --timing` (keys, restore.<entry>.<part>). */
const timings = {};

/** Runs `keys --format json`; returns the parsed document, or null after a warning. */
function keys(bin, env, { quiet = false } = {}) {
  const t0 = performance.now();
  try {
    return keysOnce(bin, env, quiet);
  } finally {
    timings.keys = (timings.keys || 0) + (performance.now() - t0) / 1000;
  }
}

/** What the quiet first `keys` wrote to stderr (its warnings, shown when its keys are final). */
let earlyStderr = '';

function keysOnce(bin, env, quiet) {
  const r = runBinary(bin, ['keys', '--format', 'json'], env, { capture: true, captureStderr: quiet });
  if (quiet) earlyStderr = r.stderr;
  if (r.status !== 0) {
    if (quiet) return null;
    core.warning(`go-ci-cache is off for this job: \`go-ci-cache keys\` failed (exit status ${r.status}; the error is above). The job goes on without caching.`);
    return null;
  }
  try {
    return JSON.parse(r.stdout);
  } catch (e) {
    core.warning(`go-ci-cache is off for this job: \`go-ci-cache keys\` printed no JSON (${e.message})`);
    return null;
  }
}

/**
 * `claim` before a restore: takes the job's lease on the roots (so no other job's trim on this
 * machine removes what the restore extracts) and says which entries the machine's caches
 * already hold. Returns the parsed answer, or null (cache trouble: restore as usual).
 */
function claim(bin, env, caches) {
  const t0 = performance.now();
  const r = runBinary(bin, ['claim', '--caches', caches], env, { capture: true });
  timings.claim = (timings.claim || 0) + (performance.now() - t0) / 1000;
  if (r.status !== 0) return null;
  try {
    return JSON.parse(r.stdout);
  } catch {
    return null;
  }
}

/** GOMODCACHE and GOCACHE as `go env` names them, and what they hold; null without `go`. */
function rootsBefore(env) {
  const r = spawnSync('go', ['env', 'GOMODCACHE', 'GOCACHE'], {
    cwd: env.GO_CI_CACHE_DIR || '.',
    env: { ...env, GOTOOLCHAIN: 'local' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  if (r.status !== 0 || !r.stdout) return null;
  const [modules, build] = r.stdout.split(/\r?\n/);
  if (!modules || !build) return null;
  return { modules, build, counts: { modules: countEntries(modules), build: countBuildEntries(build) } };
}

/** Prints the configuration and points later steps at the directories the keys describe. */
function exportPaths(k) {
  core.startGroup('go-ci-cache: cache configuration');
  for (const [name, e] of [['modules', k.modules], ['build', k.build]]) {
    core.info(`${name} (${e.path})\n  key:          ${e.key}\n  restore keys: ${e.restore_keys.join('\n                ')}`);
    for (const l of e.layers) {
      if (l.inputs.length > 1) core.info(`  ${l.name} ${l.value} <- ${l.inputs.map((i) => `${i.name}=${i.value}`).join(', ')}`);
    }
  }
  core.endGroup();
  core.exportVariable('GOMODCACHE', k.modules.path);
  core.exportVariable('GOCACHE', k.build.path);
}

/**
 * The binary's decision of who writes what (`go-ci-cache trust --json`), logged; null after a
 * warning when it cannot be had (then nothing is saved).
 */
function whoWrites(bin, inputs, env) {
  const r = runBinary(bin, trustArgs(inputs), env, { capture: true, captureStderr: true });
  let d = null;
  if (r.status === 0) {
    try {
      d = JSON.parse(r.stdout);
    } catch {
      d = null;
    }
  }
  if (!d) {
    core.warning(`go-ci-cache: who writes what could not be decided (\`go-ci-cache trust\` exited with status ${r.status}: ${(r.stderr || '').trim()}); this job saves nothing`);
    return null;
  }
  const archives = d.archives ? 'archives are saved when new' : `archives are never saved: ${d.archives_why}`;
  core.info(`go-ci-cache: this job runs ${d.origin}${d.trusted ? ' (trusted)' : ''}; ${archives}`);
  return d;
}

/**
 * Starts the cache program once with the job's configuration (`cacheprog --check`): the remote
 * stays on only when it answered and its store is usable; otherwise one warning, and the job
 * goes on with the GOCACHE archive as if `remote` were not set.
 */
function checkRemote(bin, inputs, env, remote) {
  const r = runBinary(bin, ['cacheprog', '--check'], { ...env, ...remote.vars }, { capture: true, captureStderr: true });
  let c = null;
  try {
    c = JSON.parse(r.stdout);
  } catch {
    c = null;
  }
  const off = (why) => {
    core.warning(`go-ci-cache: the remote build cache is off for this job: ${why}. The job goes on${inputs.buildCache === false ? '' : ' with the GOCACHE archive'}.`);
    return { on: false, note: '', vars: {}, buildCache: inputs.buildCache === null ? true : inputs.buildCache };
  };
  if (r.status !== 0 || !c?.ok) return off(`the cache program did not start (exit status ${r.status}: ${(r.stderr || '').trim().split('\n').pop()})`);
  if (!c.remote) return off((c.problems || []).join('; ') || `\`${inputs.remote}\` is not usable`);
  for (const p of c.problems || []) core.warning(`go-ci-cache: ${p}`);
  return { ...remote, url: c.remote, write: c.decision?.write || '', writeWhy: c.decision?.write_why || '' };
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
  setOutputs(OFF);

  // An absolute path: GOCACHEPROG carries it into go commands started from any directory
  // (`go -C dir`, a step's working-directory).
  let bin = inputs.binary ? path.resolve(process.env.GITHUB_WORKSPACE || process.cwd(), inputs.binary) : '';
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
        // A ref without release assets builds from source once per repository; later jobs
        // restore that build from the Actions cache.
        sourceCache: cache.isFeatureAvailable()
          ? { restore: (paths, key) => cache.restoreCache(paths, key), save: (paths, key) => cache.saveCache(paths, key) }
          : undefined,
      });
    } catch (e) {
      core.endGroup();
      core.warning(`go-ci-cache is off for this job: it could not be installed: ${e.message}. The job goes on without caching.`);
      return;
    }
    core.endGroup();
  }

  if (inputs.binary && !fs.existsSync(bin)) {
    core.warning(`go-ci-cache is off for this job: the \`binary\` input names \`${inputs.binary}\` (\`${bin}\`), which does not exist. The job goes on without caching.`);
    return;
  }
  const state = statePath();
  // The build key's last layer: one per run unless `refresh: false` (see rollingSuffix).
  inputs.rollingSuffix = rollingSuffix(inputs, process.env);
  const env = binaryEnv(inputs, process.env, state);
  const mode = (process.env.ACTIONS_CACHE_MODE || '').trim().toLowerCase();
  const modeNote = cacheModeNotice(mode, inputs);
  if (modeNote) core.notice(`go-ci-cache: ${modeNote}`);
  const readable = !['none', 'write-only'].includes(mode);
  const client = toolkitClient(cache);
  const none = { status: 'off', matched: '', hit: false };

  // 0. What is in the roots before any `go` command of ours runs (`go env` itself writes a few
  // build-cache entries). Asking `go env` for two paths only, with switching off, touches
  // nothing.
  const before = rootsBefore(env);

  // 1. Module key and paths without toolchain switching (see the top of this file).
  const switching = (env.GOTOOLCHAIN || '').trim() !== 'local';
  const early = switching ? keys(bin, { ...env, GOTOOLCHAIN: 'local' }, { quiet: true }) : null;
  let k = early || keys(bin, env);
  if (!k) return;

  // Who writes what: the binary's one decision, from the event, the ref, the pull request, the
  // cache token and the inputs. The post step saves archives only when it says so.
  const decision = whoWrites(bin, inputs, env);

  // The remote build cache (`remote`): GOCACHEPROG for this step's warm-up and the job's later
  // steps; the GOCACHE archive is off by default then. It is set only once the cache program
  // has started with the job's configuration and answered (`cacheprog --check`), and exported
  // to later steps only after its prefetch in this step ended well.
  let remote = resolveRemote(inputs, { goVersion: k.inputs.go.GOVERSION || '', bin, env, scope: k.remote_manifest });
  if (remote.on) remote = checkRemote(bin, inputs, env, remote);
  inputs.buildCache = remote.buildCache;
  if (remote.note) core.notice(`go-ci-cache: ${remote.note}`);
  for (const [name, value] of Object.entries(remote.vars)) env[name] = value;
  if (remote.on) {
    const w = remote.write ? `reads it and writes \`${remote.write}\`` : `reads it, writes nothing (${remote.writeWhy})`;
    core.info(`go-ci-cache: remote build cache ${remote.url}: GOCACHEPROG is set for the job's steps, which ${w}${inputs.buildCache ? '' : '; the GOCACHE archive is off'}`);
  }
  if (!inputs.modulesCache && !inputs.buildCache) core.info('go-ci-cache: no archive to restore or save (modules-cache is off and the remote serves the builds)');
  // The remote's prefetch runs beside the restores: the outputs the job's previous run used
  // (or a sibling job's) are on disk before its first go command, which then waits for no
  // download. The step waits for it after the restores, bounded by the flush timeout.
  const prefetchP = remote.on && !inputs.lookupOnly ? runBinaryAsync(bin, ['cacheprog', '--prefetch-only'], env) : null;

  // 2. Anything already in the roots came from an earlier step (on an ephemeral runner).
  const counted = (p, root, count) => (before && before[root] === p ? before.counts[root] : count(p));
  const counts = {
    modules: inputs.modulesCache ? counted(k.modules.path, 'modules', countEntries) : 0,
    build: inputs.buildCache ? counted(k.build.path, 'build', countBuildEntries) : 0,
  };
  const filled = prefilledWarning({ modules: inputs.modulesCache && k.modules.path, build: inputs.buildCache && k.build.path }, counts);
  if (filled && process.env.RUNNER_ENVIRONMENT === 'github-hosted') core.warning(filled);

  // The budget request runs while the entries restore.
  const budgetP = readBudget({ apiUrl: process.env.GITHUB_API_URL, repository: process.env.GITHUB_REPOSITORY, token: inputs.token });
  const lookup = { lookupOnly: inputs.lookupOnly };
  // What the machine's caches already hold (`claim`, before any restore): those entries are
  // neither looked up nor downloaded.
  const claimed = { modules: null, build: null };
  let machine = null;
  const claimFor = (name, e) => {
    if (inputs.lookupOnly) return;
    const c = claim(bin, e, name);
    if (!c) return;
    machine = machine || c;
    if (c[name]) claimed[name] = c[name];
  };
  const restoreOne = (name, entry, label = '') => {
    if (!(name === 'modules' ? inputs.modulesCache : inputs.buildCache)) return Promise.resolve(none);
    const held = claimed[name];
    const target = restoreTarget(entry, held);
    if (!target) {
      log.info(`${name}: already on this machine (${held.why}); nothing looked up or downloaded`);
      return Promise.resolve(heldResult(name, held));
    }
    if (!readable) return Promise.resolve(none);
    if (target.narrowed) log.info(`${name}: this machine holds an earlier dependency set of this configuration (${held.why}); looking up only an entry of this one`);
    const restored = restoreEntry(client, name, target, log, { ...lookup, label });
    return target.narrowed ? restored.then((r) => narrowedResult(r, held)) : restored;
  };
  const archived = (name) => (name === 'modules' ? inputs.modulesCache : inputs.buildCache);

  // 3. The keys of the Go that will run the job. When that is the installed Go (GOTOOLCHAIN
  // forbids switching, or nothing asks for a newer one), the first keys are final and both
  // entries restore at once; otherwise the modules entry comes first, then `keys` may switch.
  let mod;
  let bld;
  const final = !early || runsInstalledGo(env.GOTOOLCHAIN, early.inputs.go.GOVERSION || '', early.project?.required_go);
  if (final) {
    if (early && earlyStderr) process.stderr.write(earlyStderr);
    exportPaths(k);
    const both = ['modules', 'build'].filter(archived);
    if (both.length > 0) claimFor(both.length === 2 ? 'both' : both[0], env);
    if (both.length === 2 && machine) Object.assign(claimed, { modules: machine.modules, build: machine.build });
    core.startGroup('go-ci-cache: restore');
    [mod, bld] = await Promise.all([restoreOne('modules', k.modules, 'modules'), restoreOne('build', k.build, 'build')]);
    core.endGroup();
  } else {
    if (archived('modules')) claimFor('modules', { ...env, GOTOOLCHAIN: 'local' });
    core.startGroup('go-ci-cache: restore modules');
    mod = await restoreOne('modules', k.modules);
    core.endGroup();
    const full = keys(bin, env);
    if (!full) return;
    if (full.modules.key !== k.modules.key) {
      core.info(`go-ci-cache: the modules key changed with the job's GOTOOLCHAIN (${k.modules.key} → ${full.modules.key}); restoring again`);
      record('restore.modules', mod.timing);
      mod = await restoreOne('modules', full.modules);
    }
    k = full;
    exportPaths(k);
    if (archived('build')) claimFor('build', env);
    core.startGroup('go-ci-cache: restore build');
    bld = await restoreOne('build', k.build);
    core.endGroup();
  }
  record('restore.modules', mod.timing);
  record('restore.build', bld.timing);
  bld = judgeBuildHit(bld, k.build, Boolean(inputs.rollingSuffix));
  if (bld.hit && !bld.exact) core.info(`build: ${bld.matched} has this dependency set and configuration (the newest such entry); this run's own key is ${k.build.key}`);
  core.info(`go-ci-cache: restore status: modules ${mod.status}, build ${bld.status}`);

  if (prefetchP) {
    const t0 = performance.now();
    const p = await prefetchP;
    timings['restore.remote.prefetch'] = (performance.now() - t0) / 1000;
    if (p.stderr) process.stderr.write(p.stderr);
    if (p.status !== 0) {
      // A cache program that did not end well is not handed to the job's go commands.
      core.warning(`go-ci-cache: the remote build cache is off for this job: its prefetch ended with status ${p.status} (the output is above); the job's go commands compile what they need`);
      for (const name of Object.keys(remote.vars)) delete env[name];
      remote = { ...remote, on: false, vars: {} };
    }
  }
  for (const [name, value] of Object.entries(remote.vars)) core.exportVariable(name, value);

  const budget = await budgetP;
  core.info(`go-ci-cache: ${budgetLine(budget)}`);

  // Neither archived (remote only): prepare and warm still see GOCACHE, which holds next to
  // nothing while GOCACHEPROG serves the builds.
  const caches = inputs.modulesCache && inputs.buildCache ? 'both' : inputs.modulesCache ? 'modules' : 'build';
  const common = ['--caches', caches];
  if (!inputs.lookupOnly) {
    const prep = ['prepare', ...common];
    if (mod.matched) prep.push('--modules-restored-key', mod.matched);
    if (mod.hit) prep.push('--modules-hit');
    if (bld.matched) prep.push('--build-restored-key', bld.matched);
    if (bld.hit) prep.push('--build-hit');
    runBinary(bin, prep, env);
  }

  const hits = { modules: !inputs.modulesCache || mod.hit, build: !inputs.buildCache || bld.hit };
  if (inputs.lookupOnly) {
    core.info('go-ci-cache: lookup-only: nothing was downloaded, the warm-up and the save are off');
  } else if (shouldWarm(inputs.warm, hits)) {
    const w = ['warm', ...common];
    if (inputs.warmVet) w.push('--vet');
    if (inputs.warmTest) w.push('--test');
    runBinary(bin, w, env);
  } else {
    const why = inputs.warm === 'auto' ? 'both entries were hits' : 'the job compiles what it needs; set `warm: always` in a separate warm job';
    core.info(`go-ci-cache: warm-up skipped (warm: ${inputs.warm}: ${why})`);
  }

  let coverage = '';
  // The phases timed here go into the run state, so the post step's report has them all.
  const rep = runBinary(bin, ['report', '--format', 'json', '--state', state, ...(inputs.lookupOnly ? [] : timingArgs(timings))], env, { capture: true });
  if (rep.status === 0) {
    try {
      const w = JSON.parse(rep.stdout).warm;
      const c = w?.after || w?.before;
      if (c) coverage = `${c.std_cached + c.third_party_cached}/${c.std_total + c.third_party_total}`;
    } catch {
      // No report: no coverage output.
    }
  }

  setOutputs({
    'cache-hit': String(inputs.modulesCache && inputs.buildCache && mod.hit && bld.hit),
    'modules-hit': String(mod.hit),
    'build-hit': String(bld.hit),
    'modules-status': mod.status,
    'build-status': bld.status,
    'modules-key': k.modules.key,
    'build-key': k.build.key,
    'modules-matched-key': mod.matched,
    'build-matched-key': bld.matched,
    coverage,
    'go-version': k.inputs.go.GOVERSION || '',
    'cache-budget-gb': String(budget.gb),
    persistent: String(Boolean(machine?.persistent)),
  });

  core.saveState(
    'go-ci-cache',
    JSON.stringify({ bin, env: { dir: inputs.workingDirectory }, inputs: { ...inputs, token: '' }, state, keys: { modules: k.modules, build: k.build }, mod, bld, budget, prefilled: Boolean(filled), decision, persistent: Boolean(machine?.persistent) }),
  );
}

run().catch((e) => core.warning(`go-ci-cache is off for this job after an unexpected error: ${e.stack || e.message}`));
