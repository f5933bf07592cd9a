package proxmox

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/pve-operator/pve-operator/internal/pveparams"
)

func ctPath(node string, vmid int, suffix string) string {
	return fmt.Sprintf("/nodes/%s/lxc/%d%s", url.PathEscape(node), vmid, suffix)
}

// startTask sends a task-starting request and parses the UPID PVE returns.
func (c *APIClient) startTask(ctx context.Context, r request) (UPID, error) {
	var upid text
	r.out = &upid
	if err := c.do(ctx, r); err != nil {
		return UPID{}, err
	}
	u, err := ParseUPID(string(upid))
	if err != nil {
		return UPID{}, fmt.Errorf("PVE accepted the request but returned no task id: %w", err)
	}
	return u, nil
}

// createBody is the body of POST /nodes/{node}/lxc: the VMID first, then
// params in their order, then the root password. go-proxmox sends the body
// as JSON, which pveparams.List encodes in order.
func createBody(vmid int, params pveparams.List, password string) pveparams.List {
	body := make(pveparams.List, 0, len(params)+2)
	body.Add("vmid", strconv.Itoa(vmid))
	body = append(body, params...)
	if password != "" {
		body.Add("password", password)
	}
	return body
}

// CreateContainer starts a vzcreate task. PVE reserves the VMID (config with
// lock "create") before answering, so a create whose answer was lost
// (IsOutcomeUnknown) shows up in the next listing; it is never retried here.
func (c *APIClient) CreateContainer(ctx context.Context, node string, vmid int, req CreateRequest) (UPID, error) {
	u, err := c.startTask(ctx, request{
		method: http.MethodPost, path: fmt.Sprintf("/nodes/%s/lxc", url.PathEscape(node)),
		body: createBody(vmid, req.Params, req.Password), secrets: []string{req.Password},
	})
	if err != nil {
		return UPID{}, fmt.Errorf("create container %d on %s: %w", vmid, node, err)
	}
	return u, nil
}

// RestoreContainer starts a vzrestore task from a backup archive.
func (c *APIClient) RestoreContainer(ctx context.Context, node string, vmid int, spec RestoreSpec) (UPID, error) {
	p := pveparams.List{{Key: "ostemplate", Value: spec.Archive}, {Key: "restore", Value: "1"}}
	if spec.Storage != "" {
		p.Add("storage", spec.Storage)
	}
	if spec.Force {
		p.Add("force", "1")
	}
	if spec.Unique {
		p.Add("unique", "1")
	}
	if spec.Start {
		p.Add("start", "1")
	}
	u, err := c.startTask(ctx, request{
		method: http.MethodPost, path: fmt.Sprintf("/nodes/%s/lxc", url.PathEscape(node)),
		body: createBody(vmid, append(p, spec.Params...), spec.Password), secrets: []string{spec.Password},
	})
	if err != nil {
		return UPID{}, fmt.Errorf("restore container %d on %s from %s: %w", vmid, node, spec.Archive, err)
	}
	return u, nil
}

// ContainerConfig reads the raw config.
func (c *APIClient) ContainerConfig(ctx context.Context, node string, vmid int, current bool) (ContainerConfig, error) {
	path := ctPath(node, vmid, "/config")
	if current {
		path += "?current=1"
	}
	var raw map[string]text
	if err := c.get(ctx, path, &raw); err != nil {
		return nil, fmt.Errorf("read config of container %d on %s: %w", vmid, node, err)
	}
	cfg := make(ContainerConfig, len(raw))
	for k, v := range raw {
		cfg[k] = string(v)
	}
	return cfg, nil
}

// UpdateContainerConfig changes the config. PUT config answers null (no
// task), which is why go-proxmox's Config returns a nil *Task.
func (c *APIClient) UpdateContainerConfig(ctx context.Context, node string, vmid int, update ConfigUpdate) error {
	p := make(map[string]any, len(update.Set)+2)
	var secrets []string
	for k, v := range update.Set {
		p[k] = v
		if k == "password" {
			secrets = append(secrets, v)
		}
	}
	if len(update.Delete) > 0 {
		p["delete"] = strings.Join(update.Delete, ",")
	}
	if update.Digest != "" {
		p["digest"] = update.Digest
	}
	err := c.do(ctx, request{method: http.MethodPut, path: ctPath(node, vmid, "/config"), body: p, secrets: secrets})
	if err != nil {
		return fmt.Errorf("update config of container %d on %s: %w", vmid, node, err)
	}
	return nil
}

// ContainerStatus reads status/current. go-proxmox's Container lacks lock,
// template, mem, disk and cpu, and fails on a string cpus.
func (c *APIClient) ContainerStatus(ctx context.Context, node string, vmid int) (ContainerStatus, error) {
	var raw struct {
		VMID     num    `json:"vmid"`
		Name     string `json:"name"`
		Status   string `json:"status"`
		Lock     string `json:"lock"`
		Template flag   `json:"template"`
		Tags     string `json:"tags"`
		Uptime   num    `json:"uptime"`
		CPU      num    `json:"cpu"`
		CPUs     num    `json:"cpus"`
		Mem      num    `json:"mem"`
		MaxMem   num    `json:"maxmem"`
		Swap     num    `json:"swap"`
		MaxSwap  num    `json:"maxswap"`
		Disk     num    `json:"disk"`
		MaxDisk  num    `json:"maxdisk"`
		NetIn    num    `json:"netin"`
		NetOut   num    `json:"netout"`
		PID      num    `json:"pid"`
	}
	if err := c.get(ctx, ctPath(node, vmid, "/status/current"), &raw); err != nil {
		return ContainerStatus{}, fmt.Errorf("read status of container %d on %s: %w", vmid, node, err)
	}
	return ContainerStatus{
		VMID: raw.VMID.int(), Name: raw.Name, Status: raw.Status, Lock: raw.Lock,
		Template: bool(raw.Template), Tags: splitList(raw.Tags), Uptime: raw.Uptime.int64(),
		CPU: float64(raw.CPU), CPUs: float64(raw.CPUs), Mem: raw.Mem.uint64(), MaxMem: raw.MaxMem.uint64(),
		Swap: raw.Swap.uint64(), MaxSwap: raw.MaxSwap.uint64(), Disk: raw.Disk.uint64(),
		MaxDisk: raw.MaxDisk.uint64(), NetIn: raw.NetIn.uint64(), NetOut: raw.NetOut.uint64(), PID: raw.PID.int(),
	}, nil
}

// Pending lists config changes waiting for a reboot.
func (c *APIClient) Pending(ctx context.Context, node string, vmid int) ([]PendingChange, error) {
	var raw []struct {
		Key     string `json:"key"`
		Value   text   `json:"value"`
		Pending text   `json:"pending"`
		Delete  flag   `json:"delete"`
	}
	if err := c.get(ctx, ctPath(node, vmid, "/pending"), &raw); err != nil {
		return nil, fmt.Errorf("read pending changes of container %d on %s: %w", vmid, node, err)
	}
	out := make([]PendingChange, 0, len(raw))
	for _, p := range raw {
		out = append(out, PendingChange{Key: p.Key, Value: string(p.Value), Pending: string(p.Pending), Delete: bool(p.Delete)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Interfaces lists the network interfaces of a running container; PVE
// answers null for a stopped one.
func (c *APIClient) Interfaces(ctx context.Context, node string, vmid int) ([]Interface, error) {
	var raw []struct {
		Name        string `json:"name"`
		HWAddr      string `json:"hwaddr"`
		Inet        string `json:"inet"`
		Inet6       string `json:"inet6"`
		IPAddresses []struct {
			Address string `json:"ip-address"`
			Type    string `json:"ip-address-type"`
			Prefix  num    `json:"prefix"`
		} `json:"ip-addresses"`
	}
	if err := c.get(ctx, ctPath(node, vmid, "/interfaces"), &raw); err != nil {
		return nil, fmt.Errorf("list interfaces of container %d on %s: %w", vmid, node, err)
	}
	if raw == nil {
		return nil, nil
	}
	out := make([]Interface, 0, len(raw))
	for _, r := range raw {
		ifc := Interface{Name: r.Name, HWAddr: r.HWAddr, Inet: r.Inet, Inet6: r.Inet6}
		for _, a := range r.IPAddresses {
			ifc.IPAddresses = append(ifc.IPAddresses, IPAddress{Address: a.Address, Type: a.Type, Prefix: a.Prefix.int()})
		}
		out = append(out, ifc)
	}
	return out, nil
}

// power starts a status/<action> task.
func (c *APIClient) power(ctx context.Context, node string, vmid int, action string, body map[string]any) (UPID, error) {
	u, err := c.startTask(ctx, request{method: http.MethodPost, path: ctPath(node, vmid, "/status/"+action), body: body})
	if err != nil {
		return UPID{}, fmt.Errorf("%s container %d on %s: %w", action, vmid, node, err)
	}
	return u, nil
}

// StartContainer starts a vzstart task.
func (c *APIClient) StartContainer(ctx context.Context, node string, vmid int) (UPID, error) {
	return c.power(ctx, node, vmid, "start", nil)
}

// StopContainer starts a vzstop task (hard stop).
func (c *APIClient) StopContainer(ctx context.Context, node string, vmid int) (UPID, error) {
	return c.power(ctx, node, vmid, "stop", nil)
}

// ShutdownContainer starts a vzshutdown task.
func (c *APIClient) ShutdownContainer(ctx context.Context, node string, vmid int, opts ShutdownOptions) (UPID, error) {
	body := map[string]any{}
	if opts.Timeout > 0 {
		body["timeout"] = opts.Timeout
	}
	if opts.Force {
		body["forceStop"] = 1
	}
	return c.power(ctx, node, vmid, "shutdown", body)
}

// RebootContainer starts a vzreboot task, which also applies pending changes.
func (c *APIClient) RebootContainer(ctx context.Context, node string, vmid int) (UPID, error) {
	return c.power(ctx, node, vmid, "reboot", nil)
}

// ResizeDisk starts a resize task.
func (c *APIClient) ResizeDisk(ctx context.Context, node string, vmid int, disk, size string) (UPID, error) {
	u, err := c.startTask(ctx, request{
		method: http.MethodPut, path: ctPath(node, vmid, "/resize"),
		body: map[string]any{"disk": disk, "size": size},
	})
	if err != nil {
		return UPID{}, fmt.Errorf("resize %s of container %d on %s to %s: %w", disk, vmid, node, size, err)
	}
	return u, nil
}

// DeleteContainer starts a vzdestroy task. Options go in the query string:
// PVE rejects a body on DELETE.
func (c *APIClient) DeleteContainer(ctx context.Context, node string, vmid int, opts DeleteOptions) (UPID, error) {
	q := url.Values{}
	for k, on := range map[string]bool{"force": opts.Force, "purge": opts.Purge, "destroy-unreferenced-disks": opts.DestroyUnreferencedDisks} {
		if on {
			q.Set(k, "1")
		}
	}
	path := ctPath(node, vmid, "")
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	u, err := c.startTask(ctx, request{method: http.MethodDelete, path: path})
	if err != nil {
		return UPID{}, fmt.Errorf("delete container %d on %s: %w", vmid, node, err)
	}
	return u, nil
}
