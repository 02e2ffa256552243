// Restoring and saving one cache entry through @actions/cache, with an honest status.
//
// The toolkit reports trouble only as log lines (`::warning::Failed to restore: …`) and returns
// `undefined` or -1, so a failed extraction looks like a miss and a 429 like a lost race. The
// client adapter below captures the toolkit's own messages while it runs, and the functions here
// turn them into one line each: a notice for what the user cannot change in this run (a rate
// limit, a read-only cache), a warning for real trouble, never an error that fails the job.
// Tar's stderr during a restore is capped so an extraction over an existing tree cannot flood
// the log.

import { AsyncLocalStorage } from 'node:async_hooks';
import fs from 'node:fs';
import path from 'node:path';

/** Lines of tar output shown before the rest is summarised. */
export const TAR_LINES_SHOWN = 5;

const unescape = (s) => s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');

/**
 * Splits what the toolkit wrote to stdout into its messages (workflow commands and its
 * "Failed to …" info lines) and everything else (passed through).
 */
export function parseToolkitLine(line) {
  const m = /^::(warning|error|notice)(?: [^:]*)?::(.*)$/.exec(line);
  if (m) return { level: m[1], text: unescape(m[2]) };
  if (/^(Failed to (save|restore)|Cache restore skipped|Cache save skipped|You've hit a rate limit)/.test(line)) {
    return { level: 'info', text: line };
  }
  return null;
}

/** The capture an output line belongs to: the async context it was written from. */
const current = new AsyncLocalStorage();

/** Streams whose `write` is patched, with the originals and how many captures use them. */
const patched = new WeakMap();

const feed = (buf, chunk, each) => {
  const parts = (buf + chunk).split(/\r?\n/);
  const rest = parts.pop();
  for (const p of parts) each(p);
  return rest;
};

function patch(streams) {
  let p = patched.get(streams.out);
  if (p) {
    p.users += 1;
    return p;
  }
  p = { users: 1, out: streams.out.write, err: streams.err.write };
  patched.set(streams.out, p);
  const done = (enc, cb) => {
    if (typeof enc === 'function') enc();
    else if (typeof cb === 'function') cb();
    return true;
  };
  streams.out.write = (chunk, enc, cb) => {
    const cap = current.getStore();
    // Outside every capture (our own lines between two concurrent ones), and bytes (a child's
    // output, a test runner's own protocol) pass through untouched; @actions/core writes strings.
    if (!cap || cap.streams.out !== streams.out || typeof chunk !== 'string') return p.out.call(streams.out, chunk, enc, cb);
    cap.outBuf = feed(cap.outBuf, chunk, cap.outLine);
    return done(enc, cb);
  };
  streams.err.write = (chunk, enc, cb) => {
    const cap = current.getStore();
    if (!cap || cap.streams.out !== streams.out) return p.err.call(streams.err, chunk, enc, cb);
    cap.errBuf = feed(cap.errBuf, typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'), cap.errLine);
    return done(enc, cb);
  };
  return p;
}

function unpatch(streams) {
  const p = patched.get(streams.out);
  p.users -= 1;
  if (p.users === 0) {
    streams.out.write = p.out;
    streams.err.write = p.err;
    patched.delete(streams.out);
  }
}

/**
 * Runs `fn` while capturing the toolkit's messages from stdout and capping stderr (tar) to
 * TAR_LINES_SHOWN lines. Returns { value, messages, stderrLines, marks }; throws what `fn`
 * throws, with `messages` and `marks` attached. Captures may run concurrently (the two entries
 * restore at once): each line goes to the capture whose async context wrote it, and with a
 * `label` the lines it passes through say which entry they are about.
 */
export async function captured(fn, streams = { out: process.stdout, err: process.stderr }, clock = () => performance.now(), { label = '' } = {}) {
  const p = patch(streams);
  const tag = label ? `[${label}] ` : '';
  const cap = {
    streams,
    messages: [],
    // When each line came (ms): the toolkit has no timing hooks, so its own log lines mark
    // where one phase ends and the next begins (see phaseTimes).
    marks: [],
    stderrLines: 0,
    outBuf: '',
    errBuf: '',
  };
  cap.outLine = (line) => {
    cap.marks.push({ t: clock(), line });
    const m = parseToolkitLine(line);
    if (m) cap.messages.push(m);
    else p.out.call(streams.out, `${line.startsWith('::') ? '' : tag}${line}\n`);
  };
  cap.errLine = (line) => {
    cap.stderrLines += 1;
    if (cap.stderrLines <= TAR_LINES_SHOWN) p.err.call(streams.err, `${tag}${line}\n`);
  };
  const finish = () => {
    if (cap.outBuf) cap.outLine(cap.outBuf);
    if (cap.errBuf) cap.errLine(cap.errBuf);
    if (cap.stderrLines > TAR_LINES_SHOWN) {
      p.out.call(streams.out, `${tag}… and ${cap.stderrLines - TAR_LINES_SHOWN} more lines of tar output, not shown\n`);
    }
    unpatch(streams);
  };
  try {
    const value = await current.run(cap, fn);
    finish();
    return { value, messages: cap.messages, stderrLines: cap.stderrLines, marks: cap.marks };
  } catch (e) {
    finish();
    e.messages = cap.messages;
    e.marks = cap.marks;
    throw e;
  }
}

/**
 * Where a restore or a save spent its time (pure over the log marks of `captured`, in ms since
 * the same clock's `start`, ending at `end`). Restore: `lookup` until the toolkit names the
 * archive path (it has found an entry), `download` until it logs the archive's size, `extract`
 * after. Save: `compress` until it logs the archive's size (`File Size`), `upload` (reserve,
 * upload, commit) after. A boundary the log does not show folds into the phase before it.
 * Returns seconds per phase.
 */
export function phaseTimes(kind, marks, start, end) {
  const at = (re) => marks.find((m) => re.test(m.line.replace(/^::debug::/, '')))?.t;
  const secs = (a, b) => Math.max(0, (b - a) / 1000);
  if (kind === 'restore') {
    const found = at(/^(Archive [Pp]ath:|Cache hit for)/);
    const size = at(/^Cache Size:/);
    if (found === undefined) return { lookup: secs(start, end) };
    if (size === undefined) return { lookup: secs(start, found), download: secs(found, end) };
    return { lookup: secs(start, found), download: secs(found, size), extract: secs(size, end) };
  }
  const size = at(/^File Size:/);
  if (size === undefined) return { compress: secs(start, end) };
  return { compress: secs(start, size), upload: secs(size, end) };
}

/** `report --timing` arguments for a map of phase → seconds. */
export function timingArgs(timings) {
  return Object.entries(timings).flatMap(([k, v]) => ['--timing', `${k}=${v.toFixed(3)}`]);
}

/**
 * The client over the real toolkit (or a fake with the same two functions): each call returns
 * { value, messages }.
 */
export function toolkitClient(lib, { clock = () => performance.now() } = {}) {
  return {
    restore: (paths, key, restoreKeys, opts, label) => captured(() => lib.restoreCache(paths, key, restoreKeys, opts), undefined, clock, { label }),
    save: (paths, key) => captured(() => lib.saveCache(paths, key), undefined, clock),
  };
}

/**
 * GNU tar reads options from TAR_OPTIONS: `--skip-old-files` makes an extraction over an existing
 * tree keep what is there (both caches are content-addressed, so an existing file already holds
 * the right bytes) instead of failing on read-only module directories (setup-go#403/#722,
 * actions/cache#1104). Returns a function that puts the previous value back.
 */
export function skipExistingFiles(env = process.env) {
  // Restores may run at once: the option stays until the last of them is done.
  const users = skipUsers.get(env) || { n: 0, prev: env.TAR_OPTIONS };
  if (users.n === 0) {
    users.prev = env.TAR_OPTIONS;
    env.TAR_OPTIONS = [users.prev, '--skip-old-files'].filter(Boolean).join(' ');
  }
  users.n += 1;
  skipUsers.set(env, users);
  let undone = false;
  return () => {
    if (undone) return;
    undone = true;
    users.n -= 1;
    if (users.n > 0) return;
    if (users.prev === undefined) delete env.TAR_OPTIONS;
    else env.TAR_OPTIONS = users.prev;
  };
}

const skipUsers = new WeakMap();

/** What a list of toolkit messages says went wrong (pure). */
export function classify(messages) {
  const text = messages.map((m) => m.text).join('\n');
  if (/rate limit|\(429\)|too many requests/i.test(text)) {
    const after = /reset in (\d+) seconds|retry[- ]after:? ?(\d+)/i.exec(text);
    return { kind: 'rate-limited', retryAfter: after ? Number(after[1] || after[2]) : undefined, text };
  }
  if (/cache write denied|cache read denied|\(403\)|forbidden|read-only|does not permit (reads|writes)/i.test(text)) {
    return { kind: 'denied', text };
  }
  if (/budget|quota|storage limit|exceed(s|ed)? .*limit|over the (data cap|10GB) limit/i.test(text)) {
    return { kind: 'budget', text };
  }
  if (/another job may be creating this cache|already exists|\(409\)/i.test(text)) {
    return { kind: 'taken', text };
  }
  const trouble = messages.filter((m) => m.level === 'warning' || m.level === 'error' || /^Failed to /.test(m.text));
  if (trouble.length > 0) return { kind: 'failed', text: trouble.map((m) => m.text.replace(/^Failed to (save|restore): /, '')).join('; ') };
  return { kind: 'ok', text };
}

const sameKey = (a, b) => a.toLowerCase() === b.toLowerCase();

/** Entries in a directory (0 when it does not exist). */
export function countEntries(dir) {
  try {
    return fs.readdirSync(dir).length;
  } catch {
    return 0;
  }
}

/**
 * Cached outputs in a GOCACHE: files in its `00`…`ff` subdirectories. Any `go env` creates the
 * empty skeleton (256 directories, README), which is not a filled cache.
 */
export function countBuildEntries(dir) {
  let n = 0;
  let subdirs;
  try {
    subdirs = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const d of subdirs) {
    if (d.isDirectory() && /^[0-9a-f]{2}$/.test(d.name)) n += countEntries(path.join(dir, d.name));
  }
  return n;
}

/**
 * Fewer build-cache files than this are not a restored cache: a plain `go env` (setup-go runs
 * one) stores about ten cgo probe results, while any archive of a build cache holds the
 * standard library's compiled packages, hundreds of files.
 */
export const BUILD_PREFILL_MIN = 64;

/**
 * What was in the cache roots before our restore (pure over a counter): on an ephemeral runner
 * they start empty, so anything there came from an earlier step, almost always actions/setup-go
 * with its default `cache: true`. Returns the one warning to give, or ''. (On a self-hosted
 * runner full roots are normal; the caller does not ask.)
 */
export function prefilledWarning({ modules, build }, counts) {
  const filled = [];
  if (modules && counts.modules > 0) filled.push(`GOMODCACHE (${modules}: ${counts.modules} entries)`);
  if (build && counts.build >= BUILD_PREFILL_MIN) filled.push(`GOCACHE (${build}: ${counts.build} entries)`);
  if (filled.length === 0) return '';
  const what = filled.join(' and ');
  return (
    `${what} already held files before go-ci-cache restored ${filled.length > 1 ? 'them' : 'it'}: an earlier step filled ` +
    `${filled.length > 1 ? 'them' : 'it'}, most likely actions/setup-go, whose \`cache\` input defaults to true. ` +
    'Set `cache: false` on actions/setup-go: go-ci-cache caches both directories itself, and two caches mean two downloads ' +
    'and two saves. This run keeps the files already there and adds the missing ones.'
  );
}

/**
 * Restores one entry. `log` has info/notice/warning. Returns { status, matched, hit, detail, timing }
 * where status is `hit` | `partial` | `miss` | `failed` | `skipped` | `found` (lookup only).
 */
export async function restoreEntry(client, name, entry, log, { lookupOnly = false, clock = () => performance.now(), label = '' } = {}) {
  const start = clock();
  const out = await restoreOnce(client, name, entry, log, lookupOnly, label);
  out.timing = phaseTimes('restore', out.marks || [], start, clock());
  delete out.marks;
  return out;
}

async function restoreOnce(client, name, entry, log, lookupOnly, label) {
  let r;
  const undo = lookupOnly ? () => {} : skipExistingFiles();
  try {
    r = await client.restore([entry.path], entry.key, entry.restore_keys, lookupOnly ? { lookupOnly: true } : undefined, label);
  } catch (e) {
    undo();
    log.warning(`go-ci-cache: the ${name} cache could not be restored, going on without it: ${e.message}`);
    return { status: 'failed', matched: '', hit: false, detail: e.message, marks: e.marks };
  }
  undo();
  const marks = r.marks;
  const c = classify(r.messages);
  const matched = r.value || '';
  if (!matched) {
    if (c.kind === 'denied' || /does not permit reads/.test(c.text)) {
      log.notice(`go-ci-cache: ${name}: not restored, the cache cannot be read by this job (${firstLine(c.text)})`);
      return { status: 'skipped', matched: '', hit: false, detail: c.text, marks };
    }
    if (c.kind === 'rate-limited') {
      log.notice(`go-ci-cache: ${name}: not restored, the cache service is rate-limiting this repository (HTTP 429); going on without it`);
      return { status: 'failed', matched: '', hit: false, detail: c.text, marks };
    }
    if (c.kind !== 'ok') {
      // The toolkit returns undefined both for "nothing matched" and for a download or an
      // extraction that broke: only its message tells them apart.
      log.warning(`go-ci-cache: ${name}: restore failed, going on without it: ${firstLine(c.text)}`);
      return { status: 'failed', matched: '', hit: false, detail: c.text, marks };
    }
    log.info(`${name}: no cache for ${entry.key} or its restore keys`);
    return { status: 'miss', matched: '', hit: false, detail: '', marks };
  }
  const hit = sameKey(matched, entry.key);
  if (lookupOnly) {
    log.info(`${name}: found ${hit ? 'exact key' : 'restore key'} ${matched} (lookup-only: not downloaded)`);
    return { status: 'found', matched, hit, detail: '', marks };
  }
  log.info(`${name}: restored ${hit ? 'exact key' : 'restore key'} ${matched}`);
  return { status: hit ? 'hit' : 'partial', matched, hit, detail: '', marks };
}

const firstLine = (s) => s.split('\n').find((l) => l.trim()) || s;

/**
 * Saves one entry: looks the key up first (a job of the same matrix that already saved it
 * costs nothing: no compression, no upload), then saves once, without retries. Returns
 * { status, line } where status is `saved` | `exists` | `rate-limited` | `read-only` |
 * `budget` | `taken` | `failed`, and `line` is the step summary's line.
 */
export async function saveEntry(client, name, entry, log, { clock = () => performance.now() } = {}) {
  const t0 = clock();
  const timing = {};
  const out = await saveOnce(client, name, entry, log, clock, t0, timing);
  out.timing = timing;
  return out;
}

async function saveOnce(client, name, entry, log, clock, t0, timing) {
  try {
    const found = await client.restore([entry.path], entry.key, [], { lookupOnly: true });
    if (found.value && sameKey(found.value, entry.key)) {
      timing.lookup = (clock() - t0) / 1000;
      log.info(`go-ci-cache: ${name} cache ${entry.key} was already saved by another job; skipping`);
      return { status: 'exists', line: `${name}: already saved by another job` };
    }
  } catch {
    // The lookup is an optimisation; the save below reports real trouble.
  }
  const t1 = clock();
  timing.lookup = (t1 - t0) / 1000;
  let r;
  try {
    r = await client.save([entry.path], entry.key);
  } catch (e) {
    r = { value: -1, messages: [...(e.messages || []), { level: 'warning', text: e.message }], marks: e.marks };
  }
  Object.assign(timing, phaseTimes('save', r.marks || [], t1, clock()));
  if (typeof r.value === 'number' && r.value !== -1) {
    log.info(`go-ci-cache: saved the ${name} cache as ${entry.key}`);
    return { status: 'saved', line: `${name}: saved as \`${entry.key}\`` };
  }
  const c = classify(r.messages);
  switch (c.kind) {
    case 'rate-limited': {
      const when = c.retryAfter ? ` (retry after ${c.retryAfter} s)` : '';
      log.notice(`go-ci-cache: ${name} cache not saved: the cache service is rate-limiting uploads for this repository (HTTP 429)${when}; not retrying, a later run saves it`);
      return { status: 'rate-limited', line: `${name}: not saved: rate-limited (HTTP 429)` };
    }
    case 'denied':
      log.notice(`go-ci-cache: ${name} cache not saved: this job may not write to the cache (${firstLine(c.text)}); restoring still works`);
      return { status: 'read-only', line: `${name}: not saved: the cache is read-only for this job` };
    case 'budget':
      log.notice(`go-ci-cache: ${name} cache not saved: the repository's cache budget is spent (${firstLine(c.text)}); the cache is read-only until it frees up`);
      return { status: 'budget', line: `${name}: not saved: cache budget spent` };
    case 'taken':
      log.info(`go-ci-cache: ${name} cache ${entry.key} is being saved by another job right now; skipping`);
      return { status: 'taken', line: `${name}: saved by another job` };
    default:
      log.warning(`go-ci-cache: the ${name} cache could not be saved: ${firstLine(c.text) || 'the cache service refused it'}`);
      return { status: 'failed', line: `${name}: save failed: ${firstLine(c.text)}` };
  }
}

/** Whether a directory exists and is empty of files we would save. */
export function isEmptyDir(dir) {
  return countEntries(path.resolve(dir)) === 0;
}
