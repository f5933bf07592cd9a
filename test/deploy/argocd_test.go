package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite config/argocd/argocd-cm-patch.yaml from config/argocd/health.lua")

// healthKinds are the kinds config/argocd gives a health check: all of them.
var healthKinds = []string{"ProxmoxHost", "Application", "Backup", "Restore", "BackupSchedule", "StagedImage"}

func healthKey(kind string) string {
	return "resource.customizations.health." + v1alpha1.GroupVersion.Group + "_" + kind
}

// argocdCMPatch is the argocd-cm patch as generated from health.lua.
func argocdCMPatch(t *testing.T) []byte {
	t.Helper()
	script := readFile(t, "config/argocd/health.lua")
	data := map[string]string{}
	for _, k := range healthKinds {
		data[healthKey(k)] = script
	}
	cm := map[string]any{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata": map[string]any{
			"name":      "argocd-cm",
			"namespace": "argocd",
			"labels":    map[string]any{"app.kubernetes.io/name": "argocd-cm", "app.kubernetes.io/part-of": "argocd"},
		},
		"data": data,
	}
	b, err := yaml.Marshal(cm)
	if err != nil {
		t.Fatal(err)
	}
	header := "# Generated from health.lua by `go test ./test/deploy -run TestArgoCDConfigMapPatch -update`; do not edit.\n" +
		"# Argo CD health checks for every proxmox.pve-operator.io kind: a strategic-merge\n" +
		"# patch for argocd-cm (kustomization.yaml in this directory applies it as a\n" +
		"# Component; or `kubectl -n argocd patch configmap argocd-cm --patch-file ...`).\n"
	return append([]byte(header), b...)
}

func TestArgoCDConfigMapPatchIsGeneratedFromHealthLua(t *testing.T) {
	want := argocdCMPatch(t)
	path := repoPath("config", "argocd", "argocd-cm-patch.yaml")
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("config/argocd/argocd-cm-patch.yaml is stale: run `go test ./test/deploy -run TestArgoCDConfigMapPatch -update` (%v)", err)
	}
}

// The Component patches an Argo CD install's argocd-cm, keeping what is there.
func TestArgoCDComponentPatchesArgoCDConfigMap(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(dir+"/"+name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("argocd-cm.yaml", `apiVersion: v1
kind: ConfigMap
metadata: {name: argocd-cm, namespace: argocd}
data: {url: "https://argocd.example.com"}
`)
	rel, err := filepath.Rel(dir, repoPath("config", "argocd")) // kustomize refuses absolute roots
	if err != nil {
		t.Fatal(err)
	}
	write("kustomization.yaml", "resources: [argocd-cm.yaml]\ncomponents: ["+rel+"]\n")
	objs := kustomize(t, dir)
	if len(objs) != 1 {
		t.Fatalf("got %d objects", len(objs))
	}
	data, _, _ := unstructured.NestedStringMap(objs[0].Object, "data")
	if data["url"] != "https://argocd.example.com" {
		t.Errorf("the patch dropped argocd-cm's own settings: %v", sortedKeys(data))
	}
	for _, k := range healthKinds {
		if data[healthKey(k)] != readFile(t, "config/argocd/health.lua") {
			t.Errorf("%s missing or not health.lua", healthKey(k))
		}
	}
}

// The example Argo CD Applications point at paths of this repository that
// render.
func TestArgoCDExampleApplications(t *testing.T) {
	for _, f := range []string{"application-samples.yaml", "application-operator.yaml"} {
		objs := decodeYAML(t, []byte(readFile(t, "config/argocd/"+f)))
		if len(objs) != 1 || objs[0].GetKind() != "Application" || objs[0].GetAPIVersion() != "argoproj.io/v1alpha1" {
			t.Fatalf("%s: want one argoproj.io Application", f)
		}
		path, _, _ := unstructured.NestedString(objs[0].Object, "spec", "source", "path")
		if len(kustomize(t, repoPath(path))) == 0 {
			t.Errorf("%s: spec.source.path %q renders nothing", f, path)
		}
	}
}

// argoHookFinalizer is on Argo CD's own sync hooks, the one kind of
// deleting object whose health Argo CD still asks the check for.
const argoHookFinalizer = "argocd.argoproj.io/hook-finalizer"

// health is what Argo CD shows for obj, in the order gitops-engine's
// GetResourceHealth judges: an object being deleted is "Progressing /
// Pending deletion" before any health check runs, so for our kinds (never
// hooks) health.lua is not asked while a finalizer holds a deletion up.
// What blocks it shows in kubectl, in the Ready condition's message.
func health(t *testing.T, obj *unstructured.Unstructured) (status, message string) {
	t.Helper()
	if obj.GetDeletionTimestamp() != nil && !slices.Contains(obj.GetFinalizers(), argoHookFinalizer) {
		return "Progressing", "Pending deletion"
	}
	return luaHealth(t, obj)
}

// luaHealth runs health.lua the way Argo CD does (util/lua): a fresh state
// with only the package, base and table libraries (scripts from argocd-cm
// run without the open libraries), obj as a global converted value by
// value, a one-second limit, and a table result whose status must be a
// valid code. It runs the script whatever obj is, so the script's own
// deletion branch is tested too, though Argo CD itself never reaches it.
func luaHealth(t *testing.T, obj *unstructured.Unstructured) (status, message string) {
	t.Helper()
	cm := decodeYAML(t, []byte(readFile(t, "config/argocd/argocd-cm-patch.yaml")))[0]
	script, ok, _ := unstructured.NestedString(cm.Object, "data", healthKey(obj.GetKind()))
	if !ok {
		t.Fatalf("argocd-cm has no health check for %s", obj.GetKind())
	}
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for name, open := range map[string]lua.LGFunction{lua.LoadLibName: lua.OpenPackage, lua.BaseLibName: lua.OpenBase, lua.TabLibName: lua.OpenTable} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(open), NRet: 0, Protect: true}, lua.LString(name)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	// Argo CD hands the script the object from its cache: JSON-decoded, so
	// integers are int64 and everything else plain JSON types.
	j, err := json.Marshal(obj.Object)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		t.Fatal(err)
	}
	l.SetGlobal("obj", luaValue(l, u.Object))
	if err := l.DoString(script); err != nil {
		t.Fatalf("health check of %s failed: %v", key(obj), err)
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("health check of %s returned %s, not a table", key(obj), l.Get(-1).Type())
	}
	status, message = lua.LVAsString(ret.RawGetString("status")), lua.LVAsString(ret.RawGetString("message"))
	switch status {
	case "Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown":
	default:
		t.Fatalf("health check of %s returned status %q, which Argo CD turns into Unknown", key(obj), status)
	}
	return status, message
}

// luaValue converts like Argo CD's decodeValue.
func luaValue(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case json.Number:
		return lua.LString(v)
	case []any:
		t := l.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(luaValue(l, item))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(v))
		for k, item := range v {
			t.RawSetH(lua.LString(k), luaValue(l, item))
		}
		return t
	}
	return lua.LNil
}

// edgeCond is a condition as the controllers write it, for generation 2.
func edgeCond(typ, status, reason, msg string) map[string]any {
	return map[string]any{"type": typ, "status": status, "reason": reason, "message": msg,
		"lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": int64(2)}
}

// edgeObj is a hand-made object of kind at generation gen.
func edgeObj(kind string, gen int64, spec, status map[string]any) *unstructured.Unstructured {
	o := map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(), "kind": kind,
		"metadata": map[string]any{"name": "x", "namespace": "team-a", "generation": gen},
	}
	if spec != nil {
		o["spec"] = spec
	}
	if status != nil {
		o["status"] = status
	}
	return &unstructured.Unstructured{Object: o}
}

func deleting(u *unstructured.Unstructured) *unstructured.Unstructured {
	_ = unstructured.SetNestedField(u.Object, "2026-01-01T00:00:00Z", "metadata", "deletionTimestamp")
	u.SetFinalizers([]string{"proxmox.pve-operator.io/container"})
	return u
}

// Edge cases the controllers pass through too briefly to catch, on
// hand-made objects shaped like theirs. kstatus must agree under
// argoVerdictsOf, except where kstatusGap names what kstatus says instead.
func TestArgoCDHealthEdgeCases(t *testing.T) {
	ready := []any{edgeCond("Ready", "True", "Reconciled", "CT 105 running on pve1")}
	cases := []struct {
		name string
		obj  *unstructured.Unstructured
		want string
		// kstatusGap: kstatus judges the object differently, for the
		// reason in the case's comment; the test holds it to that.
		kstatusGap kstatus.Status
	}{
		// kstatus cannot tell a kind with conditions from one without
		// before the first status write, and calls both Current.
		{name: "an object the operator has not seen yet is Progressing", obj: edgeObj("Application", 1, nil, nil),
			want: "Progressing", kstatusGap: kstatus.CurrentStatus},
		// The same blind spot; the controllers never write a status without
		// conditions, so this is the script's safety net only.
		{name: "status without conditions is Progressing", obj: edgeObj("Application", 1, nil, map[string]any{"observedGeneration": int64(1)}),
			want: "Progressing", kstatusGap: kstatus.CurrentStatus},
		{name: "a spec change not yet observed is Progressing, however Ready the old generation was",
			obj: edgeObj("Application", 3, nil, map[string]any{"observedGeneration": int64(2), "conditions": ready}), want: "Progressing"},
		{name: "Reconciling=True is Progressing", obj: edgeObj("Application", 2, nil, map[string]any{"observedGeneration": int64(2), "conditions": []any{
			edgeCond("Ready", "False", "Creating", "creating"), edgeCond("Reconciling", "True", "Creating", "creating")}}), want: "Progressing"},
		{name: "Reconciling=True is Progressing even beside Ready=True, as in kstatus", obj: edgeObj("Application", 2, nil, map[string]any{"observedGeneration": int64(2), "conditions": []any{
			ready[0], edgeCond("Reconciling", "True", "Resizing", "growing rootfs")}}), want: "Progressing"},
		{name: "Ready=True with Reconciling=False naming routine work is Healthy", obj: edgeObj("Application", 2, nil, map[string]any{"observedGeneration": int64(2), "conditions": []any{
			ready[0], edgeCond("Reconciling", "False", "Locked", "container 105 is locked (backup) by Backup \"nightly\"")}}), want: "Healthy"},
		{name: "Stalled=True is Degraded", obj: edgeObj("ProxmoxHost", 2, nil, map[string]any{"observedGeneration": int64(2), "conditions": []any{
			edgeCond("Ready", "False", "CredentialsNotFound", "no Secret"), edgeCond("Stalled", "True", "CredentialsNotFound", "no Secret")}}), want: "Degraded"},
		{name: "Ready=False without Reconciling or Stalled is Progressing", obj: edgeObj("Backup", 2, nil, map[string]any{"observedGeneration": int64(2), "conditions": []any{
			edgeCond("Ready", "False", "Locked", "")}}), want: "Progressing"},
		// kstatus reads conditions only; the controllers always set Stalled
		// with a Failed phase (the live failed Backup checks that), so the
		// phase is the script's safety net only.
		{name: "a Failed phase is Degraded even without Stalled", obj: edgeObj("Restore", 2, nil, map[string]any{"observedGeneration": int64(2), "phase": "Failed", "conditions": []any{
			edgeCond("Ready", "False", "Failed", "")}}), want: "Degraded", kstatusGap: kstatus.InProgressStatus},
		{name: "a stopped Application that should run is not Suspended", obj: edgeObj("Application", 2, map[string]any{"powerState": "Running"},
			map[string]any{"observedGeneration": int64(2), "state": "stopped", "conditions": ready}), want: "Healthy"},
		{name: "a deleted object is Progressing", obj: deleting(edgeObj("Application", 2, nil, map[string]any{"observedGeneration": int64(2), "conditions": ready})),
			want: "Progressing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, msg := health(t, c.obj)
			if got != c.want {
				t.Errorf("%s (%q), want %s", got, msg, c.want)
			}
			if c.kstatusGap == "" {
				checkKstatus(t, c.obj, got, msg)
			} else if res := computeKstatus(t, c.obj); res.Status != c.kstatusGap {
				t.Errorf("kstatus says %s (%q), want the known gap %s", res.Status, res.Message, c.kstatusGap)
			}
		})
	}
}

// Argo CD judges a deleting object itself (see health), but the script has
// a deletion branch of its own, for any caller that runs it regardless:
// Progressing, with what holds the deletion up.
func TestArgoCDHealthLuaDeletionBranch(t *testing.T) {
	cases := []struct {
		name, wantMessage string
		obj               *unstructured.Unstructured
	}{
		{"a deletion the operator has not looked at yet says Deleting", "Deleting", deleting(edgeObj("Backup", 2, nil, nil))},
		{"a deletion of a Ready object says Deleting", "Deleting", deleting(edgeObj("Application", 2, nil, map[string]any{"observedGeneration": int64(2),
			"conditions": []any{edgeCond("Ready", "True", "Reconciled", "CT 105 running on pve1")}}))},
		{"a blocked deletion names the blocking cause", "Deleting: Locked: container 105 is locked by its Backup \"nightly\" (backup); waiting to delete it",
			deleting(edgeObj("Application", 2, nil, map[string]any{"observedGeneration": int64(2), "conditions": []any{
				edgeCond("Ready", "False", "Locked", "container 105 is locked by its Backup \"nightly\" (backup); waiting to delete it"),
				edgeCond("Reconciling", "True", "Locked", "container 105 is locked by its Backup \"nightly\" (backup); waiting to delete it")}}))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got, msg := luaHealth(t, c.obj); got != "Progressing" || msg != c.wantMessage {
				t.Errorf("%s (%q), want Progressing (%q)", got, msg, c.wantMessage)
			}
			if got, msg := health(t, c.obj); got != "Progressing" || msg != "Pending deletion" {
				t.Errorf("Argo CD shows %s (%q), want its own Progressing (\"Pending deletion\")", got, msg)
			}
		})
	}
}

func describeStatus(u *unstructured.Unstructured) string {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var out []string
	for _, c := range conds {
		m := c.(map[string]any)
		out = append(out, fmt.Sprintf("%s=%s %s", m["type"], m["status"], m["reason"]))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
