// Shared by main and post: locating the action, running the binary, logging.

import { spawn, spawnSync } from 'node:child_process';
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

/**
 * Runs the binary in the background (never through a shell), its output held back; resolves to
 * { status, stdout, stderr } when it ends, or after `timeoutMs` with the process killed
 * (status null). Never rejects: a binary that cannot start resolves with status null.
 */
export function runBinaryAsync(bin, args, env, { timeoutMs = 180_000 } = {}) {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let child;
    try {
      child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      resolve({ status: null, stdout, stderr: `cannot run ${bin}: ${e.message}\n` });
      return;
    }
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      stderr += `go-ci-cache: ${args.join(' ')} did not end within ${Math.round(timeoutMs / 1000)}s and was stopped\n`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ status: null, stdout, stderr: stderr + `cannot run ${bin}: ${e.message}\n` });
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** Where the binary's run state lives for this job. */
export function statePath() {
  const base = process.env.RUNNER_TEMP || process.env.TMPDIR || '/tmp';
  return path.join(base, 'go-ci-cache', `state-${process.env.GITHUB_JOB || 'job'}-${process.env.GITHUB_ACTION || 'step'}.json`);
}
