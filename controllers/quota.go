package controllers

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// usage is what containers take from a host, in the units quotas count.
type usage struct {
	containers int64
	cores      int64
	memory     int64 // bytes
	disk       int64 // bytes
}

func (u usage) plus(o usage) usage {
	return usage{u.containers + o.containers, u.cores + o.cores, u.memory + o.memory, u.disk + o.disk}
}

// grows reports whether u asks for more than have in any dimension.
func (u usage) grows(have usage) bool {
	return u.cores > have.cores || u.memory > have.memory || u.disk > have.disk
}

// declaredUsage is what an Application's spec asks for; undeclared cores and
// memory count as Proxmox' defaults (1 core, 512 MiB).
func declaredUsage(app *v1alpha1.Application) usage {
	u := usage{containers: 1, cores: 1, memory: int64(plannedMemory(app))}
	if r := app.Spec.Resources; r != nil && r.Cores != nil {
		u.cores = int64(*r.Cores)
	}
	if app.Spec.RootFS != nil {
		u.disk += app.Spec.RootFS.Size.Value()
	}
	for _, mp := range app.Spec.MountPoints {
		if mp.Size != nil { // a bind mount takes no space of the host's storages
			u.disk += mp.Size.Value()
		}
	}
	return u
}

// configUsage is what a container's config gives it, for telling a grow
// from a change that takes nothing more.
func configUsage(cfg proxmox.ContainerConfig) usage {
	u := usage{containers: 1, cores: 1, memory: 512 << 20}
	if v, err := strconv.ParseInt(cfg["cores"], 10, 64); err == nil {
		u.cores = v
	}
	if v, err := strconv.ParseInt(cfg["memory"], 10, 64); err == nil {
		u.memory = v << 20
	}
	for k, v := range cfg {
		if k != "rootfs" && !strings.HasPrefix(k, "mp") {
			continue
		}
		if size, ok := lxcconfig.ParseProps(v)["size"]; ok {
			if bytes, err := lxcconfig.ParseDiskSize(size); err == nil {
				u.disk += bytes
			}
		}
	}
	return u
}

// quotas serializes quota decisions per host and namespace and remembers the
// creates it let through until the cache shows their VMID, so two creates
// racing in one namespace cannot both take the last of a quota.
type quotas struct {
	mu       sync.Mutex
	admitted map[types.UID]struct{}
}

func (q *quotas) forget(uid types.UID) {
	q.mu.Lock()
	delete(q.admitted, uid)
	q.mu.Unlock()
}

// check decides whether app may take want on its host. exceeded names the
// quota that would be passed. admit records a passing create.
func (q *quotas) check(ctx context.Context, c client.Reader, t tenancy, app *v1alpha1.Application, want usage, admit bool) (outcome, bool, error) {
	var limits []*v1alpha1.TenantQuota
	for _, g := range t.grants {
		if g.Quota != nil {
			limits = append(limits, g.Quota)
		}
	}
	if len(limits) == 0 {
		return outcome{}, true, nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	apps := &v1alpha1.ApplicationList{}
	if err := c.List(ctx, apps, client.InNamespace(app.Namespace), client.MatchingFields{appHostIndex: app.Spec.HostRef.Name}); err != nil {
		return outcome{}, false, err
	}
	used := want
	for i := range apps.Items {
		o := &apps.Items[i]
		_, admitted := q.admitted[o.UID]
		if o.UID == app.UID || !o.DeletionTimestamp.IsZero() || (o.Status.VMID == 0 && !admitted) {
			continue
		}
		used = used.plus(declaredUsage(o))
	}
	for _, l := range limits {
		if what := exceeded(l, used); what != "" {
			return stalled(v1alpha1.ReasonQuotaExceeded, fmt.Sprintf(
				"namespace %q would use %s on ProxmoxHost %q, over its quota (spec.grants[].quota); nothing was changed",
				app.Namespace, what, t.host.Name)), false, nil
		}
	}
	if admit {
		if q.admitted == nil {
			q.admitted = map[types.UID]struct{}{}
		}
		q.admitted[app.UID] = struct{}{}
	}
	return outcome{}, true, nil
}

// exceeded describes the first dimension of used above l, or "".
func exceeded(l *v1alpha1.TenantQuota, used usage) string {
	switch {
	case l.Containers != nil && used.containers > int64(*l.Containers):
		return fmt.Sprintf("%d containers (quota %d)", used.containers, *l.Containers)
	case l.Cores != nil && used.cores > int64(*l.Cores):
		return fmt.Sprintf("%d cores (quota %d)", used.cores, *l.Cores)
	case l.Memory != nil && used.memory > l.Memory.Value():
		return fmt.Sprintf("%s memory (quota %s)", resource.NewQuantity(used.memory, resource.BinarySI), l.Memory)
	case l.Disk != nil && used.disk > l.Disk.Value():
		return fmt.Sprintf("%s disk (quota %s)", resource.NewQuantity(used.disk, resource.BinarySI), l.Disk)
	}
	return ""
}
