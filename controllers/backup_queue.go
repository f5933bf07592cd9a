package controllers

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// queuedRecheck is the safety requeue of a Queued Backup. It is normally
// woken when the vzdump ahead of it ends; this only covers a lost wake.
const queuedRecheck = 5 * time.Minute

// slotUse is what a pass of a Backup left it holding in a lane.
type slotUse int

const (
	// slotNone: it neither holds nor waits for the lane (for a node: no
	// vzdump of this Backup can be running).
	slotNone slotUse = iota
	// slotQueued: waiting for the lane.
	slotQueued
	// slotHeld: it has the lane (for a node: a vzdump of this Backup runs,
	// or may run, its POST being sent).
	slotHeld
)

// laneKey names what a Backup takes turns for: a node's vzdump slot
// (nodeKey) or its Application (appKey).
type laneKey interface {
	comparable
	// describe is the lane in a Queued message.
	describe() string
}

// nodeKey is one Proxmox node of one ProxmoxHost: node names repeat
// across clusters.
type nodeKey struct{ host, node string }

func (k nodeKey) describe() string { return "the node's vzdump slot on " + k.node }

// appKey is one Application: its Backups, snapshots and archives alike,
// run one at a time, so thousands of them queue here instead of each
// posting its task and finding the container locked.
type appKey types.NamespacedName

func (k appKey) describe() string {
	return "the turn of Application " + types.NamespacedName(k).String()
}

func appKeyOf(b *v1alpha1.Backup) appKey {
	return appKey{Namespace: b.Namespace, Name: b.Spec.ApplicationRef.Name}
}

// queueEntry is a Backup in a lane.
type queueEntry struct {
	key types.NamespacedName
	uid types.UID
	// due is when the Backup was due: its schedule time, else creation.
	due time.Time
}

// before orders entries by when they were due, then by namespace/name.
func (e queueEntry) before(o queueEntry) bool {
	if !e.due.Equal(o.due) {
		return e.due.Before(o.due)
	}
	return e.key.String() < o.key.String()
}

func entryOf(b *v1alpha1.Backup) queueEntry {
	return queueEntry{key: client.ObjectKeyFromObject(b), uid: b.UID, due: scheduledAt(b)}
}

// nodeQueue is one lane's slot and the Backups waiting for it.
type nodeQueue struct {
	inFlight *queueEntry
	waiting  []queueEntry // sorted by before
}

// turnQueue lets one Backup at a time hold each lane. For nodes: PVE runs
// only one vzdump anyway and queues the rest as tasks, which then cost a
// status poll each while they wait and show Running; waiting here costs
// Proxmox nothing. It lives in memory only: seed rebuilds it from the
// Backups after a restart.
type turnQueue[K laneKey] struct {
	mu     sync.Mutex
	nodes  map[K]*nodeQueue
	seeded bool
	// wake receives the Backups whose turn came; nil (a reconciler built
	// outside a manager) wakes nothing and leaves it to the safety requeue.
	wake chan event.GenericEvent
}

// vzdumpQueue is the node lanes; appQueue the Application lanes.
type (
	vzdumpQueue = turnQueue[nodeKey]
	appQueue    = turnQueue[appKey]
)

// placement is where a Backup stood in a lane before a restart, read
// from its status; ok is false when it stood in none.
type placement[K laneKey] func(b *v1alpha1.Backup) (k K, held, ok bool)

// vzdumpPlacement: a Running archive with a recorded vzdump holds its
// node; Queued and Pending ones with a known node wait.
func vzdumpPlacement(b *v1alpha1.Backup) (nodeKey, bool, bool) {
	host := backupHost(b)
	if host == "" || backupType(b) != v1alpha1.BackupTypeArchive {
		return nodeKey{}, false, false
	}
	if t := b.Status.Task; b.Status.Phase == v1alpha1.BackupPhaseRunning && t != nil && t.Type == "vzdump" && t.UPID != "" {
		return nodeKey{host, t.Node}, true, true
	}
	waits := (b.Status.Phase == v1alpha1.BackupPhaseQueued || b.Status.Phase == v1alpha1.BackupPhasePending) && b.Status.Node != ""
	return nodeKey{host, b.Status.Node}, false, waits
}

// appPlacement: a Running Backup holds its Application; Queued and
// Pending ones wait.
func appPlacement(b *v1alpha1.Backup) (appKey, bool, bool) {
	switch b.Status.Phase {
	case v1alpha1.BackupPhaseRunning:
		return appKeyOf(b), true, true
	case v1alpha1.BackupPhaseQueued, v1alpha1.BackupPhasePending:
		return appKeyOf(b), false, true
	}
	return appKey{}, false, false
}

// queuePosition is where admit put a Backup that has to wait.
type queuePosition struct {
	lane string
	// behind is the Backup whose vzdump runs (or, when the slot is free,
	// the one whose turn it is).
	behind types.NamespacedName
	// position is 1 for the first in line.
	position int
}

func (p queuePosition) message() string {
	return fmt.Sprintf("waiting for %s behind Backup %s (position %d in the queue)", p.lane, p.behind, p.position)
}

func (q *turnQueue[K]) nodeLocked(k K) *nodeQueue {
	if q.nodes == nil {
		q.nodes = map[K]*nodeQueue{}
	}
	n := q.nodes[k]
	if n == nil {
		n = &nodeQueue{}
		q.nodes[k] = n
	}
	return n
}

// seedBackupQueues rebuilds the node and Application lanes from one
// listing of the Backups, once, on first use. Until it succeeds nothing is
// admitted.
func seedBackupQueues(ctx context.Context, c client.Reader, nodes *vzdumpQueue, apps *appQueue) error {
	if nodes.isSeeded() && apps.isSeeded() {
		return nil
	}
	list := &v1alpha1.BackupList{}
	if err := c.List(ctx, list); err != nil {
		return fmt.Errorf("list backups to rebuild the backup queues: %w", err)
	}
	nodes.seed(list.Items, vzdumpPlacement)
	apps.seed(list.Items, appPlacement)
	return nil
}

func (q *turnQueue[K]) isSeeded() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.seeded
}

func (q *turnQueue[K]) seed(backups []v1alpha1.Backup, place placement[K]) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.seeded {
		q.rebuildLocked(backups, place)
		q.seeded = true
	}
}

// rebuildLocked fills the lanes from backups; the caller holds q.mu.
func (q *turnQueue[K]) rebuildLocked(backups []v1alpha1.Backup, place placement[K]) {
	for i := range backups {
		b := &backups[i]
		if !b.DeletionTimestamp.IsZero() {
			continue
		}
		k, held, ok := place(b)
		switch {
		case !ok:
		case held:
			e := entryOf(b)
			q.nodeLocked(k).inFlight = &e
		default:
			q.nodeLocked(k).enqueue(entryOf(b))
		}
	}
}

// admit gives the lane's slot to e when it is free and e is first in line;
// otherwise e waits and the answer says where.
func (q *turnQueue[K]) admit(k K, e queueEntry) (queuePosition, bool) {
	q.mu.Lock()
	n := q.nodeLocked(k)
	if n.inFlight != nil && n.inFlight.uid == e.uid {
		q.mu.Unlock()
		return queuePosition{}, true
	}
	n.enqueue(e)
	if n.inFlight == nil && n.waiting[0].uid == e.uid {
		n.waiting = n.waiting[1:]
		n.inFlight = &e
		q.mu.Unlock()
		return queuePosition{}, true
	}
	pos := queuePosition{lane: k.describe(), position: n.indexOf(e.uid) + 1}
	var wake []queueEntry
	if n.inFlight != nil {
		pos.behind = n.inFlight.key
	} else {
		// The slot is free but someone earlier has not taken it yet: make
		// sure they were woken, or one gone quiet would block the node.
		pos.behind = n.waiting[0].key
		wake = []queueEntry{n.waiting[0]}
	}
	q.mu.Unlock()
	q.send(wake)
	return pos, false
}

// settle records what a pass of a Backup left it holding, and wakes the
// next in line when the slot came free.
func (q *turnQueue[K]) settle(k K, e queueEntry, use slotUse) {
	q.mu.Lock()
	var wake []queueEntry
	for ok, other := range q.nodes {
		// The container moved: it holds or waits on its new node only
		// (an Application lane never changes).
		if ok != k && other.dropLocked(e.key) {
			wake = append(wake, other.nextLocked()...)
		}
	}
	n := q.nodeLocked(k)
	holds := n.inFlight != nil && n.inFlight.uid == e.uid
	switch use {
	case slotHeld:
		n.remove(e.uid)
		n.inFlight = &e
		q.mu.Unlock()
		q.send(wake)
		return
	case slotQueued:
		if holds {
			n.inFlight = nil
		}
		n.enqueue(e)
	case slotNone:
		if holds {
			n.inFlight = nil
		}
		n.remove(e.uid)
	}
	wake = append(wake, n.nextLocked()...)
	q.mu.Unlock()
	q.send(wake)
}

// forget drops a Backup that is gone or being deleted from every queue.
func (q *turnQueue[K]) forget(key types.NamespacedName) {
	q.mu.Lock()
	var wake []queueEntry
	for _, n := range q.nodes {
		if n.dropLocked(key) {
			wake = append(wake, n.nextLocked()...)
		}
	}
	q.mu.Unlock()
	q.send(wake)
}

// nextLocked is who to wake: the first in line, when the slot is free.
func (n *nodeQueue) nextLocked() []queueEntry {
	if n.inFlight != nil || len(n.waiting) == 0 {
		return nil
	}
	return []queueEntry{n.waiting[0]}
}

func (q *turnQueue[K]) send(entries []queueEntry) {
	if q.wake == nil {
		return
	}
	for _, e := range entries {
		b := &v1alpha1.Backup{}
		b.Namespace, b.Name = e.key.Namespace, e.key.Name
		deliver(q.wake, event.GenericEvent{Object: b})
	}
}

// deliver sends v on ch without blocking the caller (a reconcile, a lock
// holder) and without dropping it: a wake-up that replaces a place in a
// queue must arrive, or the one woken would wait for its safety requeue.
func deliver[T any](ch chan<- T, v T) {
	select {
	case ch <- v:
	default:
		go func() { ch <- v }()
	}
}

func (n *nodeQueue) enqueue(e queueEntry) {
	n.remove(e.uid)
	i := sort.Search(len(n.waiting), func(i int) bool { return e.before(n.waiting[i]) })
	n.waiting = append(n.waiting, queueEntry{})
	copy(n.waiting[i+1:], n.waiting[i:])
	n.waiting[i] = e
}

func (n *nodeQueue) indexOf(uid types.UID) int {
	for i, w := range n.waiting {
		if w.uid == uid {
			return i
		}
	}
	return -1
}

func (n *nodeQueue) remove(uid types.UID) {
	if i := n.indexOf(uid); i >= 0 {
		n.waiting = append(n.waiting[:i], n.waiting[i+1:]...)
	}
}

// dropLocked removes the Backup key from the node, holding or waiting,
// and reports whether it was there.
func (n *nodeQueue) dropLocked(key types.NamespacedName) bool {
	if n.inFlight != nil && n.inFlight.key == key {
		n.inFlight = nil
		return true
	}
	for i, w := range n.waiting {
		if w.key == key {
			n.waiting = append(n.waiting[:i], n.waiting[i+1:]...)
			return true
		}
	}
	return false
}
