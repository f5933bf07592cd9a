package bulkadopt_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/adoptgen"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/manager"
	"github.com/pve-operator/pve-operator/internal/pvesim"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

const (
	ns       = "legacy"
	hostName = "pve"
)

// TestBulkAdoptionChangesNothingButTheOwnershipMarking generates adopting
// Applications for fifty varied hand-made containers, applies them, waits
// until every one is Ready and then checks, with the simulator's request
// counters and its state, that the operator made exactly one config PUT
// per container, that it changed only the ownership tags (and the
// ownership note under a declared description), and that nothing was
// started, stopped, resized or otherwise touched.
func TestBulkAdoptionChangesNothingButTheOwnershipMarking(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	k8s, sim, rec := start(t, ctx)
	seeded := seed(t, sim)

	began := time.Now()
	pve, host, err := adoptgen.HostClient(ctx, k8s, hostName)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pve.Close)
	rs, err := adoptgen.Generate(ctx, pve, adoptgen.Options{Host: hostName, Namespace: ns, Filter: adoptgen.Filter{VMIDFrom: firstVMID, VMIDTo: rangeEnd}})
	if err != nil {
		t.Fatal(err)
	}
	nsObj := &corev1.Namespace{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: ns}, nsObj); err != nil {
		t.Fatal(err)
	}
	adoptgen.GrantNotes(host, nsObj, rs)
	checkGenerated(t, rs)

	sim.ResetRequestCounts()
	apply(t, ctx, k8s, rs)
	apps := waitAllReady(t, ctx, k8s)
	t.Logf("generated and adopted %d containers in %s", len(apps), time.Since(began).Round(time.Millisecond))
	// A pass that follows the first (a status update wakes one) must not
	// write again: give it the time to.
	time.Sleep(2 * time.Second)

	checkRequests(t, sim)
	for _, app := range apps {
		vmid := int(*app.Spec.VMID)
		checkContainer(t, sim, &app, seeded[vmid])
		checkPut(t, rec.configPuts(vmid), &app, seeded[vmid])
	}
	for _, vmid := range []int{templateVMID, ownedVMID, outsideVMID} {
		if n := sim.MutatingRequests(vmid); n != 0 {
			t.Errorf("container %d, not to be adopted, got %d mutating requests", vmid, n)
		}
	}
}

// start runs the control plane, the simulator behind a recorder and an
// in-process manager, with a ProxmoxHost that grants namespace legacy
// adoption (and privileged containers) over the range.
func start(t *testing.T, ctx context.Context) (client.Client, *pvesim.Server, *recorder) {
	t.Helper()
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	k8s, err := client.New(env.Config, client.Options{Scheme: manager.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	sim, err := pvesim.New(pvesim.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	if err := testenv.CreateHost(ctx, k8s, sim, testenv.HostFixture{Name: hostName, Namespaces: []string{ns}, SyncInterval: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	rec, endpoint, ca := startRecorder(t, sim)
	configureHost(t, ctx, k8s, endpoint, ca)
	mctx, stop := context.WithCancel(ctx)
	mgr, err := manager.New(env.Config, manager.Options{MetricsAddr: "0", ProbeAddr: "0", ProxmoxQPS: 200, ProxmoxBurst: 200, MaxTasksPerHost: 16}) //nolint:contextcheck // New only registers controllers, indexes and watches; the manager gets its context from Start
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(mctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	// Registered after the control plane's cleanup, so it runs before it.
	t.Cleanup(func() { stop(); <-done })
	if err := testenv.WaitHostReady(ctx, k8s, hostName, 30*time.Second); err != nil {
		t.Fatalf("host not Ready: %v", err)
	}
	return k8s, sim, rec
}

// configureHost points the host at the recorder and grants the namespace
// adoption over the range and privileged containers (two are).
func configureHost(t *testing.T, ctx context.Context, k8s client.Client, endpoint, ca string) {
	t.Helper()
	host := &v1alpha1.ProxmoxHost{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: hostName}, host); err != nil {
		t.Fatal(err)
	}
	host.Spec.Endpoint = endpoint
	host.Spec.TLS = &v1alpha1.TLSConfig{CABundle: ca}
	host.Spec.Grants = []v1alpha1.TenantGrant{{
		NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}},
		Adopt:             &v1alpha1.AdoptionGrant{VMIDRanges: []v1alpha1.VMIDRange{{From: firstVMID, To: rangeEnd}}},
		Privileged:        true,
	}}
	if err := k8s.Update(ctx, host); err != nil {
		t.Fatal(err)
	}
}

// seed adds the fifty and the three the generator must skip, and returns
// the fifty's configs as the simulator holds them (with its defaults).
func seed(t *testing.T, sim *pvesim.Server) map[int]map[string]string {
	t.Helper()
	if err := sim.AddContainers(handMade()); err != nil {
		t.Fatal(err)
	}
	if err := sim.AddContainer("pve1", templateVMID, map[string]string{"hostname": "tpl", "template": "1"}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := testenv.AddOwnedByOther(sim, "pve2", ownedVMID, true); err != nil {
		t.Fatal(err)
	}
	if err := sim.AddContainer("pve3", outsideVMID, map[string]string{"hostname": "outside"}, true); err != nil {
		t.Fatal(err)
	}
	out := map[int]map[string]string{}
	for i := range count {
		ct, _ := sim.Container(firstVMID + i)
		out[ct.VMID] = ct.Config
	}
	return out
}

// checkGenerated: one Application per hand-made container, each planned
// to change nothing but the marking.
func checkGenerated(t *testing.T, rs []adoptgen.Result) {
	t.Helper()
	if len(rs) != count {
		t.Fatalf("generated %d Applications, want %d (the template and the owned container left out)", len(rs), count)
	}
	for _, r := range rs {
		if !r.Plan.Empty() || r.Plan.Invalid != "" {
			t.Errorf("%s plans more than the marking:\n%s", r.App.Name, strings.Join(r.Plan.Lines(r.Config), "\n"))
		}
		if i := slices.IndexFunc(r.Notes, func(n string) bool { return strings.Contains(n, "would stall") }); i >= 0 {
			t.Errorf("%s: %s", r.App.Name, r.Notes[i])
		}
	}
}

// apply creates the Applications from the YAML stream, as `kubectl apply
// -f` of the generator's output would.
func apply(t *testing.T, ctx context.Context, k8s client.Client, rs []adoptgen.Result) {
	t.Helper()
	var buf bytes.Buffer
	if err := adoptgen.WriteStream(&buf, rs); err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(buf.String(), "\n---\n") {
		app, err := adoptgen.Decode([]byte(doc))
		if err != nil {
			t.Fatalf("decode: %v\n%s", err, doc)
		}
		if err := k8s.Create(ctx, app); err != nil {
			t.Fatalf("create %s: %v", app.Name, err)
		}
	}
}

func waitAllReady(t *testing.T, ctx context.Context, k8s client.Client) []v1alpha1.Application {
	t.Helper()
	var list v1alpha1.ApplicationList
	err := testenv.Poll(ctx, 75*time.Second, func() (bool, error) {
		if err := k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, a := range list.Items {
			if !meta.IsStatusConditionTrue(a.Status.Conditions, v1alpha1.ConditionReady) {
				return false, nil
			}
		}
		return len(list.Items) == count, nil
	})
	if err != nil {
		for _, a := range list.Items {
			if c := meta.FindStatusCondition(a.Status.Conditions, v1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
				t.Logf("%s: %+v", a.Name, c)
			}
		}
		t.Fatalf("not every Application became Ready: %v", err)
	}
	return list.Items
}

// checkRequests: the only mutating requests since the manifests were
// applied are one config PUT per container.
func checkRequests(t *testing.T, sim *pvesim.Server) {
	t.Helper()
	for k, n := range sim.RequestCounts() {
		if strings.HasPrefix(k, "GET ") {
			continue
		}
		if k != "PUT /nodes/{node}/lxc/{vmid}/config" {
			t.Errorf("the adoption sent %d × %s", n, k)
		} else if n != count {
			t.Errorf("the adoption sent %d config PUTs, want one per container (%d)", n, count)
		}
	}
	for i := range count {
		if n := sim.MutatingRequests(firstVMID + i); n != 1 {
			t.Errorf("container %d got %d mutating requests, want 1", firstVMID+i, n)
		}
	}
}

// checkContainer: the container is as seeded but for the ownership
// marking, in the same power state, without pending changes or tasks.
func checkContainer(t *testing.T, sim *pvesim.Server, app *v1alpha1.Application, before map[string]string) {
	t.Helper()
	vmid := int(*app.Spec.VMID)
	ct, _ := sim.Container(vmid)
	after := maps.Clone(ct.Config)
	wantTags := lxcconfig.NormalizeTags(lxcconfig.WithOwner(lxcconfig.SplitTags(before["tags"]), string(app.UID)))
	if got := lxcconfig.NormalizeTags(lxcconfig.SplitTags(after["tags"])); !slices.Equal(got, wantTags) {
		t.Errorf("%d: tags %v, want %v", vmid, got, wantTags)
	}
	_, hadDescription := before["description"]
	switch got := strings.TrimRight(after["description"], "\n"); {
	case hadDescription && got != lxcconfig.DesiredDescription(app):
		t.Errorf("%d: description %q, want the user's text above the ownership note", vmid, got)
	case !hadDescription && got != "":
		t.Errorf("%d: a description was written: %q", vmid, got)
	}
	delete(after, "tags")
	delete(after, "description")
	rest := maps.Clone(before)
	delete(rest, "tags")
	delete(rest, "description")
	if !maps.Equal(after, rest) {
		t.Errorf("%d: config changed beyond the marking:\n before %v\n after  %v", vmid, rest, after)
	}
	wantState := map[v1alpha1.PowerState]string{v1alpha1.PowerStateRunning: "running", v1alpha1.PowerStateStopped: "stopped"}[app.Spec.PowerState]
	if ct.Status != wantState || len(ct.Pending) > 0 || len(ct.PendingDelete) > 0 {
		t.Errorf("%d: %s with pending %v %v, want %s with nothing pending", vmid, ct.Status, ct.Pending, ct.PendingDelete, wantState)
	}
	if tasks := sim.Tasks("", fmt.Sprint(vmid)); len(tasks) > 0 {
		t.Errorf("%d: the adoption ran %d tasks, first %s", vmid, len(tasks), tasks[0].Type)
	}
}

// checkPut: the one config PUT of the container set the ownership tags, and
// the description only when the spec declares one, and nothing else.
func checkPut(t *testing.T, puts []map[string]string, app *v1alpha1.Application, before map[string]string) {
	t.Helper()
	vmid := *app.Spec.VMID
	if len(puts) != 1 {
		t.Errorf("%d: %d config PUTs recorded, want 1", vmid, len(puts))
		return
	}
	set := maps.Clone(puts[0])
	delete(set, "digest") // the config the change was computed from
	want := []string{"tags"}
	if _, ok := before["description"]; ok {
		want = append(want, "description")
	}
	if got := slices.Sorted(maps.Keys(set)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("%d: the PUT set %v, want only %v", vmid, got, want)
	}
	wantTags := lxcconfig.NormalizeTags(lxcconfig.WithOwner(lxcconfig.SplitTags(before["tags"]), string(app.UID)))
	if got := lxcconfig.NormalizeTags(lxcconfig.SplitTags(set["tags"])); !slices.Equal(got, wantTags) {
		t.Errorf("%d: the PUT set tags %v, want %v", vmid, got, wantTags)
	}
	if d, ok := set["description"]; ok && d != lxcconfig.DesiredDescription(app) {
		t.Errorf("%d: the PUT set description %q", vmid, d)
	}
}
