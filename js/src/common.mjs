// Shared by main and post: locating the action, running the binary, logging.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The action's own directory (dist/ lives directly under it). */
export function actionDir() {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
}

export function readManifest() {
  const p = process.env.GO_CI_CACHE_MANIFEST || path.join(actionDir(), 'dist', 'manifest.json');
  return JSON.parse(fs.readFileSync(p, 'utf8'));
}

/**
 * Runs the binary with arguments (never through a shell). `capture` returns stdout and
 * `captureStderr` stderr; otherwise they go to the log. Returns { status, stdout, stderr }.
 */
export function runBinary(bin, args, env, { capture = false, captureStderr = false } = {}) {
  const r = spawnSync(bin, args, {
    env,
    stdio: ['ignore', capture ? 'pipe' : 'inherit', captureStderr ? 'pipe' : 'inherit'],
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw new Error(`cannot run ${bin}: ${r.error.message}`);
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** The default branch from the event payload, if the event has a repository. */
export function defaultBranch() {
  try {
    const ev = JSON.parse(fs.readFileSync(process.env.GITHUB_EVENT_PATH, 'utf8'));
    return ev?.repository?.default_branch || '';
  } catch {
    return '';
  }
}

/** Where the binary's run state lives for this job. */
export function statePath() {
  const base = process.env.RUNNER_TEMP || process.env.TMPDIR || '/tmp';
  return path.join(base, 'go-ci-cache', `state-${process.env.GITHUB_JOB || 'job'}-${process.env.GITHUB_ACTION || 'step'}.json`);
}
