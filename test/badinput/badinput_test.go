// Package badinput feeds a corpus of hostile and broken manifests to a real
// apiserver running the real manager against the Proxmox simulator, and
// proves that each one is either rejected at admission or reported by a
// condition, and that none of them reaches Proxmox as a mutating call.
//
// Each file in testdata/*.yaml holds one manifest and a comment line
//
//	# expect: rejected: <substring of the apiserver error>
//	# expect: condition: <Ready=False reason>
//
// Files under testdata/known-bugs/ document inputs that currently get
// through; they are loaded only with BADINPUT_KNOWN_BUGS=1.
package badinput

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/manager"
	"github.com/pve-operator/pve-operator/internal/pvesim"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

const (
	credsNamespace  = "pve-operator-system"
	appNamespace    = "badinput"
	deniedNamespace = "badinput-denied"
	foreignVMID     = 7001
	conditionWait   = 60 * time.Second
)

type entry struct {
	file   string
	kind   string // "rejected" or "condition"
	want   string
	object *unstructured.Unstructured
}

// loadCorpus reads every manifest and its expectation; placeholders for the
// simulator's URL and CA are filled in.
func loadCorpus(t *testing.T, dirs []string, simURL, simCA string) []entry {
	t.Helper()
	caJSON, err := json.Marshal(simCA)
	if err != nil {
		t.Fatal(err)
	}
	var out []entry
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(files)
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			e := entry{file: f}
			for _, line := range strings.Split(string(raw), "\n") {
				rest, ok := strings.CutPrefix(line, "# expect: ")
				if !ok {
					continue
				}
				kind, want, ok := strings.Cut(rest, ": ")
				if !ok || (kind != "rejected" && kind != "condition") || want == "" {
					t.Fatalf("%s: malformed expectation %q", f, line)
				}
				e.kind, e.want = kind, want
			}
			if e.kind == "" {
				t.Fatalf("%s: no '# expect:' line", f)
			}
			text := strings.NewReplacer("${SIM_URL}", simURL, "${SIM_CA}", string(caJSON)).Replace(string(raw))
			js, err := yaml.YAMLToJSON([]byte(text))
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			obj := &unstructured.Unstructured{}
			if err := obj.UnmarshalJSON(js); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if obj.GetKind() != "ProxmoxHost" && obj.GetKind() != "StagedImage" && obj.GetNamespace() == "" {
				obj.SetNamespace(appNamespace)
			}
			out = append(out, e)
			out[len(out)-1].object = obj
		}
	}
	return out
}

func TestBadInput(t *testing.T) {
	ctx, k8s, sim := startOperator(t)
	setup(ctx, t, k8s, sim)

	// Baseline once both hosts are Ready: from here on nothing may mutate.
	baseline := sim.RequestCounts()
	foreign, ok := sim.Container(foreignVMID)
	if !ok {
		t.Fatal("foreign container missing before the corpus ran")
	}

	corpus := checkedCorpus(t, sim)
	pending := applyCorpus(ctx, t, k8s, corpus)
	waitForConditions(ctx, t, k8s, pending)

	// Let any reconcile that was about to act do so before counting.
	time.Sleep(2 * time.Second)
	checkNothingMutated(t, sim, baseline, foreign)
}

// startOperator starts the control plane, the simulator (with the foreign
// container) and the manager; all of them stop when the test ends, the
// manager first.
func startOperator(t *testing.T) (context.Context, client.Client, *pvesim.Server) {
	t.Helper()
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	env, err := testenv.Start()
	if err != nil {
		t.Fatalf("envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping envtest: %v", err)
		}
	})
	k8s, err := client.New(env.Config, client.Options{Scheme: manager.Scheme})
	if err != nil {
		t.Fatal(err)
	}

	sim, err := pvesim.New(pvesim.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	if err := sim.AddContainer("pve1", foreignVMID, map[string]string{"hostname": "foreign"}, true); err != nil {
		t.Fatal(err)
	}

	mgr, err := manager.New(env.Config, manager.Options{
		MetricsAddr: "0", ProbeAddr: "0", SkipNameValidation: true,
		CredentialsNamespace: credsNamespace,
	})
	if err != nil {
		t.Fatal(err)
	}
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-mgrDone:
			if err != nil {
				t.Errorf("manager: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("manager did not stop")
		}
	})
	return ctx, k8s, sim
}

// checkedCorpus loads the corpus (with the known bugs when
// BADINPUT_KNOWN_BUGS is set) and checks that it is big enough and covers
// every kind.
func checkedCorpus(t *testing.T, sim *pvesim.Server) []entry {
	t.Helper()
	dirs := []string{"testdata"}
	if os.Getenv("BADINPUT_KNOWN_BUGS") != "" {
		dirs = append(dirs, filepath.Join("testdata", "known-bugs"))
	}
	corpus := loadCorpus(t, dirs, sim.URL(), string(sim.CACertPEM()))
	if len(dirs) == 1 && len(corpus) < 50 {
		t.Fatalf("corpus has %d manifests, want at least 50", len(corpus))
	}
	kinds := map[string]int{}
	for _, e := range corpus {
		kinds[e.object.GetKind()]++
	}
	for _, k := range []string{"Application", "ProxmoxHost", "Backup", "BackupSchedule", "Restore", "StagedImage"} {
		if kinds[k] == 0 {
			t.Errorf("corpus has no %s", k)
		}
	}
	t.Logf("corpus: %d manifests %v", len(corpus), kinds)
	return corpus
}

// applyCorpus creates every manifest (phase 1; admission answers
// immediately), checks the ones that must be rejected, and returns the
// accepted ones, which must be refused by a condition.
func applyCorpus(ctx context.Context, t *testing.T, k8s client.Client, corpus []entry) []entry {
	t.Helper()
	var pending []entry
	for _, e := range corpus {
		name := filepath.Base(e.file)
		err := k8s.Create(ctx, e.object, client.FieldValidation("Strict"))
		switch e.kind {
		case "rejected":
			switch {
			case err == nil:
				t.Errorf("%s: accepted at admission, want rejection containing %q", name, e.want)
			case !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err):
				t.Errorf("%s: rejected with %v (reason %s), want Invalid or BadRequest", name, err, apierrors.ReasonForError(err))
			case !strings.Contains(err.Error(), e.want):
				t.Errorf("%s: rejection %q does not contain %q", name, err.Error(), e.want)
			}
		case "condition":
			if err != nil {
				t.Errorf("%s: rejected at admission (%v), want it accepted and refused with condition %s", name, err, e.want)
				continue
			}
			pending = append(pending, e)
		}
	}
	return pending
}

// waitForConditions is phase 2: every accepted manifest reports
// Ready=False with its reason within conditionWait.
func waitForConditions(ctx context.Context, t *testing.T, k8s client.Client, pending []entry) {
	t.Helper()
	deadline := time.Now().Add(conditionWait)
	last := map[string]string{}
	for len(pending) > 0 && time.Now().Before(deadline) {
		var still []entry
		for _, e := range pending {
			got, err := readyCondition(ctx, k8s, e.object)
			if err != nil {
				last[e.file] = err.Error()
				still = append(still, e)
				continue
			}
			last[e.file] = got
			if got != "False/"+e.want {
				still = append(still, e)
			}
		}
		pending = still
		if len(pending) > 0 {
			time.Sleep(250 * time.Millisecond)
		}
	}
	for _, e := range pending {
		t.Errorf("%s: want Ready=False/%s within %s, last seen %q", filepath.Base(e.file), e.want, conditionWait, last[e.file])
	}
}

// checkNothingMutated: no mutating call reached Proxmox since baseline, and
// the foreign container is there, unchanged.
func checkNothingMutated(t *testing.T, sim *pvesim.Server, baseline map[string]int, foreign pvesim.ContainerView) {
	t.Helper()
	after := sim.RequestCounts()
	for route, n := range after {
		method, _, _ := strings.Cut(route, " ")
		if method == "GET" || route == "POST /access/ticket" {
			continue
		}
		if d := n - baseline[route]; d != 0 {
			t.Errorf("mutating Proxmox call during the corpus: %q x%d", route, d)
		}
	}
	now, ok := sim.Container(foreignVMID)
	switch {
	case !ok:
		t.Errorf("foreign container %d was deleted", foreignVMID)
	case now.Digest != foreign.Digest:
		t.Errorf("foreign container %d changed: digest %s -> %s", foreignVMID, foreign.Digest, now.Digest)
	}
}

// readyCondition returns "Status/Reason" of obj's Ready condition.
func readyCondition(ctx context.Context, k8s client.Client, obj *unstructured.Unstructured) (string, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(obj.GroupVersionKind())
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), u); err != nil {
		return "", err
	}
	conds, _, err := unstructured.NestedSlice(u.Object, "status", "conditions")
	if err != nil {
		return "", err
	}
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == v1alpha1.ConditionReady {
			return fmt.Sprintf("%v/%v", m["status"], m["reason"]), nil
		}
	}
	return "", fmt.Errorf("no Ready condition yet")
}

// setup creates the namespaces, Secrets and the two valid hosts the corpus
// refers to, and waits until both hosts are Ready.
func setup(ctx context.Context, t *testing.T, k8s client.Client, sim *pvesim.Server) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	for _, ns := range []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: credsNamespace}},
		{ObjectMeta: metav1.ObjectMeta{Name: appNamespace, Labels: map[string]string{"badinput/allowed": "true"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: deniedNamespace}},
		{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}},
	} {
		must(k8s.Create(ctx, ns))
	}
	secret := func(ns, name string, data map[string]string) {
		must(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: data}))
	}
	valid := map[string]string{"tokenID": pvesim.DefaultTokenID, "tokenSecret": pvesim.DefaultTokenSecret}
	secret(credsNamespace, "sim-creds", valid)
	secret(credsNamespace, "bad-token", map[string]string{"tokenID": pvesim.DefaultTokenID, "tokenSecret": "00000000-0000-0000-0000-000000000000"})
	secret(credsNamespace, "incomplete-creds", map[string]string{"username": "root@pam"})
	secret("kube-system", "stolen-token", valid)
	secret(appNamespace, "short-password", map[string]string{"password": "abc"})

	for _, h := range []struct {
		name    string
		allowed *metav1.LabelSelector
	}{
		{"sim", nil},
		{"sim-restricted", &metav1.LabelSelector{MatchLabels: map[string]string{"badinput/allowed": "true"}}},
	} {
		must(k8s.Create(ctx, &v1alpha1.ProxmoxHost{
			ObjectMeta: metav1.ObjectMeta{Name: h.name},
			Spec: v1alpha1.ProxmoxHostSpec{
				Endpoint:          sim.URL(),
				CredentialsRef:    v1alpha1.SecretReference{Name: "sim-creds", Namespace: credsNamespace},
				TLS:               &v1alpha1.TLSConfig{CABundle: string(sim.CACertPEM())},
				SyncInterval:      &metav1.Duration{Duration: 5 * time.Second},
				AllowedNamespaces: h.allowed,
			},
		}))
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, name := range []string{"sim", "sim-restricted"} {
		for {
			host := &v1alpha1.ProxmoxHost{}
			if err := k8s.Get(ctx, client.ObjectKey{Name: name}, host); err != nil {
				t.Fatal(err)
			}
			if meta.IsStatusConditionTrue(host.Status.Conditions, v1alpha1.ConditionReady) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("ProxmoxHost %s not Ready: %+v", name, host.Status.Conditions)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
