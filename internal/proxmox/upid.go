package proxmox

import (
	"regexp"
	"strconv"
	"time"
)

// upidRe is PVE's own UPID pattern (pve-common src/PVE/UPID.pm decode).
var upidRe = regexp.MustCompile(`^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8,16}):([0-9A-Fa-f]{8}):([^:\s]+):([^:\s]*):([^:\s]+):$`)

// UPID is a parsed PVE task identifier such as
// "UPID:pve1:0000A1B2:0012F3C4:6650A1B2:vzcreate:100:root@pam!op:".
//
// Everything needed to ask about a task later is in the string itself (the
// node to ask is its second field), so callers store String() in their status
// and hand it back to TaskStatus after a restart.
type UPID struct {
	Node      string
	PID       uint64
	PStart    uint64
	StartTime time.Time
	// Type is the worker type: vzcreate, vzrestore, vzstart, vzdump, ...
	Type string
	// ID is the worker's id, usually the VMID; may be empty.
	ID   string
	User string
	raw  string
}

// ParseUPID parses a UPID string; it returns an *InvalidUPIDError for
// anything PVE itself would not accept.
func ParseUPID(s string) (UPID, error) {
	m := upidRe.FindStringSubmatch(s)
	if m == nil {
		return UPID{}, &InvalidUPIDError{UPID: s}
	}
	pid, _ := strconv.ParseUint(m[3], 16, 64)
	pstart, _ := strconv.ParseUint(m[4], 16, 64)
	start, _ := strconv.ParseInt(m[5], 16, 64)
	return UPID{
		Node: m[1], PID: pid, PStart: pstart, StartTime: time.Unix(start, 0).UTC(),
		Type: m[6], ID: m[7], User: m[8], raw: s,
	}, nil
}

// String returns the UPID exactly as PVE issued it.
func (u UPID) String() string { return u.raw }

// IsZero reports an absent UPID (e.g. a volume delete that finished
// synchronously).
func (u UPID) IsZero() bool { return u.raw == "" }

// VMID returns ID as a number, or 0 when the task is not about one guest.
func (u UPID) VMID() int {
	n, err := strconv.Atoi(u.ID)
	if err != nil {
		return 0
	}
	return n
}
