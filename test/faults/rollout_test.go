package faults_test

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/pvesim"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

const (
	moveVolumeRoute = "/nodes/{node}/lxc/{vmid}/move_volume"
	// rolloutWait covers a failed step's retry (30 s) for each injected
	// task failure.
	rolloutWait = 4 * time.Minute
)

// TestRolloutsUnderFaults updates the image of three running Applications
// with two data mount points each while the pull of the new image fails
// once inside Proxmox, the new container's create task fails once,
// move_volume calls fail with 5xx or lose their answer after PVE has
// started the hand-over, a hand-over task fails, and one mutating call in
// ten fails throughout. Every Application must end on the new image, with
// every data volume that existed before on exactly one volume attached to
// its container, and nothing foreign touched.
func TestRolloutsUnderFaults(t *testing.T) {
	ctx := context.Background()
	k8s, sim := startSuite(t, ctx)
	foreign := addForeignContainers(t, sim)
	const n = 3
	for i := range n {
		if err := k8s.Create(ctx, imageApp(i)); err != nil {
			t.Fatal(err)
		}
	}
	if waitReady(t, ctx, k8s, n); t.Failed() {
		return
	}
	markers := map[string]string{}
	for i := range n {
		a := &v1alpha1.Application{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: "team", Name: imageAppName(i)}, a); err != nil {
			t.Fatal(err)
		}
		marked, err := testenv.MarkDataVolumes(sim, a)
		if err != nil {
			t.Fatal(err)
		}
		maps.Copy(markers, marked)
	}

	injectBackgroundFaults(t, sim)
	sim.FailTasks(pvesim.TaskOCIRegistryPull, "", 1, "command 'skopeo copy' failed: exit code 1")
	sim.FailTasks(pvesim.TaskCreate, "", 1, "unable to create CT: simulated extraction error")
	sim.FailRequests("POST", moveVolumeRoute, 2, 500, "simulated server error")
	sim.DropAfterCommit("POST", moveVolumeRoute, 1)
	sim.FailTasks(pvesim.TaskMoveVolume, "", 1, "simulated rename error")
	for i := range n {
		a := &v1alpha1.Application{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: "team", Name: imageAppName(i)}, a); err != nil {
			t.Fatal(err)
		}
		a.Spec.Image.Reference = "alpine:3.21"
		if err := k8s.Update(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, ctx, "every image update done", rolloutWait, func() bool { return rolledOut(ctx, k8s, n) })
	if waitReady(t, ctx, k8s, n); t.Failed() {
		return
	}
	for _, v := range testenv.MarkerViolations(ctx, k8s, sim, "team", markers) {
		t.Error(v)
	}
	checkInvariants(t, ctx, k8s, sim, foreign)
	t.Logf("%d markers checked; move_volume calls %d for %d volumes", len(markers), sim.RequestCount("POST "+moveVolumeRoute), len(markers))
}

func imageAppName(i int) string { return fmt.Sprintf("img-%d", i) }

func imageApp(i int) *v1alpha1.Application {
	a := testenv.SmallApp("team", imageAppName(i), "pve")
	a.Spec.Template = ""
	a.Spec.Node = "pve1"
	a.Spec.Image = &v1alpha1.ImageSource{Reference: "alpine:3.20", Storage: "local"}
	a.Spec.MountPoints = []v1alpha1.MountPoint{
		{Name: "mp0", Storage: "local-lvm", Size: ptr.To(resource.MustParse("1Gi")), Path: "/data"},
		{Name: "mp1", Storage: "local-lvm", Size: ptr.To(resource.MustParse("1Gi")), Path: "/logs"},
	}
	return a
}

// rolledOut reports whether all n image Applications run the new image
// with no rollout left.
func rolledOut(ctx context.Context, k8s client.Client, n int) bool {
	var l v1alpha1.ApplicationList
	if err := k8s.List(ctx, &l, client.InNamespace("team")); err != nil || len(l.Items) != n {
		return false
	}
	for _, a := range l.Items {
		if img := a.Status.Image; img == nil || img.Reference != "alpine:3.21" || img.Rollout != nil {
			return false
		}
	}
	return true
}
