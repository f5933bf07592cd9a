package controllers

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// TestDriftReadsArePacedPerHost: however many Applications are due for a
// drift read at once, the host's budget hands out one slot per 1/rate, and
// a pass woken before its slot does not take another one.
func TestDriftReadsArePacedPerHost(t *testing.T) {
	r := &ApplicationReconciler{DriftInterval: time.Millisecond, DriftReadsPerSecond: 10}
	pveHost := &HostEntry{Name: "pve", apps: &appMemory{}}
	otherHost := &HostEntry{Name: "other", apps: &appMemory{}}
	const n = 50
	apps := make([]*v1alpha1.Application, n)
	cts := make([]proxmox.ContainerSummary, n)
	for i := range apps {
		uid := types.UID(fmt.Sprintf("uid-%d", i))
		apps[i] = &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{UID: uid, Generation: 1}}
		cts[i] = proxmox.ContainerSummary{VMID: 100 + i, Tags: []string{lxcconfig.ManagedTag, lxcconfig.OwnerTag(string(uid))}}
		r.converged.Store(uid, convergeMark{generation: 1, at: time.Now().Add(-time.Hour)})
	}
	now, last := 0, time.Duration(0)
	slots := make([]time.Duration, n)
	for i := range apps {
		pass, wait := r.configPassDue(apps[i], cts[i], pveHost)
		switch {
		case pass:
			now++
		case wait < last:
			t.Fatalf("app %d: slot in %s comes before the previous one (%s)", i, wait, last)
		default:
			last = wait
		}
		slots[i] = wait
	}
	if now != 1 {
		t.Fatalf("%d Applications may read their config at once, want 1", now)
	}
	// 49 more slots, 100 ms apart: the last is about 4.9 s out.
	if last < 4*time.Second || last > 5*time.Second {
		t.Errorf("last slot in %s, want about 4.9 s for 49 reads at 10/s", last)
	}
	// Woken early (an inventory event): same slot, no new reservation.
	for i := 1; i < n; i++ {
		pass, wait := r.configPassDue(apps[i], cts[i], pveHost)
		if pass || wait > slots[i] {
			t.Fatalf("app %d: woken early got pass=%v wait=%s, its slot was %s away", i, pass, wait, slots[i])
		}
	}
	// Another host has its own budget.
	if pass, _ := r.configPassDue(apps[1], cts[1], otherHost); pass {
		t.Fatal("app 1 already holds a slot; asking again must not read now")
	}
	other := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{UID: "uid-x", Generation: 1}}
	r.converged.Store(other.UID, convergeMark{generation: 1, at: time.Now().Add(-time.Hour)})
	if pass, _ := r.configPassDue(other, proxmox.ContainerSummary{Tags: []string{lxcconfig.ManagedTag, lxcconfig.OwnerTag("uid-x")}}, otherHost); !pass {
		t.Error("the first drift read on another host waited for this host's budget")
	}
	// A spec change is never paced.
	apps[n-1].Generation = 2
	if pass, _ := r.configPassDue(apps[n-1], cts[n-1], pveHost); !pass {
		t.Error("a spec change waited for a drift slot")
	}
}
