package proxmox

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
)

func (c *APIClient) get(ctx context.Context, path string, out any) error {
	return c.do(ctx, request{method: http.MethodGet, path: path, out: out})
}

// Version returns the PVE version.
func (c *APIClient) Version(ctx context.Context) (Version, error) {
	var v struct {
		Version string `json:"version"`
		Release string `json:"release"`
		RepoID  string `json:"repoid"`
	}
	if err := c.get(ctx, "/version", &v); err != nil {
		return Version{}, fmt.Errorf("get version: %w", err)
	}
	return Version{Version: v.Version, Release: v.Release, RepoID: v.RepoID}, nil
}

// Nodes lists the cluster nodes.
func (c *APIClient) Nodes(ctx context.Context) ([]Node, error) {
	var raw []struct {
		Node   string `json:"node"`
		Status string `json:"status"`
		CPU    num    `json:"cpu"`
		MaxCPU num    `json:"maxcpu"`
		Mem    num    `json:"mem"`
		MaxMem num    `json:"maxmem"`
		Uptime num    `json:"uptime"`
	}
	if err := c.get(ctx, "/nodes", &raw); err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	out := make([]Node, 0, len(raw))
	for _, n := range raw {
		out = append(out, Node{
			Name: n.Node, Status: n.Status, CPU: float64(n.CPU), MaxCPU: n.MaxCPU.int(),
			Mem: n.Mem.uint64(), MaxMem: n.MaxMem.uint64(), Uptime: n.Uptime.int64(),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Storages lists the storages of node with their capacity.
func (c *APIClient) Storages(ctx context.Context, node string) ([]Storage, error) {
	var raw []struct {
		Storage string `json:"storage"`
		Type    string `json:"type"`
		Content string `json:"content"`
		Shared  flag   `json:"shared"`
		Enabled *flag  `json:"enabled"`
		Active  flag   `json:"active"`
		Total   num    `json:"total"`
		Used    num    `json:"used"`
		Avail   num    `json:"avail"`
	}
	if err := c.get(ctx, "/nodes/"+url.PathEscape(node)+"/storage", &raw); err != nil {
		return nil, fmt.Errorf("list storages on %s: %w", node, err)
	}
	out := make([]Storage, 0, len(raw))
	for _, s := range raw {
		// PVE omits "enabled" on some versions for enabled storages.
		enabled := s.Enabled == nil || bool(*s.Enabled)
		out = append(out, Storage{
			ID: s.Storage, Node: node, Type: s.Type, Content: splitList(s.Content),
			Shared: bool(s.Shared), Enabled: enabled, Active: bool(s.Active),
			Total: s.Total.uint64(), Used: s.Used.uint64(), Avail: s.Avail.uint64(),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// ClusterStorages lists every storage on every node with one request.
func (c *APIClient) ClusterStorages(ctx context.Context) ([]Storage, error) {
	var raw []struct {
		Storage    string `json:"storage"`
		Node       string `json:"node"`
		Status     string `json:"status"`
		Content    string `json:"content"`
		PluginType string `json:"plugintype"`
		Shared     flag   `json:"shared"`
		Disk       num    `json:"disk"`
		MaxDisk    num    `json:"maxdisk"`
	}
	if err := c.get(ctx, "/cluster/resources?type=storage", &raw); err != nil {
		return nil, fmt.Errorf("list cluster storages: %w", err)
	}
	out := make([]Storage, 0, len(raw))
	for _, s := range raw {
		total, used := s.MaxDisk.uint64(), s.Disk.uint64()
		out = append(out, Storage{
			ID: s.Storage, Node: s.Node, Type: s.PluginType, Content: splitList(s.Content),
			Shared: bool(s.Shared), Enabled: true, Active: s.Status == "available",
			Total: total, Used: used, Avail: total - min(used, total),
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Node != out[j].Node {
			return out[i].Node < out[j].Node
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// clusterGuest is one type=vm entry of /cluster/resources. go-proxmox's
// ClusterResource has no lock and decodes maxcpu as an integer, which fails
// when cpulimit is set.
type clusterGuest struct {
	Type     string `json:"type"`
	VMID     num    `json:"vmid"`
	Node     string `json:"node"`
	Name     string `json:"name"`
	Status   string `json:"status"`
	Tags     string `json:"tags"`
	Lock     string `json:"lock"`
	Template flag   `json:"template"`
	Pool     string `json:"pool"`
	CPU      num    `json:"cpu"`
	MaxCPU   num    `json:"maxcpu"`
	Mem      num    `json:"mem"`
	MaxMem   num    `json:"maxmem"`
	Disk     num    `json:"disk"`
	MaxDisk  num    `json:"maxdisk"`
	Uptime   num    `json:"uptime"`
	HAState  string `json:"hastate"`
}

// Containers lists every LXC container with one GET /cluster/resources.
func (c *APIClient) Containers(ctx context.Context) ([]ContainerSummary, error) {
	var raw []clusterGuest
	if err := c.get(ctx, "/cluster/resources?type=vm", &raw); err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := make([]ContainerSummary, 0, len(raw))
	for _, g := range raw {
		if g.Type != "lxc" {
			continue
		}
		out = append(out, ContainerSummary{
			VMID: g.VMID.int(), Node: g.Node, Name: g.Name, Status: g.Status,
			Tags: splitList(g.Tags), Lock: g.Lock, Template: bool(g.Template), Pool: g.Pool,
			CPU: float64(g.CPU), MaxCPU: float64(g.MaxCPU), Mem: g.Mem.uint64(), MaxMem: g.MaxMem.uint64(),
			Disk: g.Disk.uint64(), MaxDisk: g.MaxDisk.uint64(), Uptime: g.Uptime.int64(), HAState: g.HAState,
		})
	}
	return out, nil
}

// NextID returns a free VMID.
func (c *APIClient) NextID(ctx context.Context) (int, error) {
	var id text
	if err := c.get(ctx, "/cluster/nextid", &id); err != nil {
		return 0, fmt.Errorf("get next VMID: %w", err)
	}
	n, err := strconv.Atoi(string(id))
	if err != nil {
		return 0, fmt.Errorf("get next VMID: unexpected reply %q", string(id))
	}
	return n, nil
}

// CheckVMID asks /cluster/nextid whether vmid is free; PVE answers a taken
// one with 400 {"vmid":"VM 100 already exists"} (it says VM for CTs too).
func (c *APIClient) CheckVMID(ctx context.Context, vmid int) error {
	var id text
	if err := c.get(ctx, "/cluster/nextid?vmid="+strconv.Itoa(vmid), &id); err != nil {
		return fmt.Errorf("check VMID %d: %w", vmid, err)
	}
	return nil
}
