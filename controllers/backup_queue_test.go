package controllers_test

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

// queueWatch samples, while archive Backups of one node run, how many
// vzdump tasks run on the node at once and the order the Backups complete.
type queueWatch struct {
	ns, node   string
	mu         sync.Mutex
	maxRunning int
	completed  []string
	stop       chan struct{}
	done       chan struct{}
}

func watchQueue(ns, node string) *queueWatch {
	w := &queueWatch{ns: ns, node: node, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer GinkgoRecover()
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			w.sample()
		}
	}()
	return w
}

func (w *queueWatch) sample() {
	running := 0
	for _, t := range sim.Tasks(pvesim.TaskVzdump, "") {
		if t.Running && t.Node == w.node {
			running++
		}
	}
	list := &v1alpha1.BackupList{}
	_ = k8s.List(ctx, list, client.InNamespace(w.ns))
	w.mu.Lock()
	defer w.mu.Unlock()
	w.maxRunning = max(w.maxRunning, running)
	for _, b := range list.Items {
		if b.Status.Phase == v1alpha1.BackupPhaseCompleted && !containsString(w.completed, b.Name) {
			w.completed = append(w.completed, b.Name)
		}
	}
}

func (w *queueWatch) end() (maxRunning int, completed []string) {
	close(w.stop)
	<-w.done
	// The last Backup may have completed after the last sample.
	w.sample()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.maxRunning, w.completed
}

// eventuallyQueued waits until b is Queued (Reconciling, neither Ready nor
// Stalled) with a message holding each of words.
func eventuallyQueued(b *v1alpha1.Backup, words ...string) {
	EventuallyWithOffset(1, func(g Gomega) {
		got := getBackup(b)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.BackupPhaseQueued))
		c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReconciling)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonQueued))
		for _, w := range words {
			g.Expect(c.Message).To(ContainSubstring(w))
		}
		g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionReady)).To(BeFalse())
		g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionStalled)).To(BeFalse())
	}).Should(Succeed())
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var _ = Describe("Backup vzdump queue", func() {
	It("runs one vzdump at a time per node, queues the others in order, and polls each dump at most three times", func() {
		e, first := readyAppEnv()
		node := first.Status.Node
		apps := []*v1alpha1.Application{first}
		for range 3 {
			apps = append(apps, e.app(func(a *v1alpha1.Application) { a.Spec.Node = node }))
		}
		for i := range apps[1:] {
			apps[i+1] = eventuallyApp(apps[i+1], "True", v1alpha1.ReasonReconciled)
		}
		// Dumps long enough that PVE would have queued them and a fixed
		// poll interval would ask several times about each.
		prev := sim.SetTaskDuration(pvesim.TaskVzdump, pvesim.DurationRange{Min: 1500 * time.Millisecond, Max: 2 * time.Second})
		DeferCleanup(func() { sim.SetTaskDuration(pvesim.TaskVzdump, prev) })
		// The first dump is held until the others are seen Queued, so
		// that they all wait (in a known order) rather than race for a
		// slot they might find free.
		sim.StallTasks(pvesim.TaskVzdump, strconv.Itoa(int(first.Status.VMID)), 1)
		DeferCleanup(func() { sim.ReleaseTasks() })
		sim.ResetRequestCounts()
		w := watchQueue(e.ns, node)

		backups := []*v1alpha1.Backup{backup(first, func(b *v1alpha1.Backup) { b.Name = "queued-1" })}
		eventuallyBackup(backups[0], v1alpha1.BackupPhaseRunning)
		for i, app := range apps[1:] {
			backups = append(backups, backup(app, func(b *v1alpha1.Backup) { b.Name = fmt.Sprintf("queued-%d", i+2) }))
		}
		for i, b := range backups[1:] {
			eventuallyQueued(b, node, e.ns+"/queued-1", fmt.Sprintf("position %d", i+1))
		}
		Consistently(func() int { return sim.RequestCount("POST /nodes/{node}/vzdump") }, "1s").Should(Equal(1), "Queued Backups post nothing")

		sim.ReleaseTasks()
		for _, b := range backups {
			eventuallyBackup(b, v1alpha1.BackupPhaseCompleted, "90s")
		}
		maxRunning, completed := w.end()
		Expect(maxRunning).To(Equal(1), "one vzdump at a time on %s", node)
		Expect(completed).To(Equal([]string{"queued-1", "queued-2", "queued-3", "queued-4"}))
		Expect(sim.RequestCount("POST /nodes/{node}/vzdump")).To(Equal(len(backups)), "one dump per Backup")
		polls := sim.RequestCount("GET /nodes/{node}/tasks/{upid}/status")
		GinkgoWriter.Printf("task-status polls for %d Backups: %d\n", len(backups), polls)
		Expect(polls).To(BeNumerically("<=", 3*len(backups)))
		for _, app := range apps {
			Expect(tasksOf("vzdump", app.Status.VMID)).To(HaveLen(1))
		}
	})
})

// runningTasksOf counts the tasks running against one container.
func runningTasksOf(vmid int32) int {
	n := 0
	for _, t := range sim.Tasks("", strconv.Itoa(int(vmid))) {
		if t.Running {
			n++
		}
	}
	return n
}

var _ = Describe("Backup turns per Application", func() {
	It("runs one Backup of an Application at a time, snapshots and archives alike, and queues the rest in order", func() {
		e, app := readyAppEnv()
		vmid := strconv.Itoa(int(app.Status.VMID))
		// The first snapshot is held until the others are seen Queued.
		sim.StallTasks(pvesim.TaskSnapshot, vmid, 1)
		DeferCleanup(func() { sim.ReleaseTasks() })
		sim.ResetRequestCounts()
		// Named so that Backups created in the same second queue in a known
		// order (due time, then name).
		turn := func(i int, typ v1alpha1.BackupType) *v1alpha1.Backup {
			return backup(app, func(b *v1alpha1.Backup) { b.Name, b.Spec.Type = fmt.Sprintf("turn-%d", i), typ })
		}
		backups := []*v1alpha1.Backup{turn(1, v1alpha1.BackupTypeSnapshot)}
		eventuallyBackup(backups[0], v1alpha1.BackupPhaseRunning)
		backups = append(backups, turn(2, v1alpha1.BackupTypeArchive), turn(3, v1alpha1.BackupTypeSnapshot), turn(4, v1alpha1.BackupTypeSnapshot))
		for i, b := range backups[1:] {
			eventuallyQueued(b, "Application "+e.ns+"/"+app.Name, e.ns+"/"+backups[0].Name, fmt.Sprintf("position %d", i+1))
		}
		Consistently(func() int { return sim.RequestCount("POST /nodes/{node}/lxc/{vmid}/snapshot") }, "1s").
			Should(Equal(1), "Queued Backups post nothing")

		maxRunning, completed := 0, []string{}
		sim.ReleaseTasks()
		Eventually(func(g Gomega) {
			maxRunning = max(maxRunning, runningTasksOf(app.Status.VMID))
			for _, b := range backups {
				if getBackup(b).Status.Phase == v1alpha1.BackupPhaseCompleted && !containsString(completed, b.Name) {
					completed = append(completed, b.Name)
				}
			}
			g.Expect(completed).To(HaveLen(len(backups)))
		}, "90s", "20ms").Should(Succeed())
		Expect(maxRunning).To(BeNumerically("<=", 1), "one task at a time against container %s", vmid)
		want := []string{}
		for _, b := range backups {
			want = append(want, b.Name)
		}
		Expect(completed).To(Equal(want), "completed in creation order")
		Expect(sim.RequestCount("POST /nodes/{node}/lxc/{vmid}/snapshot")).To(Equal(3), "one snapshot per snapshot Backup")
		Expect(sim.RequestCount("POST /nodes/{node}/vzdump")).To(Equal(1))
		Expect(tasksOf(pvesim.TaskSnapshot, app.Status.VMID)).To(HaveLen(3))
	})
})
