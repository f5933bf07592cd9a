package controllers

import (
	"reflect"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// Per-object metrics: one series per object the operator reconciles, so
// that alerts can name the Application that has not been Ready for a while
// or the Backup whose task is stuck, which the aggregate
// controller_runtime_* metrics cannot. Cardinality is bounded by the number
// of objects: each object has exactly one pve_operator_object_ready series
// (its current reason), and its series are dropped when it is deleted.
var objectReady = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "pve_operator_object_ready",
	Help: "1 when the object's Ready condition is True, 0 otherwise, by kind, namespace, name and the Ready condition's reason; one series per object.",
}, []string{"kind", "namespace", "name", "reason"})

func init() {
	metrics.Registry.MustRegister(objectReady)
}

// objectKey names one reconciled object in the metrics.
type objectKey struct {
	kind, namespace, name string
}

// readyReasons remembers the reason label each object's series carries, so
// that a changed reason replaces the series instead of adding a second one
// (which would double-count the object in a fleet sum).
var readyReasons = struct {
	sync.Mutex
	byObject map[objectKey]string
}{byObject: map[objectKey]string{}}

// recordObjectMetrics publishes obj's Ready condition (as conds holds it at
// the end of a pass) and, for a BackupSchedule, its interval and last
// success. It is called from passEnd.end, where every kind's pass ends, so
// no controller has to remember it. An object whose deletion is complete
// (no finalizers left) is forgotten instead.
func recordObjectMetrics(obj client.Object, conds []metav1.Condition) {
	kind := kindOf(obj)
	if obj.GetDeletionTimestamp() != nil && len(obj.GetFinalizers()) == 0 {
		forgetObjectMetrics(kind, obj.GetNamespace(), obj.GetName())
		return
	}
	if sc, ok := obj.(*v1alpha1.BackupSchedule); ok {
		recordScheduleMetrics(sc, time.Now())
	}
	c := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
	if c == nil {
		// No verdict yet: no series rather than a made-up reason.
		return
	}
	value := 0.0
	if c.Status == metav1.ConditionTrue {
		value = 1
	}
	k := objectKey{kind: kind, namespace: obj.GetNamespace(), name: obj.GetName()}
	readyReasons.Lock()
	defer readyReasons.Unlock()
	if prev, ok := readyReasons.byObject[k]; ok && prev != c.Reason {
		objectReady.DeleteLabelValues(k.kind, k.namespace, k.name, prev)
	}
	objectReady.WithLabelValues(k.kind, k.namespace, k.name, c.Reason).Set(value)
	readyReasons.byObject[k] = c.Reason
}

// forgetObjectMetrics drops every per-object series of a deleted object.
// namespace is empty for cluster-scoped kinds (ProxmoxHost). Deleting what
// does not exist is a no-op, so callers need not know whether it was seen.
func forgetObjectMetrics(kind, namespace, name string) {
	readyReasons.Lock()
	delete(readyReasons.byObject, objectKey{kind: kind, namespace: namespace, name: name})
	readyReasons.Unlock()
	objectReady.DeletePartialMatch(prometheus.Labels{"kind": kind, "namespace": namespace, "name": name})
	switch kind {
	case "BackupSchedule":
		forgetScheduleMetrics(namespace, name)
	case "Application":
		// The backup series are the Application's, not its Backups': a
		// deleted Application must not keep aging into a backup alert.
		app := prometheus.Labels{"namespace": namespace, "application": name}
		lastBackupSuccess.DeletePartialMatch(app)
		backupOutcomes.DeletePartialMatch(app)
	}
}

// forgetIfGone is what a Reconcile returns when reading its object failed:
// a NotFound means the object is gone (its finalizer, if any, removed), so
// its series are dropped and the error ignored, as client.IgnoreNotFound
// would. Every other error is returned as it is.
//
//	if err := r.Get(ctx, req.NamespacedName, app); err != nil {
//		return ctrl.Result{}, forgetIfGone("Application", req, err)
//	}
func forgetIfGone(kind string, req ctrl.Request, err error) error {
	if apierrors.IsNotFound(err) {
		forgetObjectMetrics(kind, req.Namespace, req.Name)
		return nil
	}
	return err
}

// kindOf is the object's Kind. Typed objects read through the client
// usually have an empty TypeMeta, so the Go type's name (which is the Kind
// for every API type of this operator) stands in.
func kindOf(obj client.Object) string {
	if k := obj.GetObjectKind().GroupVersionKind().Kind; k != "" {
		return k
	}
	t := reflect.TypeOf(obj)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// scheduleGaps is how many consecutive runs scheduleInterval looks at.
// Enough to cover a week of a weekday-only schedule, whose longest gap
// (Friday to Monday) is the one an overdue alert must tolerate.
const scheduleGaps = 8

// recordScheduleMetrics sets the interval and last-success gauges of an
// active schedule, and removes them from a suspended or invalid one, which
// makes no Backups and so must not alert as overdue.
func recordScheduleMetrics(sc *v1alpha1.BackupSchedule, now time.Time) {
	interval, ok := scheduleInterval(sc, now)
	if !ok {
		forgetScheduleMetrics(sc.Namespace, sc.Name)
		return
	}
	backupScheduleInterval.WithLabelValues(sc.Namespace, sc.Name).Set(interval.Seconds())
	// A schedule that never succeeded ages from its creation, so that
	// "never worked" alerts like "stopped working".
	last := sc.CreationTimestamp.Time
	if t := sc.Status.LastSuccessfulTime; t != nil {
		last = t.Time
	}
	backupScheduleLastSuccess.WithLabelValues(sc.Namespace, sc.Name).Set(float64(last.Unix()))
}

// scheduleInterval is the longest gap between the schedule's next
// scheduleGaps runs after now; false for a suspended or unparsable one.
func scheduleInterval(sc *v1alpha1.BackupSchedule, now time.Time) (time.Duration, bool) {
	if sc.Spec.Suspend {
		return 0, false
	}
	sched, loc, o := parseSchedule(sc)
	if o.reason != "" {
		return 0, false
	}
	var longest time.Duration
	t := sched.Next(now.In(loc))
	for range scheduleGaps {
		next := sched.Next(t)
		if next.IsZero() {
			break
		}
		longest = max(longest, next.Sub(t))
		t = next
	}
	return longest, longest > 0
}

func forgetScheduleMetrics(namespace, name string) {
	backupScheduleInterval.DeleteLabelValues(namespace, name)
	backupScheduleLastSuccess.DeleteLabelValues(namespace, name)
}
