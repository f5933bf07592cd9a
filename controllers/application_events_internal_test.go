package controllers

import (
	"context"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// listedApp is an Application as the initial listing shows it: at
// generation, with status at observed and Ready as given.
func listedApp(name string, generation, observed int64, ready metav1.ConditionStatus) *v1alpha1.Application {
	app := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name, Generation: generation}}
	app.Status.ObservedGeneration = observed
	app.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: ready, Reason: "R"}}
	return app
}

func TestInitialListingQueuesAwaitedApplicationsFirst(t *testing.T) {
	tests := []struct {
		name   string
		listed []*v1alpha1.Application
		want   []string
	}{{
		name: "a spec changed while the operator was down is reconciled before settled Applications listed earlier",
		listed: []*v1alpha1.Application{
			listedApp("settled-1", 1, 1, metav1.ConditionTrue),
			listedApp("changed", 2, 1, metav1.ConditionTrue),
			listedApp("settled-2", 3, 3, metav1.ConditionTrue),
		},
		want: []string{"changed", "settled-1", "settled-2"},
	}, {
		name: "an Application that was not Ready goes first too",
		listed: []*v1alpha1.Application{
			listedApp("settled", 1, 1, metav1.ConditionTrue),
			listedApp("stalled", 1, 1, metav1.ConditionFalse),
		},
		want: []string{"stalled", "settled"},
	}, {
		name: "settled Applications keep the listing's order",
		listed: []*v1alpha1.Application{
			listedApp("a", 1, 1, metav1.ConditionTrue),
			listedApp("b", 1, 1, metav1.ConditionTrue),
		},
		want: []string{"a", "b"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			queued := queueOrder(len(tt.listed), func(h appEvents, q priorityqueue.PriorityQueue[reconcile.Request]) {
				for _, app := range tt.listed {
					h.Create(context.Background(), event.CreateEvent{Object: app, IsInInitialList: true}, q)
				}
			})
			if !slices.Equal(queued, tt.want) {
				t.Errorf("order = %v, want %v", queued, tt.want)
			}
		})
	}
}

func TestWakeUpsQueueSettledApplicationsBehindAwaitedOnes(t *testing.T) {
	settled, stalled := listedApp("settled", 1, 1, metav1.ConditionTrue), listedApp("stalled", 1, 1, metav1.ConditionFalse)
	settled.UID, stalled.UID = "u-settled", "u-stalled"
	granted := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "granted"}}
	tests := []struct {
		name  string
		woken []*v1alpha1.Application
		want  []string
	}{{
		name:  "an inventory change of a settled Application waits behind one someone waits for",
		woken: []*v1alpha1.Application{settled, stalled},
		want:  []string{"stalled", "settled"},
	}, {
		name:  "a bare key (a pacer grant) has no status to judge and keeps the normal priority",
		woken: []*v1alpha1.Application{settled, granted},
		want:  []string{"granted", "settled"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			queued := queueOrder(len(tt.woken), func(h appEvents, q priorityqueue.PriorityQueue[reconcile.Request]) {
				for _, app := range tt.woken {
					h.Generic(context.Background(), event.GenericEvent{Object: app}, q)
				}
			})
			if !slices.Equal(queued, tt.want) {
				t.Errorf("order = %v, want %v", queued, tt.want)
			}
		})
	}
}

// queueOrder feeds a real priority queue through appEvents with add and
// returns the names of the n requests in the order a worker gets them.
func queueOrder(n int, add func(appEvents, priorityqueue.PriorityQueue[reconcile.Request])) []string {
	q := priorityqueue.New[reconcile.Request]("test")
	defer q.ShutDown()
	add(newAppEvents(), q)
	var got []string
	for range n {
		req, _ := q.Get()
		got = append(got, req.Name)
		q.Done(req)
	}
	return got
}
