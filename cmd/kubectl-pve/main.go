// Command kubectl-pve is a kubectl plugin for pve-operator: `kubectl pve
// adopt` writes Application manifests that adopt a ProxmoxHost's unmanaged
// containers as they are, and `kubectl pve status` shows on one screen what
// needs attention. Install it with
//
//	go install github.com/pve-operator/pve-operator/cmd/kubectl-pve@latest
//
// and kubectl finds it on PATH. The manager image runs the same commands as
// `/manager pve ...`. See docs/bulk-adopt.md.
package main

import (
	"os"

	"github.com/pve-operator/pve-operator/internal/kubectlpve"
)

func main() { os.Exit(kubectlpve.Main(os.Args[1:])) }
