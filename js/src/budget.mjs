// The repository's cache budget: `max_cache_size_gb` from
// `GET /repos/{owner}/{repo}/actions/cache/storage-limit` when the job's token may read it,
// else GitHub's default of 10 GB, always with the reason, so the log and the step summary say
// which number the run worked with.

/** GitHub's cache size limit per repository when nothing else is configured. */
export const DEFAULT_BUDGET_GB = 10;

/**
 * Reads the budget. `opts`: apiUrl (GITHUB_API_URL), repository (`owner/name`), token,
 * fetch (for tests), timeoutMs. Never throws: returns { gb, source, detail } where source is
 * `repository` or `default`.
 */
export async function readBudget({ apiUrl, repository, token, fetch: f = globalThis.fetch, timeoutMs = 5000 }) {
  const fallback = (detail) => ({ gb: DEFAULT_BUDGET_GB, source: 'default', detail });
  if (!repository || !/^[^/\s]+\/[^/\s]+$/.test(repository)) return fallback('no repository is known (GITHUB_REPOSITORY is unset)');
  if (!token) return fallback('no token (set the `token` input to read the repository\'s limit)');
  const url = `${(apiUrl || 'https://api.github.com').replace(/\/$/, '')}/repos/${repository}/actions/cache/storage-limit`;
  let res;
  try {
    res = await f(url, {
      headers: { accept: 'application/vnd.github+json', authorization: `Bearer ${token}`, 'x-github-api-version': '2022-11-28' },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    return fallback(`the storage-limit request failed: ${e.cause?.message ?? e.message}`);
  }
  if (!res.ok) {
    const why = res.status === 403 || res.status === 401 ? 'the token may not read it' : res.status === 404 ? 'not available for this repository or server' : 'unexpected answer';
    return fallback(`storage-limit answered HTTP ${res.status}: ${why}`);
  }
  let body;
  try {
    body = await res.json();
  } catch {
    return fallback('storage-limit answered with something that is not JSON');
  }
  const gb = body?.max_cache_size_gb;
  if (typeof gb !== 'number' || !Number.isFinite(gb) || gb <= 0) {
    return fallback(`storage-limit answered without a usable max_cache_size_gb (${JSON.stringify(gb)})`);
  }
  return { gb, source: 'repository', detail: 'the repository\'s max_cache_size_gb' };
}

/** One line for the log and the step summary. */
export function budgetLine(b) {
  return b.source === 'repository'
    ? `cache budget: ${b.gb} GB (${b.detail})`
    : `cache budget: ${b.gb} GB (GitHub's default; ${b.detail})`;
}
