// The action's post step: trim (on a machine that keeps its caches: to the budget, writing the
// archive's exclusions) → save each entry per policy (looking the key up before
// compressing, one attempt, no retries) → report into the step summary. Nothing here can fail
// the job: a rate limit or a read-only cache is a notice, other trouble a warning.

import fs from 'node:fs';

import * as cache from '@actions/cache';
import * as core from '@actions/core';

import { budgetLine } from './budget.mjs';
import { saveEntry, timingArgs, toolkitClient } from './cacheops.mjs';
import { runBinary } from './common.mjs';
import { binaryEnv, excludeOptions, freshDecision, pruneArgs, saveDecision, trimArgs } from './inputs.mjs';

const log = { info: core.info, notice: core.notice, warning: core.warning };

/**
 * After a save: deletes the superseded entries of each saved entry's kind, configuration and
 * ref through the REST API (`go-ci-cache prune`), keeping the newest `keep`. Without a token
 * or without `actions: write` this is one line and GitHub's own eviction applies.
 */
function prune(st, env, ref, saved, lines) {
  const token = core.getInput('token');
  if (!token) {
    core.info('go-ci-cache: superseded entries are not pruned: no `token` (GitHub\'s own eviction bounds the store)');
    return;
  }
  core.startGroup('go-ci-cache: prune superseded entries');
  for (const [name, entry] of saved) {
    const args = pruneArgs(entry, { keep: st.inputs.keep ?? 2, ref, budgetGb: st.budget?.gb });
    const r = runBinary(st.bin, args, { ...env, GITHUB_TOKEN: token }, { capture: true, captureStderr: true });
    const out = (r.stdout || '').trim();
    if (out) core.info(out);
    // Its notice or warning (workflow commands) goes to the log as it came.
    if (r.stderr) process.stdout.write(r.stderr.endsWith('\n') ? r.stderr : `${r.stderr}\n`);
    const m = /deleted (\d+) of (\d+) entries \(([^)]*)\)/.exec(out);
    if (m) lines.push(`- ${name}: pruned ${m[1]} superseded ${m[1] === '1' ? 'entry' : 'entries'} (${m[3]})`);
    // A missing permission is the same for the other entry: one notice is enough.
    if (r.status !== 0 || /actions: write/.test(r.stderr || '')) break;
  }
  core.endGroup();
}

async function run() {
  const raw = core.getState('go-ci-cache');
  if (!raw) {
    core.info('go-ci-cache: main did not finish; nothing to save');
    return;
  }
  const st = JSON.parse(raw);
  const env = binaryEnv(st.inputs, process.env, st.state);
  const ref = process.env.GITHUB_REF || '';
  const entries = [
    ['modules', st.inputs.modulesCache, st.keys.modules, st.mod],
    ['build', st.inputs.buildCache, st.keys.build, st.bld],
  ];
  const plan = [];
  const lines = [];
  for (const [name, enabled, entry, restored] of entries) {
    if (!enabled) continue;
    lines.push(`- ${name}: restore ${restored.status}${restored.matched ? ` (\`${restored.matched}\`)` : ''}`);
    // `exact` is the key itself; `hit` may be a newer entry's prefix match (judgeBuildHit).
    const exactHit = restored.exact ?? restored.hit;
    const d = saveDecision({ decision: st.decision, exactHit });
    if (d.save) plan.push([name, entry]);
    else {
      core.info(`go-ci-cache: not saving the ${name} cache: ${d.why}`);
      lines.push(`- ${name}: not saved: ${d.why}`);
    }
  }

  let after = {};
  let added;
  const excludes = {};
  // On a machine that keeps its caches every job trims (to the budget) and records what they
  // hold; elsewhere a job that saves nothing only records and ends its leases.
  if (!st.inputs.lookupOnly) {
    core.startGroup('go-ci-cache: trim');
    runBinary(st.bin, trimArgs(plan.map(([n]) => n), st.persistent), env);
    core.endGroup();
  }
  if (plan.length > 0) {
    const rep = runBinary(st.bin, ['report', '--format', 'json', '--state', st.state], env, { capture: true });
    if (rep.status === 0) {
      try {
        const t = JSON.parse(rep.stdout).trim;
        after = { modules: t?.gomodcache?.after, build: t?.gocache?.after };
        added = t?.gocache?.added ?? undefined;
        Object.assign(excludes, { modules: t?.gomodcache?.exclude_file, build: t?.gocache?.exclude_file });
      } catch {
        // No trim report: save what is there.
      }
    }
  }
  const client = toolkitClient(cache);
  core.startGroup('go-ci-cache: save');
  let uploads = 0;
  const saved = [];
  const timings = {};
  for (const [name, entry] of plan) {
    if (!fs.existsSync(entry.path) || after[name]?.files === 0) {
      core.info(`go-ci-cache: not saving the ${name} cache: the job left nothing in it`);
      lines.push(`- ${name}: not saved: empty`);
      continue;
    }
    if (name === 'build') {
      const f = freshDecision({ matched: st.bld.matched, added, sameSet: Boolean(st.bld.hit) });
      if (!f.save) {
        core.info(`go-ci-cache: not saving the build cache: ${f.why}`);
        lines.push(`- build: not saved: ${f.why}`);
        continue;
      }
      if (added !== undefined && st.bld.matched) core.info(`go-ci-cache: the job added ${added} build-cache entries to the restored ${st.bld.matched}`);
    }
    // On a machine that keeps its caches the archive leaves out what the job did not use
    // (GNU tar reads TAR_OPTIONS; @actions/cache passes the environment to it), and the local
    // cache keeps everything.
    const prevTar = process.env.TAR_OPTIONS;
    if (st.persistent) {
      const opts = excludeOptions(excludes[name], prevTar);
      if (!opts) {
        core.info(`go-ci-cache: not saving the ${name} cache: trim could not list what this job did not use, and an archive of a cache other jobs share would carry their entries`);
        lines.push(`- ${name}: not saved: no exclusions`);
        continue;
      }
      process.env.TAR_OPTIONS = opts;
    }
    let r;
    try {
      r = await saveEntry(client, name, entry, log);
    } finally {
      if (prevTar === undefined) delete process.env.TAR_OPTIONS;
      else process.env.TAR_OPTIONS = prevTar;
    }
    for (const [k, v] of Object.entries(r.timing || {})) timings[`save.${name}.${k}`] = v;
    if (r.status === 'saved') {
      uploads += 1;
      saved.push([name, entry]);
    }
    lines.push(`- ${r.line}`);
    // One 429 answers for the whole repository this minute: do not try the other entry.
    if (r.status === 'rate-limited' || r.status === 'read-only' || r.status === 'budget') {
      for (const [other] of plan.slice(plan.findIndex(([n]) => n === name) + 1)) {
        core.info(`go-ci-cache: not saving the ${other} cache either (${r.status})`);
        lines.push(`- ${other}: not saved: ${r.status}`);
      }
      break;
    }
  }
  core.endGroup();
  core.info(`go-ci-cache: ${uploads} new cache ${uploads === 1 ? 'entry' : 'entries'} uploaded by this job`);
  if (saved.length > 0) {
    const t0 = performance.now();
    prune(st, env, ref, saved, lines);
    timings.prune = (performance.now() - t0) / 1000;
  }
  runBinary(st.bin, ['report', '--format', 'github', '--state', st.state, ...timingArgs(timings)], env);
  // The same phase times in the log, one line.
  const text = runBinary(st.bin, ['report', '--format', 'text', '--state', st.state], env, { capture: true });
  const time = (text.stdout || '').split('\n').find((l) => l.startsWith('time: '));
  if (time) core.info(`go-ci-cache: ${time}`);
  if (st.budget) lines.push(`- ${budgetLine(st.budget)}`);
  if (process.env.GITHUB_STEP_SUMMARY && lines.length > 0) {
    fs.appendFileSync(process.env.GITHUB_STEP_SUMMARY, `${lines.join('\n')}\n`);
  }
}

run().catch((e) => core.warning(`go-ci-cache post step: ${e.stack || e.message}`));
