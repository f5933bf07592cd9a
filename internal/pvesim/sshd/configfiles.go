package sshd

import (
	"errors"
	"syscall"
)

// MaxConfigFileSize is pmxcfs's limit on one file; a longer write fails with
// EFBIG ("File too large").
const MaxConfigFileSize = 1 << 20

// ConfigFiles is what the node's shell and pct read from pmxcfs: container
// config files, and the parsed view `pct config` and `pct list` print. Like
// ContainerLookup it is called from connection goroutines and must be safe
// for concurrent use.
//
// File errors are syscall.Errno values (ENOENT, EEXIST, ...) and are printed
// with the C library's wording; any other error is printed as it is.
type ConfigFiles interface {
	// HasNode reports whether /etc/pve/nodes/<node> exists.
	HasNode(node string) bool
	// ReadConfigFile returns the bytes of nodes/<node>/lxc/<vmid>.conf.
	ReadConfigFile(node string, vmid int) (string, error)
	// ConfigWritable is the error opening nodes/<node>/lxc/<vmid>.conf for
	// writing fails with, nil if it can be written.
	ConfigWritable(node string, vmid int) error
	// WriteConfigFile replaces nodes/<node>/lxc/<vmid>.conf with text, as a
	// completed write to the file would. Locks are not checked: pmxcfs does
	// not. It fails as ConfigWritable says, and with EFBIG for text longer
	// than MaxConfigFileSize.
	WriteConfigFile(node string, vmid int, text string) error
	// ContainerConfig is the config `pct config` prints for a container on
	// node: pending values folded in unless q.Current, or a snapshot's.
	ContainerConfig(node string, vmid int, q ConfigQuery) (ConfigView, error)
	// ListContainers is node's containers for `pct list`, in any order.
	ListContainers(node string) []ContainerSummary
}

// ConfigQuery selects which config `pct config` shows.
type ConfigQuery struct {
	Current  bool
	Snapshot string
}

// ConfigView is a parsed config as pct config receives it from the API code.
type ConfigView struct {
	// Options are the option values as PVE renders them (booleans 0/1),
	// without the digest.
	Options map[string]string
	// LXC are the raw lxc.* lines as [key, value] pairs, in file order.
	LXC [][2]string
	// Warnings are the parser's complaints, printed to stderr.
	Warnings []string
}

// ContainerSummary is one row of `pct list`.
type ContainerSummary struct {
	VMID   int
	Status string
	Lock   string
	Name   string
}

// errnoText is strerror(3) for the errors pmxcfs and path lookup produce;
// Go's own texts are lower-case, coreutils prints these.
var errnoText = map[syscall.Errno]string{
	syscall.ENOENT:  "No such file or directory",
	syscall.EEXIST:  "File exists",
	syscall.EFBIG:   "File too large",
	syscall.EISDIR:  "Is a directory",
	syscall.ENOTDIR: "Not a directory",
	syscall.EACCES:  "Permission denied",
	syscall.EIO:     "Input/output error",
}

// fileErrorLine is the stderr line for a failed operation on path: prog's
// "<prog>: <path>: <strerror>" for a file error, a pvesim line for anything
// the simulator refuses to model.
func fileErrorLine(prog, path string, err error) string {
	if text, ok := strerror(err); ok {
		return prog + ": " + path + ": " + text + "\n"
	}
	return "pvesim: " + path + ": " + err.Error() + "\n"
}

// writeErrorLine reports a failed write to a redirected stdout after the
// command's own prefix, e.g. "cat: write error: File too large".
func writeErrorLine(prefix string, err error) string {
	if text, ok := strerror(err); ok {
		return prefix + ": " + text + "\n"
	}
	return "pvesim: " + err.Error() + "\n"
}

func strerror(err error) (string, bool) {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		text, ok := errnoText[errno]
		return text, ok
	}
	return "", false
}
