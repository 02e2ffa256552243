//! A small synchronous client for the few Actions cache endpoints of GitHub's REST API: list
//! (paginated), delete by id, and the repository's storage limit. ureq (no async runtime; reads
//! HTTPS_PROXY/NO_PROXY) (four endpoints need no async client). Every failure is an [`ApiError`] that
//! callers turn into a warning: the API never fails a job.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use super::policy::CacheEntry;

/// Page size for listings (the API's maximum).
pub const PER_PAGE: usize = 100;
/// Listings stop after this many pages (10 000 entries is far beyond a 10 GB store).
const MAX_PAGES: usize = 100;

/// Where and as whom to call the API.
#[derive(Debug, Clone)]
pub struct Client {
    agent: ureq::Agent,
    api_url: String,
    repo: String,
    token: String,
}

/// Why a call failed, in the words the log shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The token may not do this (403/404 without rate limiting): `actions: write` is missing,
    /// or a fork's read-only token.
    Permission {
        /// HTTP status.
        status: u16,
        /// GitHub's `message`.
        message: String,
    },
    /// Primary or secondary rate limit: 429, or 403 with `x-ratelimit-remaining: 0` or
    /// `retry-after`. Not retried: the job goes on.
    RateLimited {
        /// Seconds to wait, when the API said so.
        retry_after: Option<u64>,
        /// GitHub's `message`.
        message: String,
    },
    /// Any other status, with GitHub's `message` and `documentation_url` when the body has them.
    Status {
        /// HTTP status.
        status: u16,
        /// GitHub's `message`, or the start of the body.
        message: String,
        /// GitHub's `documentation_url`.
        documentation_url: Option<String>,
    },
    /// No answer: DNS, connect, TLS, timeout, or a body that is not the documented JSON.
    Transport(String),
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Permission { status, message } => write!(
                f,
                "the token may not manage Actions caches (HTTP {status}: {message}); give the job `permissions: actions: write`"
            ),
            ApiError::RateLimited {
                retry_after,
                message,
            } => {
                write!(f, "GitHub's API rate limit was hit ({message})")?;
                if let Some(s) = retry_after {
                    write!(f, "; it asks to wait {s} s")?;
                }
                Ok(())
            }
            ApiError::Status {
                status,
                message,
                documentation_url,
            } => {
                write!(f, "GitHub's API answered HTTP {status}: {message}")?;
                if let Some(u) = documentation_url {
                    write!(f, " ({u})")?;
                }
                Ok(())
            }
            ApiError::Transport(e) => write!(f, "GitHub's API could not be reached: {e}"),
        }
    }
}

impl std::error::Error for ApiError {}

#[derive(Deserialize)]
struct Listing {
    total_count: usize,
    actions_caches: Vec<CacheEntry>,
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    documentation_url: Option<String>,
}

#[derive(Deserialize)]
struct StorageLimit {
    max_cache_size_gb: u64,
}

type Response = ureq::http::Response<ureq::Body>;

impl Client {
    /// A client for `repo` (`owner/name`) at `api_url` (`GITHUB_API_URL`; GHES has its own).
    pub fn new(api_url: &str, repo: &str, token: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .timeout_connect(Some(Duration::from_secs(10)))
            .user_agent(concat!("go-ci-cache/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self {
            agent,
            api_url: api_url.trim_end_matches('/').to_string(),
            repo: repo.to_string(),
            token: token.to_string(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/repos/{}{path}", self.api_url, self.repo)
    }

    fn headers<B>(&self, r: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        // GitHub's recommended media type, then the one its OpenAPI description names (which a
        // validating mock of that description matches literally).
        r.header("Accept", "application/vnd.github+json, application/json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .header("Authorization", format!("Bearer {}", self.token))
    }

    /// Every entry whose key starts with `key_prefix`, on `git_ref`, newest first.
    pub fn list(&self, key_prefix: &str, git_ref: &str) -> Result<Vec<CacheEntry>, ApiError> {
        let mut out = Vec::new();
        for page in 1..=MAX_PAGES {
            let resp = self
                .headers(self.agent.get(self.url("/actions/caches")))
                .query("key", key_prefix)
                .query("ref", git_ref)
                .query("sort", "created_at")
                .query("direction", "desc")
                .query("per_page", PER_PAGE.to_string())
                .query("page", page.to_string())
                .call()
                .map_err(|e| ApiError::Transport(e.to_string()))?;
            let listing: Listing = json(ok(resp)?)?;
            let n = listing.actions_caches.len();
            out.extend(listing.actions_caches);
            if n < PER_PAGE || out.len() >= listing.total_count {
                break;
            }
        }
        Ok(out)
    }

    /// Deletes one entry by id.
    pub fn delete(&self, id: u64) -> Result<(), ApiError> {
        let resp = self
            .headers(
                self.agent
                    .delete(self.url(&format!("/actions/caches/{id}"))),
            )
            .call()
            .map_err(|e| ApiError::Transport(e.to_string()))?;
        ok(resp).map(drop)
    }

    /// The repository's cache size limit in GB (`actions/cache/storage-limit`).
    pub fn storage_limit_gb(&self) -> Result<u64, ApiError> {
        let resp = self
            .headers(self.agent.get(self.url("/actions/cache/storage-limit")))
            .call()
            .map_err(|e| ApiError::Transport(e.to_string()))?;
        let l: StorageLimit = json(ok(resp)?)?;
        Ok(l.max_cache_size_gb)
    }
}

fn json<T: serde::de::DeserializeOwned>(mut resp: Response) -> Result<T, ApiError> {
    resp.body_mut()
        .read_json()
        .map_err(|e| ApiError::Transport(format!("unexpected response body: {e}")))
}

/// Passes a 2xx response through; turns anything else into the matching [`ApiError`].
fn ok(mut resp: Response) -> Result<Response, ApiError> {
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(resp);
    }
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let retry_after = header("retry-after").and_then(|v| v.trim().parse().ok());
    let exhausted = header("x-ratelimit-remaining").as_deref() == Some("0");
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    Err(classify(status, retry_after, exhausted, &text))
}

/// Maps a failed response to an error. Pure, for tests.
pub fn classify(status: u16, retry_after: Option<u64>, exhausted: bool, body: &str) -> ApiError {
    let parsed: ErrorBody = serde_json::from_str(body).unwrap_or_default();
    let message = if parsed.message.is_empty() {
        body.chars()
            .take(200)
            .collect::<String>()
            .trim()
            .to_string()
    } else {
        parsed.message
    };
    match status {
        429 => ApiError::RateLimited {
            retry_after,
            message,
        },
        403 if exhausted
            || retry_after.is_some()
            || message.to_lowercase().contains("rate limit") =>
        {
            ApiError::RateLimited {
                retry_after,
                message,
            }
        }
        401 | 403 | 404 => ApiError::Permission { status, message },
        _ => ApiError::Status {
            status,
            message,
            documentation_url: parsed.documentation_url,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_and_rate_limits() {
        let body = r#"{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest/actions/cache#delete-a-github-actions-cache-for-a-repository-using-a-cache-id","status":"403"}"#;
        assert_eq!(
            classify(403, None, false, body),
            ApiError::Permission {
                status: 403,
                message: "Resource not accessible by integration".into()
            }
        );
        let limited = r#"{"message":"API rate limit exceeded for installation ID 1."}"#;
        assert!(matches!(
            classify(403, None, true, limited),
            ApiError::RateLimited {
                retry_after: None,
                ..
            }
        ));
        assert!(matches!(
            classify(
                403,
                Some(60),
                false,
                r#"{"message":"You have exceeded a secondary rate limit."}"#
            ),
            ApiError::RateLimited {
                retry_after: Some(60),
                ..
            }
        ));
        assert!(matches!(
            classify(429, Some(5), false, ""),
            ApiError::RateLimited {
                retry_after: Some(5),
                ..
            }
        ));
        let e = classify(500, None, false, "<html>oops</html>");
        assert_eq!(
            e.to_string(),
            "GitHub's API answered HTTP 500: <html>oops</html>"
        );
        let e = classify(
            422,
            None,
            false,
            r#"{"message":"Validation Failed","documentation_url":"https://docs.github.com/rest"}"#,
        );
        assert_eq!(
            e.to_string(),
            "GitHub's API answered HTTP 422: Validation Failed (https://docs.github.com/rest)"
        );
    }
}
