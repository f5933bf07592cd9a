package sshexec

import (
	"fmt"
	"strings"
)

// VMID bounds as Proxmox enforces them (pve-vmid: 100 to 999999999).
const (
	minVMID = 100
	maxVMID = 999_999_999
)

// pctExecCommand is the command line sent to the node. The node's login shell
// (bash for root on Proxmox) splits it into words, so the script travels as a
// single single-quoted word: inside single quotes nothing is special, and the
// only character that needs care is the single quote itself.
func pctExecCommand(vmid int, script string) string {
	return fmt.Sprintf("pct exec %d -- /bin/sh -c %s", vmid, shellQuote(script))
}

// shellQuote returns s as a single POSIX shell word. Each single quote in s
// closes the quoting, is added backslash-escaped, and reopens it:
//
//	it's  ->  'it'\''s'
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func validateRequest(vmid int, script string) error {
	if vmid < minVMID || vmid > maxVMID {
		return fmt.Errorf("sshexec: invalid VMID %d (Proxmox allows %d to %d)", vmid, minVMID, maxVMID)
	}
	// A NUL cannot be passed through an argv; the shell would cut the script there.
	if strings.ContainsRune(script, 0) {
		return fmt.Errorf("sshexec: script contains a NUL byte")
	}
	return nil
}
