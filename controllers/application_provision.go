package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/redact"
	"github.com/pve-operator/pve-operator/internal/sshexec"
)

// Provision scripts run over SSH for up to 30 minutes, so they run in the
// background: Reconcile starts a run, returns, and picks up the result when
// the run wakes it. A run lost to an operator restart is started again, so
// scripts should be idempotent (the docs say so).
type provisionRuns struct {
	mu   sync.Mutex
	runs map[types.UID]*provisionRun
	// failed counts consecutive failed runs per Application and script hash.
	failed map[types.UID]failCount
}

type failCount struct {
	hash string
	n    int
}

// failures returns how many runs of this script failed in a row.
func (p *provisionRuns) failures(uid types.UID, hash string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f, ok := p.failed[uid]; ok && f.hash == hash {
		return f.n
	}
	return 1
}

// recordOnce counts the finished run's result once.
func (p *provisionRuns) recordOnce(run *provisionRun, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if run.recorded {
		return
	}
	run.recorded = true
	p.record(run.uid, run.hash, ok)
}

func (p *provisionRuns) record(uid types.UID, hash string, ok bool) {
	if p.failed == nil {
		p.failed = map[types.UID]failCount{}
	}
	f := p.failed[uid]
	switch {
	case ok:
		delete(p.failed, uid)
	case f.hash == hash:
		p.failed[uid] = failCount{hash, f.n + 1}
	default:
		p.failed[uid] = failCount{hash, 1}
	}
}

func provisionBackoff(failures int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < failures && d < 10*time.Minute; i++ {
		d *= 2
	}
	return min(d, 10*time.Minute)
}

func setProvisioned(app *v1alpha1.Application, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&app.Status.Conditions, metav1.Condition{
		Type: ConditionProvisioned, Status: status, Reason: reason, Message: msg, ObservedGeneration: app.Generation,
	})
}

// ConditionProvisioned reports the last provision run.
const ConditionProvisioned = "Provisioned"

type provisionRun struct {
	uid    types.UID
	hash   string
	done   bool
	result v1alpha1.ProvisionStatus
	// recorded: the result has been counted in failed, which a pass that
	// copies it again must not do twice.
	recorded bool
}

func (p *provisionRuns) get(uid types.UID) *provisionRun {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.runs[uid]
}

func (p *provisionRuns) start(uid types.UID, hash string) (*provisionRun, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.runs == nil {
		p.runs = map[types.UID]*provisionRun{}
	}
	if run, ok := p.runs[uid]; ok && run.hash == hash {
		return run, false
	}
	run := &provisionRun{uid: uid, hash: hash}
	p.runs[uid] = run
	return run, true
}

func (p *provisionRuns) finish(run *provisionRun, st v1alpha1.ProvisionStatus) {
	p.mu.Lock()
	defer p.mu.Unlock()
	run.result, run.done = st, true
}

func (p *provisionRuns) forget(uid types.UID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.runs, uid)
}

// drop forgets uid's run and its failure count, once it is deleted.
func (p *provisionRuns) drop(uid types.UID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.runs, uid)
	delete(p.failed, uid)
}

const outputTailBytes = 4096

// reconcileProvision runs spec.provision once per script content while the
// container runs. done is true when this pass must end here.
func (r *ApplicationReconciler) reconcileProvision(ctx context.Context, s *appScope, ct proxmox.ContainerSummary) (ctrl.Result, bool) {
	app := s.app
	p := app.Spec.Provision
	if p == nil || ct.Status != "running" {
		return ctrl.Result{}, false
	}
	script, o, ok := r.provisionScript(ctx, app)
	if !ok {
		s.set(o)
		return ctrl.Result{RequeueAfter: time.Minute}, true
	}
	sum := sha256.Sum256([]byte(script))
	hash := hex.EncodeToString(sum[:])
	r.takeProvisionResult(app, hash)
	if st := app.Status.Provision; st != nil && st.Hash == hash && st.FinishedAt != nil {
		if st.ExitCode != nil && *st.ExitCode == 0 {
			setProvisioned(app, metav1.ConditionTrue, v1alpha1.ReasonProvisioned, fmt.Sprintf("the provision script succeeded in container %d", ct.VMID))
			return ctrl.Result{}, false
		}
		msg := provisionFailure(st)
		setProvisioned(app, metav1.ConditionFalse, v1alpha1.ReasonProvisionFailed, msg)
		// Retry with exponential backoff (30s, 1m, 2m... up to 10m), never hot.
		wait := provisionBackoff(r.provisions.failures(app.UID, hash)) - time.Since(st.FinishedAt.Time)
		if wait > 0 {
			s.set(progressing(v1alpha1.ReasonProvisionFailed, msg))
			return ctrl.Result{RequeueAfter: wait}, true
		}
	}
	run, fresh := r.provisions.start(app.UID, hash)
	if fresh {
		if o, ok := r.launchProvision(ctx, s, ct, script, run); !ok {
			r.provisions.forget(app.UID)
			s.set(o)
			return ctrl.Result{RequeueAfter: time.Minute}, true
		}
		r.event(app, corev1.EventTypeNormal, v1alpha1.ReasonProvisioning, fmt.Sprintf("running the provision script in container %d", ct.VMID))
	}
	setProvisioned(app, metav1.ConditionFalse, v1alpha1.ReasonProvisioning, "the provision script is running")
	s.set(progressing(v1alpha1.ReasonProvisioning, fmt.Sprintf("provision script running in container %d", ct.VMID)))
	return ctrl.Result{RequeueAfter: 30 * time.Second}, true
}

// takeProvisionResult copies a finished run's result into status. The run
// is kept until the object read at the start of a pass already holds that
// result: the pass after the status write may read a cache that does not
// have it yet, and forgetting the run earlier made that pass run the script
// a second time.
func (r *ApplicationReconciler) takeProvisionResult(app *v1alpha1.Application, hash string) {
	run := r.provisions.get(app.UID)
	if run == nil || run.hash != hash || !run.done {
		return
	}
	if sameProvisionResult(app.Status.Provision, run.result) {
		r.provisions.forget(app.UID)
		return
	}
	app.Status.Provision = run.result.DeepCopy()
	r.provisions.recordOnce(run, run.result.ExitCode != nil && *run.result.ExitCode == 0)
}

// sameProvisionResult reports whether st is the stored copy of result:
// stored times keep whole seconds only.
func sameProvisionResult(st *v1alpha1.ProvisionStatus, result v1alpha1.ProvisionStatus) bool {
	return st != nil && result.FinishedAt != nil && st.Hash == result.Hash && st.FinishedAt != nil &&
		st.FinishedAt.Equal(ptr.To(result.FinishedAt.Rfc3339Copy()))
}

// provisionPrerequisites checks that a declared provision script can run at
// all: the host has SSH access and the script's ConfigMap key exists.
func (r *ApplicationReconciler) provisionPrerequisites(ctx context.Context, s *appScope) (outcome, bool) {
	if s.app.Spec.Provision == nil {
		return outcome{}, true
	}
	if s.host.Spec.SSH == nil {
		return stalled(v1alpha1.ReasonInvalidSpec, fmt.Sprintf("provision needs SSH access: ProxmoxHost %q has no spec.ssh", s.host.Name)), false
	}
	_, o, ok := r.provisionScript(ctx, s.app)
	return o, ok
}

func provisionFailure(st *v1alpha1.ProvisionStatus) string {
	if st.ExitCode == nil {
		return "the provision script could not be run: " + st.OutputTail
	}
	tail := st.OutputTail
	if i := strings.LastIndexByte(strings.TrimRight(tail, "\n"), '\n'); i >= 0 {
		tail = tail[i+1:]
	}
	return fmt.Sprintf("the provision script exited with %d: %s (fix the script; a change runs it again)", *st.ExitCode, strings.TrimSpace(tail))
}

func (r *ApplicationReconciler) provisionScript(ctx context.Context, app *v1alpha1.Application) (string, outcome, bool) {
	p := app.Spec.Provision
	if p.ConfigMapRef == nil {
		if msg := undeliverable(p.Script); msg != "" {
			return "", stalled(v1alpha1.ReasonInvalidSpec, "spec.provision.script "+msg), false
		}
		return p.Script, outcome{}, true
	}
	cm := &corev1.ConfigMap{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: app.Namespace, Name: p.ConfigMapRef.Name}, cm); err != nil {
		return "", stalled(v1alpha1.ReasonInvalidSpec, fmt.Sprintf("ConfigMap %q (provision.configMapRef) cannot be read: %v", p.ConfigMapRef.Name, client.IgnoreNotFound(err))), false
	}
	script, ok := cm.Data[p.ConfigMapRef.Key]
	if !ok {
		return "", stalled(v1alpha1.ReasonInvalidSpec, fmt.Sprintf("ConfigMap %q has no key %q", p.ConfigMapRef.Name, p.ConfigMapRef.Key)), false
	}
	if msg := undeliverable(script); msg != "" {
		return "", stalled(v1alpha1.ReasonInvalidSpec, fmt.Sprintf("the provision script in ConfigMap %q key %q %s", p.ConfigMapRef.Name, p.ConfigMapRef.Key, msg)), false
	}
	return script, outcome{}, true
}

// undeliverable says why sshexec cannot deliver script, or "". Admission
// checks an inline script, but not one in a ConfigMap, nor one stored
// before the rule; they stall here rather than fail on every run.
func undeliverable(script string) string {
	switch {
	case strings.ContainsRune(script, 0):
		return "contains a NUL byte, which no shell argument can hold"
	case len(script) > sshexec.MaxScriptBytes:
		return fmt.Sprintf("is %d bytes, more than the %d (64 KiB) that can be delivered", len(script), sshexec.MaxScriptBytes)
	}
	return ""
}

// launchProvision starts the SSH run in the background.
func (r *ApplicationReconciler) launchProvision(ctx context.Context, s *appScope, ct proxmox.ContainerSummary, script string, run *provisionRun) (outcome, bool) {
	app := s.app
	sshSpec := s.host.Spec.SSH
	if sshSpec == nil {
		return stalled(v1alpha1.ReasonInvalidSpec, fmt.Sprintf("provision needs SSH access: ProxmoxHost %q has no spec.ssh", s.host.Name)), false
	}
	ref := sshSpec.CredentialsRef
	secret := &corev1.Secret{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, secret); err != nil {
		return progressing(v1alpha1.ReasonSecretNotFound, fmt.Sprintf("cannot read the SSH Secret of ProxmoxHost %q", s.host.Name)), false
	}
	redact.Add(string(secret.Data["privateKey"]))
	cfg := sshexec.Config{
		User:          sshSpec.User,
		Port:          int(sshSpec.Port),
		PrivateKeyPEM: secret.Data["privateKey"],
		KnownHosts:    secret.Data["knownHosts"],
	}
	if sshSpec.ConnectTimeout != nil {
		cfg.ConnectTimeout = sshSpec.ConnectTimeout.Duration
	}
	cfg.CommandTimeout = 60 * time.Second
	if app.Spec.Provision.Timeout != nil {
		cfg.CommandTimeout = app.Spec.Provision.Timeout.Duration
	}
	newRunner := r.SSH
	if newRunner == nil {
		newRunner = func(c sshexec.Config) (sshexec.Runner, error) { return sshexec.New(c) }
	}
	runner, err := newRunner(cfg)
	if err != nil {
		return stalled(v1alpha1.ReasonInvalidSpec, fmt.Sprintf("the SSH Secret of ProxmoxHost %q is unusable: %v", s.host.Name, err)), false
	}
	// pct exec must run where the container is; the API endpoint's host
	// reaches it on single-node hosts and on the simulator.
	target := sshexec.Target{Node: ct.Node, Host: s.host.Endpoint.Host()}
	key := client.ObjectKeyFromObject(app)
	vmid := ct.VMID
	// Read for its side effect: it registers the root password, which the
	// script's output may echo, also when this process has not created the
	// container (a restart between create and provision).
	_, _, _ = r.rootPassword(ctx, app)
	// Bounded by the command timeout; not tied to this reconcile, whose
	// context ends as soon as it returns.
	runCtx := context.WithoutCancel(ctx)
	go func() {
		res, err := runner.Exec(runCtx, target, vmid, script)
		st := v1alpha1.ProvisionStatus{Hash: run.hash, FinishedAt: ptr.To(metav1.Now())}
		if err != nil && res.ExitCode < 0 {
			st.OutputTail = tail(redact.String(err.Error()+"\n"+string(res.Stdout)+string(res.Stderr)), outputTailBytes)
		} else {
			st.ExitCode = ptr.To(int32(res.ExitCode))
			st.OutputTail = tail(redact.String(string(res.Stdout)+string(res.Stderr)), outputTailBytes)
		}
		r.provisions.finish(run, st)
		r.wakeApp(key)
	}()
	return outcome{}, true
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
