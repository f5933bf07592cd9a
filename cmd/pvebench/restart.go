package main

import (
	"errors"
	"fmt"
	"time"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

// restartWindow is how long after a restart the requests and CPU are
// counted: the catch-up burst of a new process (cache sync, a reconcile of
// every object) must fit in it.
const restartWindow = time.Minute

// restartCores is what the restart phase sets: neither the create phase's 1
// nor the spec change phase's 2, so both phases see a real change.
const restartCores = 3

// restart stops the manager with SIGTERM, changes cores of K Applications
// while none runs, starts the same binary with the same flags again and
// measures its first minute: how hard the new process hits Proxmox while it
// catches up, and how long the changes made behind its back take to land.
func (b *bench) restart() error {
	apps := activeApps(b.c)
	k := min(b.c.RestartChanges, len(apps))
	if k == 0 {
		return nil
	}
	u, err := b.stopManager()
	if err != nil {
		return err
	}
	b.pastPeakRSS, b.pastCPU = max(b.pastPeakRSS, u.PeakRSSBytes), b.pastCPU+u.CPUSeconds
	// The last measured Applications: they alternate between hosts, and the
	// spec change phase, which takes the first ones, still sees a change.
	changed, err := b.changeWhileDown(apps[len(apps)-k:])
	if err != nil {
		return err
	}
	for _, h := range b.hosts {
		h.sim.ResetRequestCounts()
		h.log.record()
	}
	start := time.Now()
	if b.mgr, err = testenv.StartManager(b.bin, b.kubeconfig, b.logPath, managerFlags(b.c)...); err != nil {
		return fmt.Errorf("restart the manager: %w", err)
	}
	rr := &restartReport{Changes: k}
	if err := b.waitChanged(changed, start, start.Add(restartWindow), rr); err != nil {
		return err
	}
	time.Sleep(time.Until(start.Add(restartWindow)))
	// A new process: all of its CPU so far is this minute's.
	u, err = b.mgr.Usage()
	if err != nil {
		return fmt.Errorf("manager usage: %w", err)
	}
	p := b.phase(fmt.Sprintf("restart (first %s, %d changed while down)", restartWindow, k), restartWindow, u.CPUSeconds)
	b.r.Phases = append(b.r.Phases, p)
	rr.CPUSeconds = p.ManagerCPUSeconds
	b.countRestartRequests(start, rr)
	// Changes that had not landed within the window get more time, so the
	// report says how long they took rather than only that it was too long.
	if err := b.waitChanged(changed, start, start.Add(10*time.Minute), rr); err != nil {
		return err
	}
	b.r.Restart = rr
	return nil
}

// changeWhileDown sets cores of the given Applications and returns their
// VMIDs by index: each simulator numbers its containers from 100, so a VMID
// alone does not name a container.
func (b *bench) changeWhileDown(apps []int) (map[int]int, error) {
	changed := map[int]int{}
	for _, i := range apps {
		app := &v1alpha1.Application{}
		if err := b.k8s.Get(b.ctx, client.ObjectKey{Namespace: namespace, Name: appName(i)}, app); err != nil {
			return nil, err
		}
		app.Spec.Resources.Cores = ptr.To[int32](restartCores)
		if err := b.k8s.Update(b.ctx, app); err != nil {
			return nil, fmt.Errorf("change %s while the manager is down: %w", app.Name, err)
		}
		changed[i] = int(app.Status.VMID)
	}
	return changed, nil
}

// waitChanged polls the simulators until every changed container has the
// new cores or until deadline; on success it records the time from start.
// A tight loop, as in the spec change phase: the latency is what is
// measured, and the simulators' state is read in-process.
func (b *bench) waitChanged(changed map[int]int, start, deadline time.Time, rr *restartReport) error {
	if rr.ConvergeSeconds != nil {
		return nil
	}
	want := fmt.Sprint(restartCores)
	for time.Now().Before(deadline) {
		done := 0
		for i, vmid := range changed {
			if ct, ok := b.sim(i).Container(vmid); ok && ct.Config["cores"] == want {
				done++
			}
		}
		if done == len(changed) {
			s := time.Since(start).Seconds()
			rr.ConvergeSeconds = &s
			rr.ConvergeSyncIntervals = s / b.c.SyncInterval.Seconds()
			return nil
		}
		if b.mgr.Exited() {
			return errors.New("the restarted manager exited; see its log")
		}
		progress("restart: %d/%d changes in Proxmox", done, len(changed))
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// countRestartRequests totals the requests of the restart window and each
// host's busiest second in it.
func (b *bench) countRestartRequests(start time.Time, rr *restartReport) {
	for h, sh := range b.hosts {
		stamps := sh.log.stop()
		hr := &b.r.Hosts[h]
		hr.RestartRequests = within(stamps, start, restartWindow)
		hr.RestartPeakPerSecond = peakPerSecond(stamps, start, restartWindow)
		rr.Requests += hr.RestartRequests
	}
}
