package deploy

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/manager"
	"github.com/pve-operator/pve-operator/internal/pvesim"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

// The envtest-backed tests share one control plane and one operator, started
// on first use: the operator is the real manager, configured from the
// shipped Deployment's args and running as the shipped ServiceAccount
// (impersonated) with nothing but the shipped RBAC.

var (
	planeOnce sync.Once
	plane     *testenv.Env
	planeErr  error

	opOnce sync.Once
	op     *operator
	opErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if op != nil {
		op.stop()
	}
	if plane != nil {
		_ = plane.Stop()
	}
	os.Exit(code)
}

// controlPlane starts (once) kube-apiserver and etcd with the CRDs.
func controlPlane(t *testing.T) *testenv.Env {
	t.Helper()
	planeOnce.Do(func() { plane, planeErr = testenv.Start() })
	if planeErr != nil {
		t.Fatal(planeErr)
	}
	return plane
}

func adminClient(t *testing.T) client.Client {
	t.Helper()
	c, err := client.New(controlPlane(t).Config, client.Options{Scheme: manager.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// impersonate returns a client acting as user in groups (plus
// system:authenticated), the way the apiserver sees a real user.
func impersonate(t *testing.T, user string, groups ...string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(controlPlane(t).Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: append(groups, "system:authenticated")}
	c, err := client.New(cfg, client.Options{Scheme: manager.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The operator's identity as the apiserver sees its pod.
var (
	operatorUser   = "system:serviceaccount:" + operatorNamespace + ":" + serviceAccount
	operatorGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + operatorNamespace}
)

type operator struct {
	sim         *pvesim.Server
	opts        manager.Options
	metricsAddr string
	cancel      context.CancelFunc
	done        chan struct{}
}

func (o *operator) stop() {
	o.cancel()
	<-o.done
	_ = o.sim.Close()
}

// runningOperator installs config/default (bar the CRDs, already there)
// and starts the manager as the operator's ServiceAccount, once.
func runningOperator(t *testing.T) *operator {
	t.Helper()
	opOnce.Do(func() { op, opErr = startOperator(t) })
	if opErr != nil {
		t.Fatalf("start the operator as deployed: %v", opErr)
	}
	return op
}

func startOperator(t *testing.T) (*operator, error) {
	ctx := context.Background()
	admin := adminClient(t)
	objs := kustomize(t, repoPath("config", "default"))
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" {
			continue
		}
		if err := admin.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("deploy-test"), client.ForceOwnership); err != nil {
			return nil, fmt.Errorf("apply %s: %w", key(o), err)
		}
	}
	if err := aggregateClusterRoles(ctx, admin); err != nil {
		return nil, err
	}

	opts, err := deployedOptions(objs)
	if err != nil {
		return nil, err
	}
	metricsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	opts.MetricsAddr = metricsAddr
	opts.ProbeAddr = "0"
	// In a pod the Lease namespace comes from the ServiceAccount mount.
	opts.LeaderElectionNamespace = operatorNamespace
	opts.SkipNameValidation = true

	sim, err := pvesim.New(pvesim.DefaultOptions())
	if err != nil {
		return nil, err
	}
	cfg := rest.CopyConfig(controlPlane(t).Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: operatorUser, Groups: append(append([]string{}, operatorGroups...), "system:authenticated")}
	ctrl.SetLogger(zap.New(zap.WriteTo(&testLog{}), zap.UseDevMode(true)))
	mgr, err := manager.New(cfg, opts)
	if err != nil {
		_ = sim.Close()
		return nil, err
	}
	mctx, cancel := context.WithCancel(ctx)
	o := &operator{sim: sim, opts: opts, metricsAddr: metricsAddr, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(o.done)
		if err := mgr.Start(mctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	select {
	case <-mgr.Elected():
	case <-time.After(30 * time.Second):
		o.stop()
		return nil, fmt.Errorf("the manager was not elected leader within 30s: the leader-election Role is not enough?")
	}
	return o, nil
}

// deployedOptions parses the manager container's args of the shipped
// Deployment into the manager's options, expanding $(VAR) references from
// the container's env as the kubelet does. An arg the manager does not know
// fails here, not in a cluster.
func deployedOptions(objs []*unstructured.Unstructured) (manager.Options, error) {
	var opts manager.Options
	var dep *unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "Deployment" && o.GetName() == serviceAccount {
			dep = o
		}
	}
	if dep == nil {
		return opts, fmt.Errorf("no Deployment %s in config/default", serviceAccount)
	}
	cs, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	c := cs[0].(map[string]any)
	vars := map[string]string{}
	for _, e := range c["env"].([]any) {
		env := e.(map[string]any)
		if path, _, _ := unstructured.NestedString(env, "valueFrom", "fieldRef", "fieldPath"); path == "metadata.namespace" {
			vars[env["name"].(string)] = dep.GetNamespace()
		}
	}
	var args []string
	for _, a := range strs(c["args"]) {
		for k, v := range vars {
			a = strings.ReplaceAll(a, "$("+k+")", v)
		}
		args = append(args, a)
	}
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	opts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return opts, fmt.Errorf("the Deployment's args %v: %w", args, err)
	}
	return opts, nil
}

// aggregateClusterRoles does what kube-controller-manager's
// clusterrole-aggregation controller does (envtest runs no controller
// manager): each ClusterRole with an aggregationRule gets the rules of every
// ClusterRole its selectors match. Repeated until stable, since view
// aggregates into edit and edit into admin.
func aggregateClusterRoles(ctx context.Context, c client.Client) error {
	for range 5 {
		changed := false
		roles := &rbacv1.ClusterRoleList{}
		if err := c.List(ctx, roles); err != nil {
			return err
		}
		for i := range roles.Items {
			agg := &roles.Items[i]
			if agg.AggregationRule == nil {
				continue
			}
			var rules []rbacv1.PolicyRule
			for _, sel := range agg.AggregationRule.ClusterRoleSelectors {
				s, err := metav1.LabelSelectorAsSelector(&sel)
				if err != nil {
					return err
				}
				for _, r := range roles.Items {
					if r.Name != agg.Name && s.Matches(labels.Set(r.Labels)) {
						rules = appendNew(rules, r.Rules...)
					}
				}
			}
			if equality.Semantic.DeepEqual(rules, agg.Rules) {
				continue
			}
			agg.Rules = rules
			if err := c.Update(ctx, agg); err != nil {
				return err
			}
			changed = true
		}
		if !changed {
			return nil
		}
	}
	return fmt.Errorf("ClusterRole aggregation did not settle")
}

func appendNew(rules []rbacv1.PolicyRule, more ...rbacv1.PolicyRule) []rbacv1.PolicyRule {
next:
	for _, m := range more {
		for _, r := range rules {
			if equality.Semantic.DeepEqual(r, m) {
				continue next
			}
		}
		rules = append(rules, m)
	}
	return rules
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

// testLog keeps the manager's log out of passing runs but lets a failing
// run show it with -v.
type testLog struct{}

func (testLog) Write(p []byte) (int, error) {
	if testing.Verbose() {
		return os.Stderr.Write(p)
	}
	return len(p), nil
}

// Fixtures made by the cluster admin (unrestricted client).

var seq struct {
	sync.Mutex
	n int
}

func uniqueName(prefix string) string {
	seq.Lock()
	defer seq.Unlock()
	seq.n++
	return fmt.Sprintf("%s-%d", prefix, seq.n)
}

func createNamespace(t *testing.T, c client.Client, labels map[string]string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("team"), Labels: labels}}
	if err := c.Create(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// createHost makes a credentials Secret in the operator's namespace and a
// ProxmoxHost on the simulator; mutate may change either.
func createHost(t *testing.T, c client.Client, o *operator, mutate func(*v1alpha1.ProxmoxHost, *corev1.Secret)) *v1alpha1.ProxmoxHost {
	t.Helper()
	name := uniqueName("pve")
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-credentials", Namespace: operatorNamespace},
		StringData: map[string]string{"tokenID": pvesim.DefaultTokenID, "tokenSecret": pvesim.DefaultTokenSecret},
	}
	host := &v1alpha1.ProxmoxHost{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.ProxmoxHostSpec{
			Endpoint:       o.sim.URL(),
			CredentialsRef: v1alpha1.SecretReference{Name: secret.Name, Namespace: operatorNamespace},
			TLS:            &v1alpha1.TLSConfig{CABundle: string(o.sim.CACertPEM())},
			SyncInterval:   &metav1.Duration{Duration: 5 * time.Second},
		},
	}
	if mutate != nil {
		mutate(host, secret)
	}
	ctx := t.Context()
	if secret.Name != "" {
		if err := c.Create(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Create(ctx, host); err != nil {
		t.Fatal(err)
	}
	return host
}

// waitFor polls obj until cond holds or the timeout passes.
func waitFor[T client.Object](ctx context.Context, t *testing.T, c client.Client, obj T, timeout time.Duration, what string, cond func(T) bool) T {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		if err == nil && cond(obj) {
			return obj
		}
		if time.Now().After(deadline) {
			t.Fatalf("%T %s: %s not reached within %s (err %v); status:\n%s", obj,
				client.ObjectKeyFromObject(obj), what, timeout, err, toYAML(statusOf(obj)))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func statusOf(obj client.Object) any {
	u, err := toUnstructured(obj)
	if err != nil {
		return err.Error()
	}
	return u.Object["status"]
}

func toUnstructured(obj client.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// readyIs reports whether the Ready condition has status and reason.
func readyIs(conds []metav1.Condition, status metav1.ConditionStatus, reason string) bool {
	c := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
	return c != nil && c.Status == status && c.Reason == reason
}
