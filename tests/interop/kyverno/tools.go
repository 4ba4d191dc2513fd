//go:build tools

// Package tools pins Kyverno's CLI (kubectl-kyverno) as a dependency of this module, so
// that install-clients.sh can build it with `go build` at the version go.mod requires.
// Kyverno's own go.mod has a replace directive, which `go install pkg@version` refuses;
// this module repeats that replace (see go.mod).  No Kyverno code lives here.
package tools

import _ "github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno"
