// Test tools only: go-containerregistry's registry (pkg/registry) behind a tiny main, and
// distribution v3's registry, built from pinned module versions for the registry
// implementation tests (scripts/tools.sh). Signet itself is one Rust binary.
module signet.test/tools/registry

go 1.26.0

require github.com/google/go-containerregistry v0.22.1
