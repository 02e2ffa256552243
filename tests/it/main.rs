//! Integration tests: one binary so the build happens once.

#![allow(unreachable_pub)]

mod action; // the GitHub Action: JS tests, dist/ freshness, actionlint, act end to end
mod bench_smoke; // the flow benchmark on a generated repository with a dependency bump
mod cacheprog; // GOCACHEPROG with the real go against a real S3 server (SeaweedFS)
mod cacheprog_trust; // the remote build cache against an adversary: who writes what, never failing, faults
mod cli; // the binary's usage errors and exit codes
mod docs; // the docs against the code: generated tables, links, citations, variables
mod e2e_keys; // `plan` and `keys` with the real `go` on real modules
mod e2e_lifecycle; // prepare → warm → build → trim → save → restore with the real `go`
mod e2e_persistent; // machines that keep their disks: record, budget trim, ownership, races
mod e2e_warm; // warm --job test|build|vet: zero dependency compiles and vets afterwards
mod github_api; // `prune` against GitHub's OpenAPI description (prism) and a loopback fake
mod gitlab; // the GitLab template: schema, gitlab-ci-local pipeline, installer
mod key_table; // the key-input table against what changes Go's action IDs
mod outputs; // snapshot tests of every output format
mod release; // the static release assets, their manifest, the e2e tests on them, aarch64 under qemu
mod toolchain; // `keys` under GOTOOLCHAIN=local with a go.mod that needs a newer Go
mod util; // temp Go projects, isolated environments, the binary under test
