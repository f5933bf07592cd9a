package sshd

import (
	"errors"
	"path"
	"strconv"
	"strings"
	"syscall"
)

// pathKind is what a path on the node names, as far as the simulator models
// the node's file system: /dev/null and the container configs in pmxcfs.
type pathKind int

const (
	// pathUnsimulated is any other file: the simulator refuses to guess.
	pathUnsimulated pathKind = iota
	pathDevNull
	// pathLXCDir is a node's lxc directory.
	pathLXCDir
	// pathConfig is <vmid>.conf in a node's lxc directory.
	pathConfig
	// pathOtherFile is any other name in a node's lxc directory: pmxcfs
	// would store it, the simulator holds none.
	pathOtherFile
	// pathMissing is under a directory that does not exist.
	pathMissing
)

// nodePath is a resolved path.
type nodePath struct {
	kind pathKind
	node string // for pathLXCDir, pathConfig
	vmid int    // for pathConfig
}

// resolvePath maps p to the node's file system. pmxcfs makes /etc/pve/lxc a
// symlink to nodes/<this node>/lxc, so it only holds the local node's
// containers, while /etc/pve/nodes/<node>/lxc reaches every node's.
func (s *Server) resolvePath(p string) nodePath {
	if !strings.HasPrefix(p, "/") {
		return nodePath{kind: pathUnsimulated} // relative to root's home: not modelled
	}
	p = path.Clean(p)
	if p == "/dev/null" {
		return nodePath{kind: pathDevNull}
	}
	var node, rest string
	switch {
	case p == "/etc/pve/lxc" || strings.HasPrefix(p, "/etc/pve/lxc/"):
		node, rest = s.nodeName, strings.TrimPrefix(p, "/etc/pve/lxc")
	case strings.HasPrefix(p, "/etc/pve/nodes/"):
		var inNode string
		node, inNode, _ = strings.Cut(strings.TrimPrefix(p, "/etc/pve/nodes/"), "/")
		if !s.configs.HasNode(node) {
			return nodePath{kind: pathMissing}
		}
		if inNode != "lxc" && !strings.HasPrefix(inNode, "lxc/") {
			return nodePath{kind: pathUnsimulated}
		}
		rest = strings.TrimPrefix(inNode, "lxc")
	default:
		return nodePath{kind: pathUnsimulated}
	}
	if rest == "" {
		return nodePath{kind: pathLXCDir, node: node}
	}
	name := rest[1:]
	if strings.Contains(name, "/") {
		return nodePath{kind: pathMissing}
	}
	if vmid, ok := vmConfigName(name); ok {
		return nodePath{kind: pathConfig, node: node, vmid: vmid}
	}
	return nodePath{kind: pathOtherFile, node: node}
}

// vmConfigName is pmxcfs's test for a guest config file name: a VMID without
// leading zeros, then ".conf".
func vmConfigName(name string) (int, bool) {
	digits, ok := strings.CutSuffix(name, ".conf")
	if !ok || digits == "" || digits[0] < '1' || digits[0] > '9' || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	vmid, err := strconv.ParseUint(digits, 10, 32)
	return int(vmid), err == nil
}

// readFile returns the contents of a resolved path, or the error cat
// reports for it.
func (s *Server) readFile(np nodePath) (string, error) {
	switch np.kind {
	case pathDevNull:
		return "", nil
	case pathConfig:
		return s.configs.ReadConfigFile(np.node, np.vmid)
	case pathLXCDir:
		return "", syscall.EISDIR
	case pathOtherFile, pathMissing:
		return "", syscall.ENOENT
	}
	return "", errReadUnsimulated
}

// checkWritable is the error opening a resolved path for writing fails with.
func (s *Server) checkWritable(np nodePath) error {
	switch np.kind {
	case pathDevNull:
		return nil
	case pathConfig:
		return s.configs.ConfigWritable(np.node, np.vmid)
	case pathLXCDir:
		return syscall.EISDIR
	case pathMissing:
		return syscall.ENOENT
	}
	return errWriteUnsimulated
}

var (
	errReadUnsimulated = errors.New("reading files other than container configs " +
		"(/etc/pve/lxc/<vmid>.conf, /etc/pve/nodes/<node>/lxc/<vmid>.conf) is not simulated")
	errWriteUnsimulated = errors.New("writing files other than container configs " +
		"(/etc/pve/lxc/<vmid>.conf, /etc/pve/nodes/<node>/lxc/<vmid>.conf) and /dev/null is not simulated")
)
