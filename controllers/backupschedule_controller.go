package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // spec.timeZone must resolve in a distroless image too

	"github.com/robfig/cron/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

const (
	// LabelSchedule and LabelApplication are set on the Backups a schedule
	// creates (when the names fit in a label value), for kubectl -l. The
	// schedule's own labels and annotations are never copied: GitOps tools
	// track their objects by a label or annotation, and a Backup carrying
	// the schedule's would be pruned as an unknown object of that app.
	LabelSchedule    = "proxmox.pve-operator.io/schedule"
	LabelApplication = "proxmox.pve-operator.io/application"
	// AnnotationScheduledAt is the scheduled time (RFC 3339, UTC) of the run
	// that created a Backup; pruning orders by it.
	AnnotationScheduledAt = "proxmox.pve-operator.io/scheduled-at"

	// DefaultStartingDeadline is how late a missed run may still be taken.
	DefaultStartingDeadline = time.Hour
	// failedBackupsKept is how many Failed Backups per Application a schedule
	// keeps for inspection; older Failed ones are deleted.
	failedBackupsKept = 3
	// defaultKeepLast mirrors the API default of keepLast.
	defaultKeepLast = 7
	// maxScheduleWait bounds one requeue, so a clock jump is noticed.
	maxScheduleWait = 15 * time.Minute
)

// BackupScheduleReconciler creates Backups on a cron schedule and prunes
// the old ones.
//
// Missed runs (the operator was down, or the schedule was created just
// after a run) are handled like a CronJob with startingDeadlineSeconds:
// when several runs were missed only the most recent one is taken, and
// only if it is no older than StartingDeadline; the others are skipped
// with a MissedSchedule warning event.
type BackupScheduleReconciler struct {
	client.Client
	Recorder events.EventRecorder
	// Now is the clock; nil means time.Now. Tests inject a fake one.
	Now func() time.Time
	// StartingDeadline is how late a missed run may still start; 0 means
	// DefaultStartingDeadline.
	StartingDeadline time.Duration

	// missedReported remembers the latest skipped run reported per
	// schedule, so a skip is reported once, not on every pass.
	missedReported sync.Map
}

// Reconcile runs one BackupSchedule:
//  1. parse the schedule and time zone (a bad one stalls);
//  2. report the schedule's Backups (last success, latest failure) and
//     prune them: keepLast Completed and a few Failed per Application;
//  3. unless suspended, create the Backups of a run that is due (the most
//     recent missed one within the starting deadline);
//  4. requeue for the next run.
func (r *BackupScheduleReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	sc := &v1alpha1.BackupSchedule{}
	if err := r.Get(ctx, req.NamespacedName, sc); err != nil {
		return ctrl.Result{}, forgetIfGone("BackupSchedule", req, err)
	}
	if !sc.DeletionTimestamp.IsZero() {
		// Its Backups are garbage-collected through their ownerReference,
		// each honouring its own deletionPolicy.
		return ctrl.Result{}, nil
	}
	before := sc.DeepCopy()
	res, o, err := r.reconcileSchedule(ctx, sc)
	if err != nil {
		return ctrl.Result{}, err
	}
	st := statusOf{conditions: &sc.Status.Conditions, observed: &sc.Status.ObservedGeneration, was: &before.Status, is: &sc.Status}
	if err := schedulePassEnd.end(ctx, r.Client, r.Recorder, sc, before, st, o); err != nil {
		return ctrl.Result{}, err
	}
	return res, nil
}

// schedulePassEnd: a schedule reads no Proxmox state, so every verdict
// covers its whole spec; only refusals are worth an event.
var schedulePassEnd = passEnd{
	eventFor:      func(o outcome) bool { return o.stalled },
	observes:      func(outcome) bool { return true },
	optimistic:    true,
	skipUnchanged: true,
}

func (r *BackupScheduleReconciler) reconcileSchedule(ctx context.Context, sc *v1alpha1.BackupSchedule) (ctrl.Result, outcome, error) {
	now := r.now()
	sched, loc, o := parseSchedule(sc)
	if o.reason != "" {
		sc.Status.NextScheduleTime = nil
		return ctrl.Result{}, o, nil
	}
	owned, err := r.ownedBackups(ctx, sc)
	if err != nil {
		return ctrl.Result{}, outcome{}, err
	}
	sc.Status.LastSuccessfulTime = lastSuccess(owned)
	if sc.Spec.Suspend {
		sc.Status.NextScheduleTime = nil
		return ctrl.Result{}, readyOutcome(v1alpha1.ReasonSuspended, "suspended: no new Backups are created, existing ones are kept"), nil
	}
	if err := r.prune(ctx, sc, owned); err != nil {
		return ctrl.Result{}, outcome{}, err
	}
	apps, o, err := r.targets(ctx, sc)
	if err != nil {
		return ctrl.Result{}, outcome{}, err
	}
	if due, ok := r.dueRun(sc, sched, loc, now); ok && len(apps) > 0 {
		if err := r.createBackups(ctx, sc, apps, due); err != nil {
			return ctrl.Result{}, outcome{}, err
		}
	}
	next := sched.Next(now.In(loc))
	if next.IsZero() {
		sc.Status.NextScheduleTime = nil
		return ctrl.Result{}, stalled(v1alpha1.ReasonInvalidSchedule, fmt.Sprintf("schedule %q never fires", sc.Spec.Schedule)), nil
	}
	sc.Status.NextScheduleTime = metaTime(next.UTC())
	wait := min(max(next.Sub(now), time.Second), maxScheduleWait)
	if o.reason == "" {
		o = r.verdict(sc, owned, next)
	}
	return ctrl.Result{RequeueAfter: wait}, o, nil
}

// parseSchedule reads the cron expression in the schedule's time zone.
func parseSchedule(sc *v1alpha1.BackupSchedule) (cron.Schedule, *time.Location, outcome) {
	loc := time.UTC
	if tz := sc.Spec.TimeZone; tz != "" {
		l, err := loadTimeZone(tz)
		if err != nil {
			return nil, nil, stalled(v1alpha1.ReasonInvalidSchedule, err.Error())
		}
		loc = l
	}
	if strings.Contains(sc.Spec.Schedule, "TZ=") {
		return nil, nil, stalled(v1alpha1.ReasonInvalidSchedule, "set the time zone in spec.timeZone, not in the schedule")
	}
	sched, err := cron.ParseStandard(sc.Spec.Schedule)
	if err != nil {
		return nil, nil, stalled(v1alpha1.ReasonInvalidSchedule, fmt.Sprintf("schedule %q: %v", sc.Spec.Schedule, err))
	}
	return sched, loc, outcome{}
}

// ianaZoneName is the shape admission allows for spec.timeZone: parts of
// letters, digits, _, + and -, separated by single slashes.
var ianaZoneName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$`)

// loadTimeZone loads an IANA zone by name. time.LoadLocation alone also
// answers names that are no IANA zone: "Local" is the operator's own zone,
// and a zoneinfo directory holds localtime, posixrules and the posix/ and
// right/ copies. A schedule in one of them would follow the operator's
// image or node, so they are refused like admission refuses them; objects
// stored before admission did still reach this.
func loadTimeZone(tz string) (*time.Location, error) {
	switch {
	case !ianaZoneName.MatchString(tz),
		tz == "Local", tz == "localtime", tz == "posixrules",
		strings.HasPrefix(tz, "posix/"), strings.HasPrefix(tz, "right/"):
		return nil, fmt.Errorf("timeZone %q is not an IANA time zone name such as Europe/Berlin or UTC", tz)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("unknown timeZone %q: the operator's time zone database has no such zone", tz)
	}
	return loc, nil
}

// dueRun returns the run to take now: the most recent scheduled time after
// the last run (or the schedule's creation) that is not in the future and
// no older than the starting deadline. Earlier missed runs are reported.
func (r *BackupScheduleReconciler) dueRun(sc *v1alpha1.BackupSchedule, sched cron.Schedule, loc *time.Location, now time.Time) (time.Time, bool) {
	last := sc.CreationTimestamp.Time
	if t := sc.Status.LastScheduleTime; t != nil && t.After(last) {
		last = t.Time
	}
	var due time.Time
	missed := 0
	for t, n := sched.Next(last.In(loc)), 0; !t.IsZero() && !t.After(now) && n < 100000; t, n = sched.Next(t), n+1 {
		if !due.IsZero() {
			missed++
		}
		due = t
	}
	if due.IsZero() {
		return time.Time{}, false
	}
	deadline := r.StartingDeadline
	if deadline <= 0 {
		deadline = DefaultStartingDeadline
	}
	late := now.Sub(due) > deadline
	if late {
		missed++
	}
	if missed > 0 {
		r.reportMissed(sc, due, missed, late, deadline)
	}
	return due, !late
}

func (r *BackupScheduleReconciler) reportMissed(sc *v1alpha1.BackupSchedule, due time.Time, missed int, late bool, deadline time.Duration) {
	if prev, ok := r.missedReported.Load(sc.UID); ok && prev.(time.Time).Equal(due) {
		return
	}
	r.missedReported.Store(sc.UID, due)
	msg := fmt.Sprintf("%d scheduled run(s) up to %s were missed (the operator was not running, or the schedule was suspended) and are skipped", missed, due.UTC().Format(time.RFC3339))
	if !late {
		msg = fmt.Sprintf("%d scheduled run(s) before %s were missed and are skipped; the run due at %s is taken now",
			missed, due.UTC().Format(time.RFC3339), due.UTC().Format(time.RFC3339))
	} else {
		msg += fmt.Sprintf(": the latest is more than %s late (the starting deadline)", deadline)
	}
	emit(r.Recorder, sc, eventWarning, v1alpha1.ReasonMissedSchedule, msg)
}

// targets lists the Applications to back up.
func (r *BackupScheduleReconciler) targets(ctx context.Context, sc *v1alpha1.BackupSchedule) ([]v1alpha1.Application, outcome, error) {
	if ref := sc.Spec.ApplicationRef; ref != nil {
		app := &v1alpha1.Application{}
		err := r.Get(ctx, client.ObjectKey{Namespace: sc.Namespace, Name: ref.Name}, app)
		switch {
		case apierrors.IsNotFound(err):
			return nil, stalled(v1alpha1.ReasonApplicationNotFound, fmt.Sprintf("Application %q does not exist; runs are skipped until it does", ref.Name)), nil
		case err != nil:
			return nil, outcome{}, err
		case !app.DeletionTimestamp.IsZero():
			return nil, outcome{}, nil
		}
		return r.allowedTargets(ctx, sc.Namespace, []v1alpha1.Application{*app})
	}
	sel, err := metav1.LabelSelectorAsSelector(sc.Spec.ApplicationSelector)
	if err != nil {
		return nil, stalled(v1alpha1.ReasonInvalidSpec, fmt.Sprintf("applicationSelector: %v", err)), nil
	}
	list := &v1alpha1.ApplicationList{}
	if err := r.List(ctx, list, client.InNamespace(sc.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, outcome{}, err
	}
	apps := list.Items[:0]
	for _, a := range list.Items {
		if a.DeletionTimestamp.IsZero() {
			apps = append(apps, a)
		}
	}
	return r.allowedTargets(ctx, sc.Namespace, apps)
}

// allowedTargets drops the Applications whose host does not exist or no
// longer allows the namespace (no Backups are made for them) and reports
// the first such host.
func (r *BackupScheduleReconciler) allowedTargets(ctx context.Context, namespace string, apps []v1alpha1.Application) ([]v1alpha1.Application, outcome, error) {
	type verdict struct {
		refused outcome
		ok      bool
	}
	verdicts := map[string]verdict{}
	var denied outcome
	kept := apps[:0]
	for _, a := range apps {
		host := a.Spec.HostRef.Name
		v, seen := verdicts[host]
		if !seen {
			_, o, ok, err := resolveTenancy(ctx, r.Client, host, namespace)
			if err != nil {
				return nil, outcome{}, err
			}
			v = verdict{refused: o, ok: ok}
			verdicts[host] = v
		}
		if !v.ok {
			// A missing host is refused alike: making its Backups (which
			// then stall) would tell the tenant the host does not exist.
			denied = v.refused
			continue
		}
		kept = append(kept, a)
	}
	return kept, denied, nil
}

// createBackups creates one Backup per Application for the run due at due.
// Names are derived from the run, so a pass repeated after a lost status
// write finds them already there instead of creating more.
func (r *BackupScheduleReconciler) createBackups(ctx context.Context, sc *v1alpha1.BackupSchedule, apps []v1alpha1.Application, due time.Time) error {
	created := 0
	for i := range apps {
		app := &apps[i]
		b := &v1alpha1.Backup{
			ObjectMeta: metav1.ObjectMeta{
				Name:        scheduledBackupName(sc, app.Name, due),
				Namespace:   sc.Namespace,
				Labels:      map[string]string{},
				Annotations: map[string]string{AnnotationScheduledAt: due.UTC().Format(time.RFC3339)},
			},
			Spec: v1alpha1.BackupSpec{
				ApplicationRef:   v1alpha1.LocalObjectReference{Name: app.Name},
				BackupParameters: *sc.Spec.BackupTemplate.DeepCopy(),
			},
		}
		for k, v := range map[string]string{LabelSchedule: sc.Name, LabelApplication: app.Name} {
			if len(validation.IsValidLabelValue(v)) == 0 {
				b.Labels[k] = v
			}
		}
		if err := controllerutil.SetControllerReference(sc, b, r.Scheme()); err != nil {
			return err
		}
		if err := r.Create(ctx, b); err != nil {
			if apierrors.IsAlreadyExists(err) {
				continue
			}
			return fmt.Errorf("create Backup %s: %w", b.Name, err)
		}
		created++
	}
	sc.Status.LastScheduleTime = metaTime(due.UTC())
	if created > 0 {
		emit(r.Recorder, sc, eventNormal, v1alpha1.ReasonScheduled, fmt.Sprintf("created %d Backup(s) for the run due at %s", created, due.UTC().Format(time.RFC3339)))
	}
	return nil
}

// scheduledBackupName is <schedule>-<YYYYMMDDhhmmss> (UTC) for a schedule
// of one Application, <schedule>-<application>-<YYYYMMDDhhmmss> for a
// selector. An over-long name is cut and made unique with a hash.
func scheduledBackupName(sc *v1alpha1.BackupSchedule, app string, due time.Time) string {
	stamp := due.UTC().Format("20060102150405")
	name := sc.Name + "-" + stamp
	if sc.Spec.ApplicationRef == nil {
		name = sc.Name + "-" + app + "-" + stamp
	}
	if len(name) <= validation.DNS1123SubdomainMaxLength {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	prefix := strings.TrimRight(name[:validation.DNS1123SubdomainMaxLength-len(stamp)-10], "-.")
	return prefix + "-" + hex.EncodeToString(sum[:4]) + "-" + stamp
}

// ownedBackups lists the Backups this schedule created.
func (r *BackupScheduleReconciler) ownedBackups(ctx context.Context, sc *v1alpha1.BackupSchedule) ([]v1alpha1.Backup, error) {
	list := &v1alpha1.BackupList{}
	if err := r.List(ctx, list, client.InNamespace(sc.Namespace)); err != nil {
		return nil, err
	}
	var out []v1alpha1.Backup
	for _, b := range list.Items {
		if metav1.IsControlledBy(&b, sc) {
			out = append(out, b)
		}
	}
	sort.Slice(out, func(i, j int) bool { return newerRun(&out[i], &out[j]) })
	return out, nil
}

// prune deletes, per Application, Completed Backups beyond keepLast and
// Failed ones beyond failedBackupsKept, oldest first. Running ones are
// never touched. Each deleted Backup honours its own deletionPolicy.
func (r *BackupScheduleReconciler) prune(ctx context.Context, sc *v1alpha1.BackupSchedule, owned []v1alpha1.Backup) error {
	keep := defaultKeepLast
	if sc.Spec.KeepLast != nil {
		keep = int(*sc.Spec.KeepLast)
	}
	completed, failed := map[string]int{}, map[string]int{}
	for i := range owned {
		b := &owned[i] // newest first
		if !b.DeletionTimestamp.IsZero() {
			continue
		}
		app := b.Spec.ApplicationRef.Name
		var over bool
		switch b.Status.Phase {
		case v1alpha1.BackupPhaseCompleted:
			completed[app]++
			over = completed[app] > keep
		case v1alpha1.BackupPhaseFailed:
			failed[app]++
			over = failed[app] > failedBackupsKept
		}
		if !over {
			continue
		}
		if err := r.Delete(ctx, b, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("prune Backup %s: %w", b.Name, err)
		}
		emit(r.Recorder, sc, eventNormal, "Pruned", fmt.Sprintf("deleted %s Backup %s of Application %s (keepLast %d, failed kept %d)",
			strings.ToLower(string(b.Status.Phase)), b.Name, app, keep, failedBackupsKept))
	}
	return nil
}

// verdict is Ready unless the newest finished Backup of some Application
// failed: then the schedule is Stalled with that failure, so an alert on
// the schedule fires without waiting for someone to look at each Backup.
func (r *BackupScheduleReconciler) verdict(sc *v1alpha1.BackupSchedule, owned []v1alpha1.Backup, next time.Time) outcome {
	seen := map[string]bool{}
	for i := range owned {
		b := &owned[i] // newest first
		app := b.Spec.ApplicationRef.Name
		if seen[app] || (b.Status.Phase != v1alpha1.BackupPhaseCompleted && b.Status.Phase != v1alpha1.BackupPhaseFailed) {
			continue
		}
		seen[app] = true
		if b.Status.Phase == v1alpha1.BackupPhaseFailed {
			why := "see its status"
			if c := meta.FindStatusCondition(b.Status.Conditions, v1alpha1.ConditionStalled); c != nil {
				why = c.Message
			}
			return stalled(v1alpha1.ReasonFailed, fmt.Sprintf("the latest Backup %s of Application %s failed: %s", b.Name, app, why))
		}
	}
	return readyOutcome(v1alpha1.ReasonScheduled, "next run at "+next.UTC().Format(time.RFC3339))
}

// newerRun orders Backups newest run first.
func newerRun(a, b *v1alpha1.Backup) bool {
	ta, tb := scheduledAt(a), scheduledAt(b)
	if !ta.Equal(tb) {
		return ta.After(tb)
	}
	return a.Name > b.Name
}

func scheduledAt(b *v1alpha1.Backup) time.Time {
	if t, err := time.Parse(time.RFC3339, b.Annotations[AnnotationScheduledAt]); err == nil {
		return t
	}
	return b.CreationTimestamp.Time
}

func lastSuccess(owned []v1alpha1.Backup) *metav1.Time {
	var last *metav1.Time
	for i := range owned {
		if t := owned[i].Status.CompletionTime; owned[i].Status.Phase == v1alpha1.BackupPhaseCompleted && t != nil && (last == nil || t.After(last.Time)) {
			last = t.DeepCopy()
		}
	}
	return last
}

func (r *BackupScheduleReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// SetupWithManager registers the controller; a schedule is woken by its
// Backups' changes to prune and report them.
func (r *BackupScheduleReconciler) SetupWithManager(mgr ctrl.Manager, concurrency int) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.BackupSchedule{}).
		Owns(&v1alpha1.Backup{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency}).
		Named("backupschedule").
		Complete(r)
}
