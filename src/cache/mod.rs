//! The two caches on disk and everything that changes them: GOCACHE ([`gocache`]) and
//! GOMODCACHE ([`modcache`]) as models and policies, the leases of the jobs using them
//! ([`lease`]), the machine's record of what they hold ([`machine`]), the size budget
//! ([`budget`]), the run state a job's commands share ([`state`]), the trim engine that turns
//! a policy into removals ([`trim`]), and [`remove`], the only code in the crate that deletes.

pub mod budget;
pub mod gocache;
pub mod lease;
pub mod machine;
pub mod modcache;
pub mod remove;
pub mod state;
pub mod trim;

/// Now, in Unix seconds (the clock of leases, records and trims).
pub fn now_unix() -> i64 {
    jiff::Timestamp::now().as_second()
}
