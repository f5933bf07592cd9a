package sshd

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// validSnapshotName is pve-configid, the format of snapshot names.
var validSnapshotName = regexp.MustCompile(`^(?i)[a-z][a-z0-9_\-]+$`)

const (
	pctConfigUsage = "pct config <vmid> [OPTIONS]\n"
	pctListUsage   = "pct list\n"
)

// runPctRead runs `pct config` or `pct list` (args[0]); their errors are
// die()s, hence status 255.
func runPctRead(sh *shellRun, args []string) uint32 {
	if args[0] == "list" {
		return runPctList(sh, args[1:])
	}
	return runPctConfig(sh, args[1:])
}

// runPctList prints the local node's containers as pct's formatter does:
// fixed-width columns (the last one padded too), sorted by VMID, and nothing
// at all, not even the header, when there are none.
func runPctList(sh *shellRun, args []string) uint32 {
	if len(args) > 0 {
		if strings.HasPrefix(args[0], "-") {
			sh.errorf("Unknown option: %s\n400 unable to parse option\n%s", strings.TrimLeft(args[0], "-"), pctListUsage)
		} else {
			sh.errorf("400 too many arguments\n%s", pctListUsage)
		}
		return exitPctError
	}
	list := sh.srv.configs.ListContainers(sh.srv.nodeName)
	if len(list) == 0 {
		return 0
	}
	sort.Slice(list, func(i, j int) bool { return list[i].VMID < list[j].VMID })
	const row = "%-10s %-10s %-12s %-20s\n"
	fmt.Fprintf(sh.stdout, row, "VMID", "Status", "Lock", "Name")
	for _, ct := range list {
		fmt.Fprintf(sh.stdout, row, strconv.Itoa(ct.VMID), ct.Status, ct.Lock, ct.Name)
	}
	return 0
}

// pctConfigArgs is a parsed `pct config` command line.
type pctConfigArgs struct {
	vmid       string
	current    string // as given; "" when absent
	hasCurrent bool
	snapshot   string
}

// runPctConfig prints a container's config: parser warnings on stderr, then
// "key: value" for every option sorted by key (the digest left out), then
// the raw lxc.* lines in file order.
func runPctConfig(sh *shellRun, args []string) uint32 {
	a, msg := parsePctConfigArgs(args)
	if msg == "" {
		msg = a.verify()
	}
	if msg != "" {
		sh.errorf("%s", msg)
		return exitPctError
	}
	vmid, _ := strconv.Atoi(a.vmid) // verified
	view, err := sh.srv.configs.ContainerConfig(sh.srv.nodeName, vmid, ConfigQuery{Current: a.isCurrent(), Snapshot: a.snapshot})
	if err != nil {
		sh.errorf("%v\n", err)
		return exitPctError
	}
	for _, w := range view.Warnings {
		sh.errorf("%s\n", w)
	}
	keys := make([]string, 0, len(view.Options))
	for k := range view.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(sh.stdout, "%s: %s\n", k, view.Options[k])
	}
	for _, kv := range view.LXC {
		fmt.Fprintf(sh.stdout, "%s: %s\n", kv[0], kv[1])
	}
	return 0
}

// parsePctConfigArgs follows pct's Getopt::Long setup: options may come
// before or after the VMID, --current takes an optional value and
// --snapshot a required one.
func parsePctConfigArgs(args []string) (pctConfigArgs, string) {
	var a pctConfigArgs
	var positional []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			positional = append(positional, arg)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		switch name {
		case "current":
			a.hasCurrent = true
			if !hasValue && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
				value = args[i]
			}
			a.current = value
		case "snapshot":
			if !hasValue {
				if i+1 == len(args) {
					return a, "Option snapshot requires an argument\n400 unable to parse option\n" + pctConfigUsage
				}
				i++
				value = args[i]
			}
			a.snapshot = value
		default:
			return a, fmt.Sprintf("Unknown option: %s\n400 unable to parse option\n%s", name, pctConfigUsage)
		}
	}
	switch {
	case len(positional) == 0:
		return a, "400 not enough arguments\n" + pctConfigUsage
	case len(positional) > 1:
		return a, "400 too many arguments\n" + pctConfigUsage
	}
	a.vmid = positional[0]
	return a, ""
}

// verify is the API schema check and the handler's own parameter check.
func (a pctConfigArgs) verify() string {
	bad := map[string]string{}
	if !validVMID.MatchString(a.vmid) {
		bad["vmid"] = "invalid format - value does not look like a valid VM ID"
	}
	if a.hasCurrent && a.current != "" && parseBool(a.current) < 0 {
		bad["current"] = fmt.Sprintf("type check ('boolean') failed - got '%s'", a.current)
	}
	if a.snapshot != "" && !validSnapshotName.MatchString(a.snapshot) {
		bad["snapshot"] = "invalid format - invalid configuration ID '" + a.snapshot + "'"
	}
	if len(bad) == 0 && a.snapshot != "" && a.isCurrent() {
		msg := "cannot use 'snapshot' parameter with 'current'"
		bad["current"], bad["snapshot"] = msg, msg
	}
	if len(bad) == 0 {
		return ""
	}
	keys := make([]string, 0, len(bad))
	for k := range bad {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("400 Parameter verification failed.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, bad[k])
	}
	b.WriteString("\n" + pctConfigUsage)
	return b.String()
}

func (a pctConfigArgs) isCurrent() bool {
	return a.hasCurrent && (a.current == "" || parseBool(a.current) == 1)
}

// parseBool reads a PVE boolean: 1, 0 or -1 when it is none.
func parseBool(s string) int {
	switch strings.ToLower(s) {
	case "1", "on", "yes", "true":
		return 1
	case "0", "off", "no", "false":
		return 0
	}
	return -1
}
