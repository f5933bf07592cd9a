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

// driftFixture is n settled Applications on one host, each last read an
// hour ago, with a reconciler whose pacer wakes into a channel.
func driftFixture(n int) (*ApplicationReconciler, *HostEntry, []*v1alpha1.Application, []proxmox.ContainerSummary) {
	r := &ApplicationReconciler{DriftInterval: time.Millisecond, DriftReadsPerSecond: 100, wake: make(chan ctrlEvent, 4*n)}
	host := &HostEntry{Name: "pve", apps: &appMemory{}}
	apps := make([]*v1alpha1.Application, n)
	cts := make([]proxmox.ContainerSummary, n)
	for i := range apps {
		uid := types.UID(fmt.Sprintf("uid-%d", i))
		apps[i] = &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{UID: uid, Name: fmt.Sprintf("app-%d", i), Generation: 1}}
		cts[i] = proxmox.ContainerSummary{VMID: 100 + i, Tags: []string{lxcconfig.ManagedTag, lxcconfig.OwnerTag(string(uid))}}
		r.converged.Store(uid, convergeMark{generation: 1, at: time.Now().Add(-time.Hour)})
	}
	return r, host, apps, cts
}

// TestDriftReadsArePacedPerHost: however many Applications are due for a
// drift read at once, none reads inline; the host's pacer wakes each once,
// and only a woken one reads.
func TestDriftReadsArePacedPerHost(t *testing.T) {
	const n = 30
	r, host, apps, cts := driftFixture(n)
	defer host.apps.stopReads()
	for i := range apps {
		if r.configPassDue(apps[i], cts[i], host) {
			t.Fatalf("app %d read its config inline; drift reads must wait for the pacer", i)
		}
	}
	woken := map[string]int{}
	for len(woken) < n {
		select {
		case k := <-r.wake:
			woken[k.Name]++
		case <-time.After(10 * time.Second):
			t.Fatalf("the pacer woke %d of %d Applications", len(woken), n)
		}
	}
	for i := range apps {
		if !r.configPassDue(apps[i], cts[i], host) {
			t.Fatalf("app %d was woken but may not read", i)
		}
		if got := woken[apps[i].Name]; got != 1 {
			t.Errorf("app %d woken %d times, want once", i, got)
		}
	}
}

// TestReadsTheUserWaitsForAreNotPaced: a spec change known to this process
// reads at once; after a restart a settled Application is trusted until its
// paced read, and one whose spec changed meanwhile goes before the drift
// reads.
func TestReadsTheUserWaitsForAreNotPaced(t *testing.T) {
	r, host, apps, cts := driftFixture(4)
	defer host.apps.stopReads()
	apps[0].Generation = 2
	if !r.configPassDue(apps[0], cts[0], host) {
		t.Error("a spec change waited for the pacer")
	}
	// Restarted: nothing in memory, status says Ready at generation 1.
	for i := 1; i < 3; i++ {
		r.converged.Delete(apps[i].UID)
		apps[i].Status = v1alpha1.ApplicationStatus{VMID: int32(cts[i].VMID), ObservedGeneration: 1,
			Conditions: []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue}}}
	}
	if r.configPassDue(apps[1], cts[1], host) {
		t.Error("a settled Application read its config inline after a restart")
	}
	apps[2].Generation = 2
	// The bucket starts full, so the changed one reads at once.
	if !r.configPassDue(apps[2], cts[2], host) {
		t.Error("a spec changed while the operator was down waited although the budget had room")
	}
	select {
	case k := <-r.wake:
		if k.Name != apps[1].Name {
			t.Errorf("woke %s, want %s", k.Name, apps[1].Name)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the trusted Application was never woken for its read")
	}
	// Trusted and queued for its paced read, then changed while this
	// process runs: someone waits for it, so it reads at once.
	r.converged.Delete(apps[3].UID)
	apps[3].Status = apps[1].Status
	apps[3].Status.VMID = int32(cts[3].VMID)
	if r.configPassDue(apps[3], cts[3], host) {
		t.Error("a settled Application read its config inline after a restart")
	}
	apps[3].Generation = 2
	if !r.configPassDue(apps[3], cts[3], host) {
		t.Error("a spec changed after the restart waited for the pacer")
	}
}
