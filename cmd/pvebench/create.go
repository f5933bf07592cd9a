package main

import (
	"fmt"
	"math"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

func appName(i int) string { return fmt.Sprintf("app-%d", i) }

// create makes N Applications, round-robin over the hosts, and waits until
// every measured host has all of its Applications Ready. The run's bound is
// the largest of those hosts' schedule bounds: the hosts work in parallel.
func (b *bench) create() error {
	c := b.c
	if err := b.begin(); err != nil {
		return err
	}
	for h := range b.hosts {
		n := appsOnHost(c, h)
		b.r.Hosts = append(b.r.Hosts, hostReport{
			Name: b.hosts[h].name, Applications: n, Slow: h == 0 && c.SlowHost > 0,
			BoundSeconds: scheduleBound(c, b.nodes, n),
		})
	}
	for i := range c.N {
		if err := b.k8s.Create(b.ctx, benchApp(c, i)); err != nil {
			return err
		}
	}
	if err := b.waitAllReady(30 * time.Minute); err != nil {
		return err
	}
	p, err := b.end("create")
	if err != nil {
		return err
	}
	b.r.ReadySeconds = p.Seconds
	for h, hr := range b.r.Hosts {
		if measured(c, h) {
			b.r.BoundSeconds = max(b.r.BoundSeconds, hr.BoundSeconds)
		}
		if h > 0 && hr.ReadySeconds != nil {
			b.r.OthersReadySeconds = max(b.r.OthersReadySeconds, *hr.ReadySeconds)
		}
	}
	b.r.BoundRatio = b.r.ReadySeconds / b.r.BoundSeconds
	return nil
}

// waitAllReady waits until every measured host's Applications are all
// Ready, noting per host when that first held and, at the end, how many are
// Ready (the slow host's may not all be).
func (b *bench) waitAllReady(timeout time.Duration) error {
	c := b.c
	hosts := map[string]int{}
	for h, sh := range b.hosts {
		hosts[sh.name] = h
	}
	var ready []int
	err := b.poll(timeout, c.N, func() (bool, error) {
		list := &v1alpha1.ApplicationList{}
		if err := b.k8s.List(b.ctx, list, client.InNamespace(namespace)); err != nil {
			return false, err
		}
		ready = make([]int, len(b.hosts))
		reasons := map[string]int{}
		for _, a := range list.Items {
			if meta.IsStatusConditionTrue(a.Status.Conditions, v1alpha1.ConditionReady) {
				ready[hosts[a.Spec.HostRef.Name]]++
			} else if cond := meta.FindStatusCondition(a.Status.Conditions, v1alpha1.ConditionReady); cond != nil {
				reasons[cond.Reason+": "+cond.Message]++
			}
		}
		return b.noteReady(ready, reasons), nil
	})
	for h, n := range ready {
		b.r.Hosts[h].ReadyAtCreateEnd = n
	}
	if err != nil {
		return fmt.Errorf("waiting for %d Applications Ready: %w", c.N, err)
	}
	return nil
}

// noteReady records the hosts that have just become all Ready and says
// whether every measured host is.
func (b *bench) noteReady(ready []int, reasons map[string]int) bool {
	done, total := true, 0
	for h, n := range ready {
		hr := &b.r.Hosts[h]
		total += n
		if n == hr.Applications && hr.ReadySeconds == nil {
			s := time.Since(b.phaseStart).Seconds()
			hr.ReadySeconds = &s
		}
		done = done && (hr.ReadySeconds != nil || !measured(b.c, h))
	}
	if !done {
		progress("%d/%d Applications Ready (by host %v); others: %v", total, b.c.N, ready, reasons)
	}
	return done
}

// roundUp is math.Ceil for the counts the bounds divide.
func roundUp(n, per int) float64 { return math.Ceil(float64(n) / float64(per)) }
