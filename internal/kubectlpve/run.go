// Package kubectlpve is the kubectl plugin's commands (adopt, status), run
// by the kubectl-pve binary and by the manager image as `manager pve ...`.
package kubectlpve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
)

// Main runs the command in args (without the program's name) on the
// process's standard streams until it ends or is interrupted, and returns
// the exit code.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return Run(ctx, args, os.Stdout, os.Stderr)
}

const usage = `kubectl pve: pve-operator's kubectl plugin

Usage:
  kubectl pve adopt --host NAME [-n NAMESPACE] [--node N] [--pool P] [--tag T] [--vmids FROM-TO] [--dry-run] [-o DIR]
  kubectl pve status [-n NAMESPACE | -A]

Run "kubectl pve COMMAND -h" for a command's flags.
`

// Run dispatches to a subcommand and returns the exit code: 2 for a usage
// error, 1 for a failure.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "adopt":
		err = runAdopt(ctx, args[1:], stdout, stderr)
	case "status":
		err = runStatus(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err == nil {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, ue.Error())
		return 2
	}
	fmt.Fprintln(stderr, "error:", err)
	return 1
}

// usageError is a mistake on the command line, reported with exit code 2.
type usageError string

func (e usageError) Error() string { return string(e) }
