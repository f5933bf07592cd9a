package controllers

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// TestPendingKeysClearWithARestart: changes waiting for a restart are
// forgotten once the container is seen stopped (it applies them when it
// starts), and a container started after the config read is read again.
func TestPendingKeysClearWithARestart(t *testing.T) {
	const uid = types.UID("uid-1")
	read := time.Now().Add(-time.Minute)
	cases := []struct {
		name      string
		mark      convergeMark
		ct        proxmox.ContainerSummary
		reread    bool
		remaining []string
	}{
		{"a container running since before the read keeps its pending keys",
			convergeMark{at: read, restartKeys: []string{"timezone"}}, proxmox.ContainerSummary{Status: "running", Uptime: 3600}, false, []string{"timezone"}},
		{"a container started after the read is read again",
			convergeMark{at: read, restartKeys: []string{"timezone"}}, proxmox.ContainerSummary{Status: "running", Uptime: 10}, true, []string{"timezone"}},
		{"a stopped container has nothing waiting",
			convergeMark{at: read, restartKeys: []string{"timezone"}}, proxmox.ContainerSummary{Status: "stopped"}, false, nil},
		{"nothing pending needs no read, however young the container",
			convergeMark{at: read}, proxmox.ContainerSummary{Status: "running", Uptime: 1}, false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &ApplicationReconciler{}
			r.converged.Store(uid, tc.mark)
			if got := r.restartedSinceRead(uid, tc.ct); got != tc.reread {
				t.Errorf("restartedSinceRead = %v, want %v", got, tc.reread)
			}
			if got := r.pendingAfterStop(uid, tc.mark, tc.ct); len(got) != len(tc.remaining) {
				t.Errorf("pending keys = %v, want %v", got, tc.remaining)
			}
		})
	}
}
