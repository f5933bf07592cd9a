package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// Index of Backups by the ProxmoxHost their archive or snapshot is on
// (AnnotationBackupHost), so a host finds its Backups without listing all.
const backupHostIndex = "metadata.annotations.host"

// usedNamesShown bounds the names InUse lists per kind: the counts are
// always whole, the names only a start (status must stay small at 10,000).
const usedNamesShown = 5

// hostUsers is what uses one ProxmoxHost: the Applications whose hostRef
// names it, the Backups taken on it, the StagedImages staged on it.
type hostUsers struct {
	apps    []string
	appUIDs map[string]bool
	backups []string
	images  []string
}

func (u hostUsers) none() bool { return len(u.apps)+len(u.backups)+len(u.images) == 0 }

// String names what uses the host: "2 Applications (team-a/db, team-a/web)
// and 1 Backup (team-a/web-1)".
func (u hostUsers) String() string {
	var parts []string
	for _, k := range []struct {
		kind  string
		names []string
	}{{"Application", u.apps}, {"Backup", u.backups}, {"StagedImage", u.images}} {
		if len(k.names) == 0 {
			continue
		}
		kind := k.kind
		if len(k.names) > 1 {
			kind += "s"
		}
		shown := k.names[:min(len(k.names), usedNamesShown)]
		more := ""
		if len(k.names) > len(shown) {
			more = fmt.Sprintf(", and %d more", len(k.names)-len(shown))
		}
		parts = append(parts, fmt.Sprintf("%d %s (%s%s)", len(k.names), kind, strings.Join(shown, ", "), more))
	}
	if len(parts) > 1 {
		return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
	}
	return strings.Join(parts, "")
}

// usersOf lists what uses the host from the cache, through indexes: at
// every sync, so copies are skipped (nothing read here is modified).
func (r *ProxmoxHostReconciler) usersOf(ctx context.Context, host string) (hostUsers, error) {
	u := hostUsers{appUIDs: map[string]bool{}}
	apps := &v1alpha1.ApplicationList{}
	if err := r.List(ctx, apps, client.MatchingFields{appHostIndex: host}, client.UnsafeDisableDeepCopy); err != nil {
		return u, err
	}
	for i := range apps.Items {
		a := &apps.Items[i]
		u.apps = append(u.apps, a.Namespace+"/"+a.Name)
		u.appUIDs[strings.ToLower(string(a.UID))] = true
	}
	backups := &v1alpha1.BackupList{}
	if err := r.List(ctx, backups, client.MatchingFields{backupHostIndex: host}, client.UnsafeDisableDeepCopy); err != nil {
		return u, err
	}
	for i := range backups.Items {
		u.backups = append(u.backups, backups.Items[i].Namespace+"/"+backups.Items[i].Name)
	}
	images := &v1alpha1.StagedImageList{}
	if err := r.List(ctx, images, client.UnsafeDisableDeepCopy); err != nil {
		return u, err
	}
	for i := range images.Items {
		if images.Items[i].Spec.HostRef.Name == host {
			u.images = append(u.images, images.Items[i].Name)
		}
	}
	for _, names := range [][]string{u.apps, u.backups, u.images} {
		sort.Strings(names)
	}
	return u, nil
}

// setInUseCondition reports what uses the host. It reports whether the
// reason changed, so the caller's event fires once per change, not each sync.
func setInUseCondition(host *v1alpha1.ProxmoxHost, reason, msg string) bool {
	status := metav1.ConditionTrue
	if reason == v1alpha1.ReasonNotInUse {
		status = metav1.ConditionFalse
	}
	was := meta.FindStatusCondition(host.Status.Conditions, v1alpha1.ConditionInUse)
	meta.SetStatusCondition(&host.Status.Conditions, metav1.Condition{
		Type: v1alpha1.ConditionInUse, Status: status, Reason: reason, Message: msg, ObservedGeneration: host.Generation,
	})
	return was == nil || was.Reason != reason
}

// onUserDeleted wakes the host an object used when the object is gone, only
// while the host is being deleted: each user's deletion may be the last one,
// and the host should go at once instead of at its next sync. Other events
// of users cost nothing here.
func (r *ProxmoxHostReconciler) onUserDeleted(hostOf func(client.Object) string) handler.EventHandler {
	return handler.Funcs{DeleteFunc: func(ctx context.Context, e event.TypedDeleteEvent[client.Object], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		name := hostOf(e.Object)
		if name == "" {
			return
		}
		host := &v1alpha1.ProxmoxHost{}
		if err := r.Get(ctx, client.ObjectKey{Name: name}, host); err != nil || host.DeletionTimestamp.IsZero() {
			return
		}
		q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Name: name}})
	}}
}
