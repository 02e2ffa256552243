//! Integration tests: one binary so the build happens once.

#![allow(unreachable_pub)]

mod action; // the GitHub Action: JS tests, dist/ freshness, actionlint, act end to end
mod bench_smoke; // the release-history benchmark, two tiny versions
mod cli; // the binary's usage errors and exit codes
mod docs; // README tables generated from action.yml and the GitLab spec
mod e2e_keys; // `plan` and `keys` with the real `go` on real modules
mod e2e_lifecycle; // prepare → warm → build → trim → save → restore with the real `go`
mod gitlab; // the GitLab template: schema, gitlab-ci-local pipeline, installer
mod outputs; // snapshot tests of every output format
mod toolchain; // `keys` under GOTOOLCHAIN=local with a go.mod that needs a newer Go
mod util; // temp Go projects, isolated environments, the binary under test
