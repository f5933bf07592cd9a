package sshd

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Exit statuses as a Proxmox node reports them. PVE's CLI handler turns every
// die() into exit(-1), which the shell sees as 255; bash uses 127 for an unknown
// command and 2 for a syntax error.
const (
	exitPctError        = 255
	exitCommandNotFound = 127
	exitShellSyntax     = 2
)

const pctExecUsage = "pct exec <vmid> [<extra-args>] [OPTIONS]\n"

// validVMID is PVE's pve-vmid format (PVE::JSONSchema::pve_verify_vmid).
var validVMID = regexp.MustCompile(`^[1-9][0-9]{2,8}$`)

// rejection is a command that fails before anything runs: what goes to stderr
// and the exit status the session reports.
type rejection struct {
	stderr string
	status uint32
}

// pctExec is a parsed `pct exec <vmid> -- argv…`. argv may be empty: pct checks
// the container before it complains about a missing command.
type pctExec struct {
	vmid int
	argv []string
}

// parseExecRequest interprets an SSH exec request the way the node's login
// shell followed by pct would, up to (not including) the container checks,
// on a server that simulates only pct exec.
func parseExecRequest(line string) (pctExec, *rejection) {
	cl, err := parseCommandLine(line)
	if err != nil {
		return pctExec{}, &rejection{stderr: err.Error() + "\n", status: exitShellSyntax}
	}
	return parsePctExec(cl, "only 'pct exec' is")
}

// parsePctExec takes a command line no builtin ran; simulated names the pct
// subcommands the server knows, for the refusal of any other.
func parsePctExec(cl commandLine, simulated string) (pctExec, *rejection) {
	words := cl.words
	if len(words) == 0 && len(cl.redirects) == 0 {
		// `bash -c ''` does nothing and succeeds.
		return pctExec{}, &rejection{status: 0}
	}
	if len(cl.redirects) > 0 {
		// The output would land on the node, which the simulator has not.
		return pctExec{}, &rejection{stderr: errUnquotedRedirect.Error() + "\n", status: exitShellSyntax}
	}
	if words[0] != "pct" && words[0] != "/usr/sbin/pct" {
		return pctExec{}, &rejection{stderr: fmt.Sprintf("bash: %s: command not found\n", words[0]), status: exitCommandNotFound}
	}
	if len(words) < 2 || words[1] != "exec" {
		sub := strings.Join(words[1:min(2, len(words))], "")
		return pctExec{}, &rejection{
			stderr: fmt.Sprintf("pvesim: 'pct %s' is not simulated; %s\n", sub, simulated),
			status: exitPctError,
		}
	}
	return parsePctExecArgs(words[2:])
}

func parsePctExecArgs(args []string) (pctExec, *rejection) {
	if len(args) == 0 {
		return pctExec{}, &rejection{stderr: "400 not enough arguments\n" + pctExecUsage, status: exitPctError}
	}
	if strings.HasPrefix(args[0], "-") {
		return pctExec{}, &rejection{
			stderr: fmt.Sprintf("Unknown option: %s\n400 unable to parse option\n%s", strings.TrimLeft(args[0], "-"), pctExecUsage),
			status: exitPctError,
		}
	}
	if !validVMID.MatchString(args[0]) {
		return pctExec{}, &rejection{
			stderr: "400 Parameter verification failed.\nvmid: invalid format - value does not look like a valid VM ID\n\n" + pctExecUsage,
			status: exitPctError,
		}
	}
	vmid, _ := strconv.Atoi(args[0]) // at most 9 digits: cannot fail
	rest := args[1:]
	// pct's option parser stops at "--"; everything after it is the command.
	if len(rest) > 0 && rest[0] == "--" {
		rest = rest[1:]
	} else if len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
		return pctExec{}, &rejection{
			stderr: fmt.Sprintf("Unknown option: %s\n400 unable to parse option\n%s", strings.TrimLeft(rest[0], "-"), pctExecUsage),
			status: exitPctError,
		}
	}
	return pctExec{vmid: vmid, argv: rest}, nil
}

// checkContainer applies pct's own checks, in pct's order: the config must
// exist on this node, the container must run, and there must be a command.
func checkContainer(req pctExec, node string, containers ContainerLookup) *rejection {
	exists, running := containers.ContainerState(req.vmid)
	switch {
	case !exists:
		return &rejection{
			stderr: fmt.Sprintf("Configuration file 'nodes/%s/lxc/%d.conf' does not exist\n", node, req.vmid),
			status: exitPctError,
		}
	case !running:
		return &rejection{stderr: fmt.Sprintf("CT %d not running\n", req.vmid), status: exitPctError}
	case len(req.argv) == 0:
		return &rejection{stderr: "missing command\n", status: exitPctError}
	}
	return nil
}

func scratchDir(root string, vmid int) string {
	return filepath.Join(root, strconv.Itoa(vmid))
}
