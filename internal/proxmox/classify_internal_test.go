package proxmox

import (
	"errors"
	"testing"
)

// TestClassifyMessage covers PVE texts the simulator does not produce, and
// pins the precedence between overlapping phrases.
func TestClassifyMessage(t *testing.T) {
	tests := []struct {
		msg  string
		is   func(error) bool
		lock string
	}{
		{"CT is locked (backup)", IsLocked, "backup"},
		{"unable to create CT 100 - CT is locked (create)", IsLocked, "create"},
		{"VM is locked (snapshot-delete)", IsLocked, "snapshot-delete"},
		{"can't lock file '/run/lock/lxc/pve-config-100.lock' - got timeout", IsLockTimeout, ""},
		{"detected modified configuration - file changed by other user? Try again.", IsDigestMismatch, ""},
		{"CT 100 already exists on node 'pve'", IsAlreadyExists, ""},
		{"VM 100 already exists", IsAlreadyExists, ""},
		{"snapshot name 'daily' already used", IsAlreadyExists, ""},
		{"Configuration file 'nodes/pve/lxc/100.conf' does not exist", IsNotFound, ""},
		{"storage 'nope' does not exist", IsNotFound, ""},
		{"can't remove CT 100 - protection mode enabled", IsProtected, ""},
		{"unable to restore CT 100 - protection mode enabled", IsProtected, ""},
		{"cannot remove protected volume 'backup/x.tar.zst' on 'local'", IsProtected, ""},
		{"CT 100 already running", IsAlreadyRunning, ""},
		{"unable to destroy CT 100 - container is running", IsAlreadyRunning, ""},
		{"you can't convert a CT to template if the CT is running", IsAlreadyRunning, ""},
		{"can't overwrite running container", IsAlreadyRunning, ""},
		{"CT 100 not running", IsNotRunning, ""},
		{"VM 100 not running", IsNotRunning, ""},
		{"no such task", IsNoSuchTask, ""},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			err := classifyMessage(tt.msg, errors.New(tt.msg))
			if err == nil || !tt.is(err) {
				t.Fatalf("classifyMessage(%q) = %T %v", tt.msg, err, err)
			}
			if LockName(err) != tt.lock {
				t.Errorf("lock = %q, want %q", LockName(err), tt.lock)
			}
		})
	}
	t.Run("an unknown text stays unclassified", func(t *testing.T) {
		if err := classifyMessage("unable to get any free VMID in range [100, 999999]", errors.New("x")); err != nil {
			t.Fatalf("classified as %T", err)
		}
	})
}

func TestNotFoundResource(t *testing.T) {
	tests := map[string]string{
		"Configuration file 'nodes/pve/lxc/100.conf' does not exist": "container",
		"snapshot 'daily' does not exist":                            "snapshot",
		"unable to create CT 100 - storage 'x' does not exist":       "storage",
		"volume 'local:backup/x' does not exist":                     "volume",
	}
	for msg, want := range tests {
		t.Run(msg, func(t *testing.T) {
			var nf *NotFoundError
			if !errors.As(classifyMessage(msg, errors.New(msg)), &nf) || nf.Resource != want {
				t.Fatalf("resource = %+v, want %q", nf, want)
			}
		})
	}
}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		exit   string
		failed bool
	}{
		{"OK", false},
		{"WARNINGS: 3", false},
		{"job errors", true},
		{"unexpected status", true},
		{"received interrupt", true},
	}
	for _, tt := range tests {
		t.Run(tt.exit, func(t *testing.T) {
			err := classifyExitStatus("UPID:pve:00000001:00000001:00000001:vzdump::root@pam:", tt.exit, "")
			if (err != nil) != tt.failed || (err != nil && !IsTaskFailed(err)) {
				t.Fatalf("classifyExitStatus(%q) = %v", tt.exit, err)
			}
		})
	}
}
