//go:build tools

// The command this module builds, named so that `go mod tidy` keeps its dependencies.
package tools

import _ "github.com/notaryproject/notation/cmd/notation"
