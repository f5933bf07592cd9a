package controllers

import (
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

var queueEpoch = time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)

// queuedBackup is an archive Backup on host h created at queueEpoch+created.
func queuedBackup(ns, name string, created time.Duration, mutate func(*v1alpha1.Backup)) v1alpha1.Backup {
	b := v1alpha1.Backup{ObjectMeta: metav1.ObjectMeta{
		Namespace: ns, Name: name, UID: types.UID(ns + "/" + name),
		CreationTimestamp: metav1.NewTime(queueEpoch.Add(created)),
		Annotations:       map[string]string{AnnotationBackupHost: "h"},
	}}
	if mutate != nil {
		mutate(&b)
	}
	return b
}

func onNode(phase v1alpha1.BackupPhase, node string) func(*v1alpha1.Backup) {
	return func(b *v1alpha1.Backup) { b.Status.Phase, b.Status.Node = phase, node }
}

func runningDump(node string) func(*v1alpha1.Backup) {
	return func(b *v1alpha1.Backup) {
		b.Status.Phase, b.Status.Node = v1alpha1.BackupPhaseRunning, node
		b.Status.Task = &v1alpha1.TaskReference{UPID: "UPID:" + node + ":1:1:1:vzdump:100:root@pam:", Type: "vzdump", Node: node}
	}
}

func entryNames(entries []queueEntry) []string {
	out := []string{}
	for _, e := range entries {
		out = append(out, e.key.String())
	}
	return out
}

func TestVzdumpQueueRebuild(t *testing.T) {
	tests := []struct {
		name         string
		backups      []v1alpha1.Backup
		wantInFlight string // on node pve1, "" for a free slot
		wantWaiting  []string
	}{{
		name: "a Running archive with a recorded vzdump holds its node and the rest wait by creation time",
		backups: []v1alpha1.Backup{
			queuedBackup("a", "late", 3*time.Second, onNode(v1alpha1.BackupPhaseQueued, "pve1")),
			queuedBackup("a", "early", time.Second, onNode(v1alpha1.BackupPhasePending, "pve1")),
			queuedBackup("a", "dumping", 2*time.Second, runningDump("pve1")),
		},
		wantInFlight: "a/dumping",
		wantWaiting:  []string{"a/early", "a/late"},
	}, {
		name: "Backups created in the same second wait in namespace/name order",
		backups: []v1alpha1.Backup{
			queuedBackup("b", "x", 0, onNode(v1alpha1.BackupPhaseQueued, "pve1")),
			queuedBackup("a", "y", 0, onNode(v1alpha1.BackupPhaseQueued, "pve1")),
			queuedBackup("a", "x", 0, onNode(v1alpha1.BackupPhaseQueued, "pve1")),
		},
		wantWaiting: []string{"a/x", "a/y", "b/x"},
	}, {
		name: "a schedule's run time orders before the creation time",
		backups: []v1alpha1.Backup{
			queuedBackup("a", "made-first", 0, onNode(v1alpha1.BackupPhaseQueued, "pve1")),
			queuedBackup("a", "due-first", time.Minute, func(b *v1alpha1.Backup) {
				onNode(v1alpha1.BackupPhaseQueued, "pve1")(b)
				b.Annotations[AnnotationScheduledAt] = queueEpoch.Add(-time.Hour).Format(time.RFC3339)
			}),
		},
		wantWaiting: []string{"a/due-first", "a/made-first"},
	}, {
		name: "snapshots, finished, deleted and other nodes' Backups are not in the node's queue",
		backups: []v1alpha1.Backup{
			queuedBackup("a", "snap", 0, func(b *v1alpha1.Backup) {
				onNode(v1alpha1.BackupPhasePending, "pve1")(b)
				b.Spec.Type = v1alpha1.BackupTypeSnapshot
			}),
			queuedBackup("a", "done", 0, onNode(v1alpha1.BackupPhaseCompleted, "pve1")),
			queuedBackup("a", "gone", 0, func(b *v1alpha1.Backup) {
				onNode(v1alpha1.BackupPhaseQueued, "pve1")(b)
				b.DeletionTimestamp = &metav1.Time{Time: queueEpoch}
			}),
			queuedBackup("a", "elsewhere", 0, runningDump("pve2")),
			queuedBackup("a", "unplaced", 0, onNode(v1alpha1.BackupPhasePending, "")),
		},
		wantWaiting: []string{},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &vzdumpQueue{}
			q.rebuildLocked(tt.backups, vzdumpPlacement)
			checkLane(t, q.nodeLocked(nodeKey{"h", "pve1"}), tt.wantInFlight, tt.wantWaiting)
		})
	}
}

func TestVzdumpQueueTurns(t *testing.T) {
	k := nodeKey{"h", "pve1"}
	first := entryOf(ptrTo(queuedBackup("a", "first", 0, nil)))
	second := entryOf(ptrTo(queuedBackup("a", "second", time.Second, nil)))
	third := entryOf(ptrTo(queuedBackup("a", "third", 2*time.Second, nil)))
	tests := []struct {
		name  string
		steps func(q *vzdumpQueue)
		try   queueEntry
		want  bool
		// wantPos is the position of a Backup that has to wait.
		wantPos    int
		wantBehind string
	}{{
		name:  "the first Backup takes a free slot",
		steps: func(*vzdumpQueue) {},
		try:   first, want: true,
	}, {
		name:  "a second Backup waits behind the dump in flight",
		steps: func(q *vzdumpQueue) { q.admit(k, first); q.settle(k, first, slotHeld) },
		try:   second, wantPos: 1, wantBehind: "a/first",
	}, {
		name:  "the holder itself is let through again (a pass after a lost status write)",
		steps: func(q *vzdumpQueue) { q.admit(k, first); q.settle(k, first, slotHeld) },
		try:   first, want: true,
	}, {
		name: "a later Backup does not overtake an earlier one waiting for a slot just freed",
		steps: func(q *vzdumpQueue) {
			q.admit(k, first)
			q.settle(k, first, slotHeld)
			q.admit(k, second)
			q.settle(k, second, slotQueued)
			q.settle(k, first, slotNone)
		},
		try: third, wantPos: 2, wantBehind: "a/second",
	}, {
		name: "the next in line takes the slot once the dump ahead ended",
		steps: func(q *vzdumpQueue) {
			q.admit(k, first)
			q.settle(k, first, slotHeld)
			q.admit(k, second)
			q.settle(k, second, slotQueued)
			q.settle(k, first, slotNone)
		},
		try: second, want: true,
	}, {
		name: "a deleted holder frees the slot",
		steps: func(q *vzdumpQueue) {
			q.admit(k, first)
			q.settle(k, first, slotHeld)
			q.forget(first.key)
		},
		try: second, want: true,
	}, {
		name: "a holder whose container moved no longer holds the old node",
		steps: func(q *vzdumpQueue) {
			q.admit(k, first)
			q.settle(k, first, slotHeld)
			q.settle(nodeKey{"h", "pve2"}, first, slotHeld)
		},
		try: second, want: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &vzdumpQueue{}
			tt.steps(q)
			pos, ok := q.admit(k, tt.try)
			if ok != tt.want {
				t.Fatalf("admitted = %v, want %v (%+v)", ok, tt.want, pos)
			}
			if !ok && (pos.position != tt.wantPos || pos.behind.String() != tt.wantBehind) {
				t.Errorf("waits at %d behind %s, want %d behind %s", pos.position, pos.behind, tt.wantPos, tt.wantBehind)
			}
		})
	}
}

func TestVzdumpPacer(t *testing.T) {
	k := nodeKey{"h", "pve1"}
	t0 := queueEpoch
	tests := []struct {
		name string
		// lastDump is how long the node's last dump ran until its end was
		// seen, 0 for none yet; lastSeenRunning that a poll saw it running.
		lastDump        time.Duration
		lastSeenRunning bool
		ran             time.Duration
		want            time.Duration
	}{
		{name: "a fresh dump on a node never seen is looked at after taskPoll", ran: 0, want: taskPoll},
		{name: "a fresh dump is looked at when the node's last dump was seen ending", lastDump: 7 * time.Second, lastSeenRunning: true, ran: 0, want: 7 * time.Second},
		{name: "a last dump seen ended at its first poll only bounds the estimate and shrinks it", lastDump: 8 * time.Second, ran: 0, want: 7 * time.Second},
		{name: "a dump past the estimate is looked at again after a quarter of its age", lastDump: 2 * time.Second, lastSeenRunning: true, ran: 6 * time.Second, want: 1500 * time.Millisecond},
		{name: "a dump just past a short estimate is looked at again after 250ms", lastDump: 500 * time.Millisecond, lastSeenRunning: true, ran: 600 * time.Millisecond, want: 250 * time.Millisecond},
		{name: "the backoff is capped at 10s", lastDump: 2 * time.Second, lastSeenRunning: true, ran: time.Minute, want: 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &vzdumpPacer{}
			if tt.lastDump > 0 {
				p.posted(k, "old", t0)
				if tt.lastSeenRunning {
					p.running(k, "old", nil, t0.Add(time.Second))
				}
				p.ended(k, "old", nil, t0.Add(tt.lastDump))
			}
			p.posted(k, "uid", t0)
			if got := p.running(k, "uid", nil, t0.Add(tt.ran)); got != tt.want {
				t.Errorf("next poll after %s, want %s", got, tt.want)
			}
			if _, early := p.early("uid", t0.Add(tt.ran)); !early {
				t.Error("a pass right after planning should be early")
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }

func TestAppQueueRebuild(t *testing.T) {
	ofApp := func(phase v1alpha1.BackupPhase, typ v1alpha1.BackupType) func(*v1alpha1.Backup) {
		return func(b *v1alpha1.Backup) {
			b.Spec.ApplicationRef.Name, b.Spec.Type, b.Status.Phase = "web", typ, phase
		}
	}
	tests := []struct {
		name         string
		backups      []v1alpha1.Backup
		wantInFlight string // "" for a free turn
		wantWaiting  []string
	}{{
		name: "a Running snapshot holds its Application and Queued or Pending archives and snapshots wait by creation time",
		backups: []v1alpha1.Backup{
			queuedBackup("a", "late", 3*time.Second, ofApp(v1alpha1.BackupPhasePending, v1alpha1.BackupTypeSnapshot)),
			queuedBackup("a", "early", time.Second, ofApp(v1alpha1.BackupPhaseQueued, v1alpha1.BackupTypeArchive)),
			queuedBackup("a", "snapping", 2*time.Second, ofApp(v1alpha1.BackupPhaseRunning, v1alpha1.BackupTypeSnapshot)),
		},
		wantInFlight: "a/snapping",
		wantWaiting:  []string{"a/early", "a/late"},
	}, {
		name: "ended Backups take no turn",
		backups: []v1alpha1.Backup{
			queuedBackup("a", "done", 0, ofApp(v1alpha1.BackupPhaseCompleted, v1alpha1.BackupTypeArchive)),
			queuedBackup("a", "failed", 0, ofApp(v1alpha1.BackupPhaseFailed, v1alpha1.BackupTypeSnapshot)),
		},
		wantWaiting: []string{},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &appQueue{}
			q.rebuildLocked(tt.backups, appPlacement)
			checkLane(t, q.nodeLocked(appKey{Namespace: "a", Name: "web"}), tt.wantInFlight, tt.wantWaiting)
		})
	}
}

// checkLane compares who holds lane n ("" for nobody) and who waits.
func checkLane(t *testing.T, n *nodeQueue, wantInFlight string, wantWaiting []string) {
	t.Helper()
	got := ""
	if n.inFlight != nil {
		got = n.inFlight.key.String()
	}
	if got != wantInFlight {
		t.Errorf("in flight = %q, want %q", got, wantInFlight)
	}
	if w := entryNames(n.waiting); !slices.Equal(w, wantWaiting) {
		t.Errorf("waiting = %v, want %v", w, wantWaiting)
	}
}
