package proxmox_test

import (
	"testing"
	"time"

	"github.com/pve-operator/pve-operator/internal/proxmox"
)

func TestParseUPID(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want proxmox.UPID
		ok   bool
	}{
		{
			name: "a token user's create task parses every field",
			in:   "UPID:pve1:0000A1B2:0012F3C4:6650A1B2:vzcreate:100:root@pam!op:",
			want: proxmox.UPID{Node: "pve1", PID: 0xA1B2, PStart: 0x12F3C4, StartTime: time.Unix(0x6650A1B2, 0).UTC(), Type: "vzcreate", ID: "100", User: "root@pam!op"},
			ok:   true,
		},
		{
			name: "an empty id (a multi-guest vzdump) is allowed",
			in:   "UPID:node-a:00001234:00ABCDEF:6650A1B2:vzdump::root@pam:",
			want: proxmox.UPID{Node: "node-a", PID: 0x1234, PStart: 0xABCDEF, StartTime: time.Unix(0x6650A1B2, 0).UTC(), Type: "vzdump", User: "root@pam"},
			ok:   true,
		},
		{
			name: "an imgdel id with @ parses",
			in:   "UPID:pve:00001234:00ABCDEF:6650A1B2:imgdel:100@local:root@pam:",
			want: proxmox.UPID{Node: "pve", PID: 0x1234, PStart: 0xABCDEF, StartTime: time.Unix(0x6650A1B2, 0).UTC(), Type: "imgdel", ID: "100@local", User: "root@pam"},
			ok:   true,
		},
		{name: "vzdump's OK reply is not a UPID", in: "OK"},
		{name: "an empty string is not a UPID", in: ""},
		{name: "a UPID without the trailing colon is rejected", in: "UPID:pve1:0000A1B2:0012F3C4:6650A1B2:vzcreate:100:root@pam"},
		{name: "seven fields (which panic go-proxmox's NewTask) are rejected", in: "UPID:pve1:0000A1B2:0012F3C4:6650A1B2:vzcreate:100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := proxmox.ParseUPID(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseUPID(%q) error = %v, want ok=%t", tt.in, err, tt.ok)
			}
			if !tt.ok {
				return
			}
			if got.String() != tt.in {
				t.Errorf("String() = %q", got.String())
			}
			if got.Node != tt.want.Node || got.PID != tt.want.PID || got.PStart != tt.want.PStart || !got.StartTime.Equal(tt.want.StartTime) ||
				got.Type != tt.want.Type || got.ID != tt.want.ID || got.User != tt.want.User {
				t.Errorf("ParseUPID() = %+v, want %+v", got, tt.want)
			}
		})
	}
}
