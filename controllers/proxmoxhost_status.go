package controllers

import (
	"sort"
	"strconv"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/proxmox/inventory"
)

// fillInventoryStatus copies what the inventory saw into the host's status.
func fillInventoryStatus(st *v1alpha1.ProxmoxHostStatus, snap *inventory.Snapshot) {
	if snap == nil {
		return
	}
	st.Nodes = st.Nodes[:0]
	for _, n := range snap.Nodes {
		ns := v1alpha1.NodeStatus{Name: n.Name, Status: n.Status, CPU: int32(n.MaxCPU), Uptime: n.Uptime}
		if n.Online() {
			ns.CPUUsage = strconv.FormatFloat(n.CPU, 'f', 2, 64)
			ns.MemoryTotal = bytesQuantity(n.MaxMem)
			ns.MemoryUsed = bytesQuantity(n.Mem)
		}
		st.Nodes = append(st.Nodes, ns)
	}
	sort.Slice(st.Nodes, func(i, j int) bool { return st.Nodes[i].Name < st.Nodes[j].Name })

	st.Storages = st.Storages[:0]
	sharedSeen := map[string]bool{}
	for _, s := range snap.Storages {
		if s.Shared {
			if sharedSeen[s.ID] {
				continue
			}
			sharedSeen[s.ID] = true
		}
		ss := v1alpha1.StorageStatus{Name: s.ID, Node: s.Node, Type: s.Type, Content: s.Content, Shared: s.Shared,
			Total: bytesQuantity(s.Total), Used: bytesQuantity(s.Used)}
		if s.Shared {
			ss.Node = ""
		}
		st.Storages = append(st.Storages, ss)
	}
	sort.Slice(st.Storages, func(i, j int) bool {
		a, b := st.Storages[i], st.Storages[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Node < b.Node
	})

	counts := &v1alpha1.ContainerCounts{}
	var unmanaged []v1alpha1.UnmanagedContainer
	for _, c := range snap.Containers {
		if c.Template {
			continue
		}
		if _, owned := lxcconfig.OwnerOf(c.Tags); owned {
			counts.Managed++
			continue
		}
		counts.Unmanaged++
		unmanaged = append(unmanaged, v1alpha1.UnmanagedContainer{VMID: int32(c.VMID), Node: c.Node, Name: c.Name, Status: c.Status})
	}
	sort.Slice(unmanaged, func(i, j int) bool { return unmanaged[i].VMID < unmanaged[j].VMID })
	if len(unmanaged) > v1alpha1.MaxUnmanagedListed {
		unmanaged = unmanaged[:v1alpha1.MaxUnmanagedListed]
	}
	st.Containers = counts
	st.UnmanagedContainers = unmanaged
	t := metav1.NewTime(snap.Time)
	st.LastSyncTime = &t
}

// insecureTLSMessage is the InsecureTLS condition's message and event note.
const insecureTLSMessage = "spec.tls.insecureSkipVerify is true: the Proxmox certificate is not verified, so anyone on the network path can read the API token. " +
	"Use it in a lab only; set spec.tls.caBundle or spec.tls.certificateFingerprint instead"

// setInsecureTLSCondition sets InsecureTLS while the spec disables
// certificate verification and removes it otherwise. It reports whether the
// condition was newly added, so the warning event fires once, not on every
// sync.
func setInsecureTLSCondition(conds *[]metav1.Condition, host *v1alpha1.ProxmoxHost) bool {
	if host.Spec.TLS == nil || !host.Spec.TLS.InsecureSkipVerify {
		meta.RemoveStatusCondition(conds, v1alpha1.ConditionInsecureTLS)
		return false
	}
	added := meta.FindStatusCondition(*conds, v1alpha1.ConditionInsecureTLS) == nil
	meta.SetStatusCondition(conds, metav1.Condition{
		Type: v1alpha1.ConditionInsecureTLS, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonInsecureSkipVerify,
		Message: insecureTLSMessage, ObservedGeneration: host.Generation,
	})
	return added
}

// bytesQuantity reports a byte count, or nil when unknown (never a fake zero).
func bytesQuantity(b uint64) *resource.Quantity {
	if b == 0 {
		return nil
	}
	return resource.NewQuantity(int64(b), resource.BinarySI)
}
