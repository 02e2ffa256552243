// Action inputs: reading and validating them (pure over a getter), and the environment the
// go-ci-cache binary receives. Inputs reach the binary as GO_CI_CACHE_* variables, never through
// a shell.


/** Closed sets of allowed values, by input name. */
export const CHOICES = {
  warm: ['never', 'always', 'auto'],
  job: ['test', 'build', 'vet'],
  save: ['default-branch', 'pull-requests', 'always', 'never'],
  persistent: ['auto', 'true', 'false'],
};

const BOOLEANS = ['save-on-failure', 'modules-cache', 'warm-vet', 'warm-test', 'lookup-only', 'refresh', 'remote-read-only'];

/** The largest `keep` accepted: more would only postpone what GitHub's eviction does anyway. */
export const MAX_KEEP = 20;

/** An input value outside its allowed set. */
export class InputError extends Error {}

function choice(name, raw) {
  const v = raw.trim().toLowerCase();
  if (!CHOICES[name].includes(v)) {
    throw new InputError(
      `input \`${name}\` is \`${raw}\`; allowed values: ${CHOICES[name].map((c) => `\`${c}\``).join(', ')}`,
    );
  }
  return v;
}

function bool(name, raw) {
  const v = raw.trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new InputError(`input \`${name}\` is \`${raw}\`; allowed values: \`true\`, \`false\``);
}

function count(name, raw) {
  const v = raw.trim();
  if (!/^[0-9]+$/.test(v) || Number(v) < 1 || Number(v) > MAX_KEEP) {
    throw new InputError(`input \`${name}\` is \`${raw}\`; allowed values: a whole number from 1 to ${MAX_KEEP}`);
  }
  return Number(v);
}

/**
 * Reads every input through `get(name)` (which returns '' for unset inputs; action.yml supplies
 * the defaults) and validates it.
 */
export function readInputs(get) {
  const s = (name, dflt = '') => {
    const v = get(name);
    return v === undefined || v === '' ? dflt : v;
  };
  const inputs = {
    workingDirectory: s('working-directory', '.'),
    keyPrefix: s('key-prefix', 'go-ci-cache'),
    dependencyFiles: s('dependency-files'),
    buildFlags: s('build-flags'),
    rollingSuffix: s('rolling-suffix'),
    warm: choice('warm', s('warm', 'never')),
    job: choice('job', s('job', 'test')),
    save: choice('save', s('save', 'default-branch')),
    binary: s('binary'),
    token: s('token'),
    keep: count('keep', s('keep', '2')),
    persistent: choice('persistent', s('persistent', 'auto')),
    budget: budgetInput(s('cache-budget', 'auto')),
  };
  const defaults = { 'save-on-failure': 'false', 'modules-cache': 'true', 'warm-vet': 'false', 'warm-test': 'false', 'lookup-only': 'false', refresh: 'true', 'remote-read-only': 'false' };
  const b = {};
  for (const name of BOOLEANS) b[name] = bool(name, s(name, defaults[name]));
  inputs.saveOnFailure = b['save-on-failure'];
  inputs.modulesCache = b['modules-cache'];
  // '' (the default): on, unless the remote build cache serves the builds (resolveRemote).
  inputs.buildCache = s('build-cache') === '' ? null : bool('build-cache', s('build-cache'));
  inputs.warmVet = b['warm-vet'];
  inputs.warmTest = b['warm-test'];
  inputs.lookupOnly = b['lookup-only'];
  inputs.refresh = b.refresh;
  // Checked by the binary (`cacheprog --check`), the one rule the cache program itself applies.
  inputs.remote = s('remote').trim();
  inputs.remoteReadOnly = b['remote-read-only'];
  if (!inputs.modulesCache && inputs.buildCache === false && !inputs.remote) {
    throw new InputError('inputs `modules-cache` and `build-cache` are both `false`; enable at least one');
  }
  return inputs;
}

/** The `cache-budget` input: `auto` or a size such as `20GB` or `512MiB` (as `trim --budget`). */
function budgetInput(raw) {
  const v = raw.trim();
  if (/^auto$/i.test(v) || /^[0-9]+(\.[0-9]+)?\s*([kmgt]i?b?|b)?$/i.test(v)) return v;
  throw new InputError(`input \`cache-budget\` is \`${raw}\`; allowed values: \`auto\` or a size such as \`20GB\` or \`512MiB\``);
}

/** AWS variables any of which lets the cache program sign requests (object_store's chain). */
const AWS_CREDENTIALS = ['AWS_ACCESS_KEY_ID', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_SKIP_SIGNATURE'];

/** Go's `quoted.Split` reads GOCACHEPROG: a path with a space goes in single quotes. */
function goQuote(path) {
  return /[\s'"]/.test(path) ? `'${path.replace(/'/g, '')}'` : path;
}

/**
 * Whether this job uses the remote build cache, and what that sets (pure). `ctx`: the Go that
 * runs (`goVersion`), the binary (an absolute path), the job's environment and the keys'
 * `remote_manifest` (`scope`: configuration and project, from which the cache program names the
 * job's manifest `<configuration>-<GITHUB_JOB>-<project>` and picks its siblings). Which
 * namespace the job writes, if any, is the cache program's decision (`go-ci-cache trust`): it
 * gets the `save` policy (`never` for lookup-only) and `remote-read-only`.
 * Returns `{ on, note, vars, buildCache }`: the variables to export (GOCACHEPROG and the cache
 * program's own), a line for the log when the remote stays off, and whether the GOCACHE archive
 * is used (the `build-cache` input; by default off while the remote serves the builds).
 */
export function resolveRemote(inputs, { goVersion, bin, env, scope }) {
  const userProg = (env.GOCACHEPROG || '').trim() !== '';
  const archive = (on) => (inputs.buildCache === null ? !on : inputs.buildCache);
  if (!inputs.remote) return { on: false, note: '', vars: {}, buildCache: archive(userProg) };
  let note = '';
  const c = compareGo(goVersion, 'go1.24');
  if (c === null || c < 0) note = `the remote build cache needs Go 1.24 or later (GOCACHEPROG) and this job runs \`${goVersion || 'an unknown Go'}\``;
  else if (userProg) note = `GOCACHEPROG is already \`${env.GOCACHEPROG}\`; it stays, and \`remote\` is not used`;
  else if (env.RUNNER_ENVIRONMENT === 'github-hosted' && !AWS_CREDENTIALS.some((k) => (env[k] || '').trim() !== '')) {
    note = 'no AWS credentials in this job (pull requests from forks get no secrets), so the remote build cache is off: set them before this step, e.g. with aws-actions/configure-aws-credentials';
  }
  if (note) return { on: false, note: `${note}; the job compiles what it needs${archive(userProg) ? ' and the build cache is archived as usual' : ''}`, vars: {}, buildCache: archive(userProg) };
  const vars = {
    GOCACHEPROG: `${goQuote(bin)} cacheprog`,
    GO_CI_CACHE_REMOTE: inputs.remote,
    GO_CI_CACHE_SAVE: inputs.lookupOnly ? 'never' : inputs.save,
    GO_CI_CACHE_READ_ONLY: String(inputs.remoteReadOnly),
  };
  if (!env.GO_CI_CACHE_REMOTE_CONFIGURATION && scope?.configuration) {
    vars.GO_CI_CACHE_REMOTE_CONFIGURATION = scope.configuration;
    vars.GO_CI_CACHE_REMOTE_PROJECT = scope.project || 'any';
  }
  return { on: true, note: '', vars, buildCache: archive(true) };
}

/** Variables the binary and the go commands it runs must never see (actions/toolkit#1053). */
const SECRETS = ['ACTIONS_RUNTIME_TOKEN', 'ACTIONS_RUNTIME_URL', 'ACTIONS_RESULTS_URL', 'ACTIONS_CACHE_URL', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN', 'ACTIONS_ID_TOKEN_REQUEST_URL'];

/**
 * The environment for the binary: the job's, minus runtime secrets and the action's own
 * INPUT_* / STATE_* variables (INPUT_TOKEN is a token), plus the inputs.
 */
export function binaryEnv(inputs, base, statePath) {
  const env = { ...base };
  for (const k of SECRETS) delete env[k];
  for (const k of Object.keys(env)) {
    if (k.startsWith('INPUT_') || k.startsWith('STATE_')) delete env[k];
  }
  Object.assign(env, {
    GO_CI_CACHE_DIR: inputs.workingDirectory,
    GO_CI_CACHE_KEY_PREFIX: inputs.keyPrefix,
    GO_CI_CACHE_DEPENDENCY_FILES: inputs.dependencyFiles,
    GO_CI_CACHE_BUILD_FLAGS: inputs.buildFlags,
    GO_CI_CACHE_JOB: inputs.job || 'test',
    GO_CI_CACHE_ROLLING_SUFFIX: inputs.rollingSuffix,
    GO_CI_CACHE_STATE: statePath,
    GO_CI_CACHE_PERSISTENT: inputs.persistent || 'auto',
    GO_CI_CACHE_BUDGET: inputs.budget || 'auto',
  });
  for (const k of ['GO_CI_CACHE_DEPENDENCY_FILES', 'GO_CI_CACHE_ROLLING_SUFFIX']) {
    if (env[k] === '') delete env[k];
  }
  return env;
}

/**
 * The build key's last layer (pure over the environment): the `rolling-suffix` input when set;
 * else, with `refresh` on, one value per workflow run and attempt, so a run saves a new build
 * entry next to the ones before it, restore goes by prefix (the newest wins), and the jobs of
 * one run (a matrix of one configuration) share the key and upload it once. '' for none.
 */
export function rollingSuffix(inputs, env) {
  if (inputs.rollingSuffix) return inputs.rollingSuffix;
  if (!inputs.refresh) return '';
  const id = /^[0-9]+$/.test(env.GITHUB_RUN_ID || '') ? env.GITHUB_RUN_ID : String(Date.now());
  const attempt = /^[0-9]+$/.test(env.GITHUB_RUN_ATTEMPT || '') ? env.GITHUB_RUN_ATTEMPT : '1';
  return `r${id}.${attempt}`;
}

/**
 * How the restored build entry stands against this run's key (pure). With a per-run last
 * layer the exact key is never there: an entry of the same dependency set and configuration
 * (a match of the first restore key) counts as a hit, the newest such entry being what a
 * prefix restore picks. Returns the restore result with `hit` judged so and `exact` kept.
 */
export function judgeBuildHit(restored, entry, rolling) {
  if (restored.status === 'local') return restored;
  const exact = restored.hit;
  if (!rolling || !restored.matched) return { ...restored, exact };
  const same = entry.restore_keys[0] || '';
  const hit = exact || (same !== '' && restored.matched.toLowerCase().startsWith(same.toLowerCase()));
  const status = restored.status === 'partial' && hit ? 'hit' : restored.status;
  return { ...restored, hit, exact, status };
}

/** Parses a Go version (`go1.27`, `go1.27rc1`, `go1.27.3`) into comparable parts, or null. */
function goVersion(v) {
  const m = /^(?:go)?(\d+)\.(\d+)(?:(rc|beta)(\d+)|\.(\d+))?/.exec((v || '').trim());
  if (!m) return null;
  const stage = m[3] === 'beta' ? 1 : m[3] === 'rc' ? 2 : m[5] !== undefined ? 3 : 0;
  return [Number(m[1]), Number(m[2]), stage, Number(m[4] ?? m[5] ?? 0)];
}

/** -1, 0 or 1 as Go orders versions (`1.27` < `1.27rc1` < `1.27.0`); null when unparsable. */
export function compareGo(a, b) {
  const x = goVersion(a);
  const y = goVersion(b);
  if (!x || !y) return null;
  for (let i = 0; i < 4; i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}

/**
 * Whether the job's `go` is the installed one (`goversion`), so keys computed with
 * GOTOOLCHAIN=local are final (pure): GOTOOLCHAIN `local`, or the installed version's name, or
 * a switching value (`auto`, `path`, unset, `local+auto`, …) with nothing in go.mod/go.work
 * (`requiredGo`) newer than the installed Go. Any other name (`go1.27.3`, `go1.25.0+auto`) may
 * run another Go: not final.
 */
export function runsInstalledGo(gotoolchain, goversion, requiredGo) {
  const v = (gotoolchain || '').trim();
  if (v === 'local' || v === goversion) return true;
  const m = /^(.*?)(?:\+(auto|path))?$/.exec(v);
  const base = m[1];
  const switching = v === '' || v === 'auto' || v === 'path' || m[2] !== undefined;
  if (!switching) return false;
  if (!['', 'auto', 'path', 'local', goversion].includes(base)) return false;
  if (!requiredGo) return true;
  const c = compareGo(requiredGo, goversion);
  return c !== null && c <= 0;
}

/** Whether to warm, given the policy and what was restored. */
export function shouldWarm(policy, hits) {
  if (policy === 'always') return true;
  if (policy === 'never') return false;
  return !(hits.modules && hits.build);
}

/**
 * Whether an entry should be saved, and if not why (pure). `decision` is the binary's
 * (`go-ci-cache trust --json`, taken in the main step): whether this job saves archives at all,
 * from whose code it runs, the save policy and the cache token. Null (the binary could not say)
 * saves nothing. An exact hit is never saved again: entries are immutable.
 */
export function saveDecision({ decision, exactHit }) {
  if (!decision) return { save: false, why: 'who writes what could not be decided (`go-ci-cache trust` failed in the main step)' };
  if (!decision.archives) return { save: false, why: decision.archives_why };
  if (exactHit) return { save: false, why: 'it was restored by an exact key hit, and entries are immutable' };
  return { save: true, why: '' };
}

/**
 * The `go-ci-cache trust` command line for the inputs: the save policy (what lookup-only and
 * save: never mean for writing) and remote-read-only.
 */
export function trustArgs(inputs) {
  const args = ['trust', '--json', '--save', inputs.save, `--read-only=${inputs.remoteReadOnly}`];
  if (inputs.lookupOnly) args.push('--lookup-only');
  return args;
}

/**
 * Whether a build entry about to be saved holds anything new (pure): after a restore, `trim`
 * counts the action records the job added (`added`). Nothing added to an entry of this very
 * dependency set and configuration (`sameSet`, the build hit), nothing saved: the restored
 * entry already serves the next run as well. An entry of another dependency set is saved under
 * this one's key even when the job added nothing (a bump in a module the job does not build),
 * or every later run would miss the first restore key again. Unknown (`undefined`) saves.
 */
export function freshDecision({ matched, added, sameSet = true }) {
  if (matched && sameSet && added === 0) return { save: false, why: 'the job added nothing to the restored entry' };
  return { save: true, why: '' };
}

/**
 * The `prune` command line for an entry just saved (pure): the entry's `prune_prefix` is its
 * kind, configuration and project (never another configuration's, another prefix's, another
 * module's of the same repository or, with --ref, another ref's entries), the saved key stays
 * whatever happens, the newest `keep` stay, each kind within a share of the budget.
 */
export function pruneArgs(entry, { keep, ref, budgetGb }) {
  const prefix = entry.prune_prefix;
  const args = ['prune', '--prefix', prefix, '--protect', entry.key, '--keep', String(keep), '--ref', ref];
  if (budgetGb) args.push('--budget-gb', String(budgetGb));
  return args;
}

/**
 * The one notice a restricted cache token gets in the main step (ACTIONS_CACHE_MODE, exported
 * by the runner for lower-trust events), or '' (pure).
 */
export function cacheModeNotice(mode, inputs) {
  if (mode === 'read') return inputs.save === 'never' || inputs.lookupOnly ? '' : 'the cache is read-only for this job (ACTIONS_CACHE_MODE=read): restoring, not saving';
  if (mode === 'none') return 'this job has no cache access (ACTIONS_CACHE_MODE=none): nothing is restored or saved; the warm-up still runs';
  if (mode === 'write-only') return 'this job may save but not restore caches (ACTIONS_CACHE_MODE=write-only): starting cold';
  return '';
}

/**
 * The restore result of an entry the machine's caches already hold (`claim`): nothing looked
 * up, nothing downloaded (pure). A hit of this dependency set (and for the build entry, the key
 * it holds, so the post step saves only when the job added to it), but never an exact hit: the
 * key may not be in the store yet, and the post step looks it up before saving.
 */
export function heldResult(name, held) {
  return { status: 'local', matched: name === 'build' ? held.key || '' : '', hit: true, exact: false, detail: held.why || '', timing: {} };
}

/**
 * The entry the restore looks up (pure), from what `claim` said of it (`held`, null when it
 * did not run): the entry as `keys` gave it, or — where the machine keeps its caches and holds
 * an earlier dependency set of this configuration — the same key with only the restore keys
 * `claim` still finds worth a lookup (`restore_keys`: an entry of this dependency set; an
 * earlier set's would bring back what the machine holds). Null when the machine holds the
 * entry itself: nothing to look up.
 */
export function restoreTarget(entry, held) {
  if (held?.held) return null;
  if (Array.isArray(held?.restore_keys)) return { ...entry, restore_keys: held.restore_keys, narrowed: true };
  return entry;
}

/**
 * A narrowed restore's result (pure): where nothing of this dependency set was found, the
 * machine's caches still hold the earlier set's work, which is what a restore key would have
 * brought: `partial`, as after a restore-key match, with nothing matched or downloaded.
 */
export function narrowedResult(restored, held) {
  if (restored.status !== 'miss') return restored;
  return { ...restored, status: 'partial', detail: `this machine's caches hold an earlier dependency set: ${held?.why || ''}`.trim() };
}

/**
 * What the post step runs as `trim` (pure): on a machine that keeps its caches, every job
 * trims both (the budget) and records what they hold; elsewhere only the caches about to be
 * saved are trimmed, and a job that saves nothing only records and ends its leases.
 */
export function trimArgs(plan, persistent) {
  if (persistent) return ['trim', '--caches', 'both'];
  if (plan.length === 0) return ['trim', '--record-only'];
  return ['trim', '--caches', plan.length === 2 ? 'both' : plan[0]];
}

/**
 * GNU tar's TAR_OPTIONS for an archive saved on a machine that keeps its caches (pure): the
 * exclusions `trim` wrote, so the saved entry holds what this job used and nothing is removed
 * from the local cache. `null` when the entry must not be saved (no exclusions: an archive
 * would carry other projects' entries); `prev` is the TAR_OPTIONS already set.
 */
export function excludeOptions(excludeFile, prev = '') {
  if (!excludeFile) return null;
  const quoted = /[\s'"\\]/.test(excludeFile) ? `'${excludeFile.replace(/'/g, `'\\''`)}'` : excludeFile;
  return [prev, `--exclude-from=${quoted}`].filter(Boolean).join(' ');
}
