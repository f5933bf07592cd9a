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

// MaxScriptBytes is the largest script Exec delivers. Inside the container
// the script becomes the one argument of `/bin/sh -c`, and Linux refuses a
// single argument over 128 KiB (MAX_ARG_STRLEN) with E2BIG; half of that
// leaves room for the environment and is what the API admits.
const MaxScriptBytes = 64 << 10

// scriptEnd follows the script on stdin. Only a stream that ends with it
// was delivered whole: a connection lost mid-script must not run the part
// that arrived.
const scriptEnd = "#pve-operator:end-of-script"

// receiveScript runs in the container. It reads the whole script from stdin
// (the "." keeps the trailing newlines that $(...) would strip, so the script
// arrives byte for byte), checks it is complete, and runs it as
// `/bin/sh -c <script>` with an empty stdin, as if it had been an argument.
// The script never travels on a command line: the node's sshd and bash
// would see it there with every single quote quadrupled by the quoting, and
// a large script then fails before it starts (an exec request over the SSH
// packet limit, or E2BIG).
const receiveScript = `s=$(cat; echo .) && case $s in *"` + scriptEnd + `.") ;; ` +
	`*) echo "pve-operator: the script arrived incomplete; not running it" >&2; exit 255 ;; esac && ` +
	`exec /bin/sh -c "${s%"` + scriptEnd + `."}" </dev/null`

// pctExecCommand is the command line sent to the node. The node's login
// shell (bash for root on Proxmox) splits it into words; the receiver is a
// constant, so its quoting never depends on the script.
func pctExecCommand(vmid int) string {
	return fmt.Sprintf("pct exec %d -- /bin/sh -c %s", vmid, shellQuote(receiveScript))
}

// scriptStream is what is sent on the session's stdin for script.
func scriptStream(script string) *strings.Reader {
	return strings.NewReader(script + scriptEnd)
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
	// A shell variable cannot hold a NUL: the shell would drop it.
	if strings.ContainsRune(script, 0) {
		return fmt.Errorf("sshexec: script contains a NUL byte")
	}
	if len(script) > MaxScriptBytes {
		return fmt.Errorf("sshexec: script is %d bytes, more than the %d that can be delivered", len(script), MaxScriptBytes)
	}
	return nil
}
