package pvesim

import (
	"github.com/pve-operator/pve-operator/internal/pvesim/pveschema"
)

// pathParamSpec is the schema of a path parameter of a method the schema
// file does not describe; the file's methods bring their own.
func pathParamSpec(name string) *pveschema.Prop {
	switch name {
	case "node":
		return pveschema.Formatted("pve-node").Required()
	case "vmid":
		return pveschema.Integer(100, 999999999).Required()
	case "storage":
		return pveschema.Formatted("pve-storage-id").Required()
	case "snapname":
		return pveschema.Formatted("pve-configid").WithMaxLength(40).Required()
	}
	return pveschema.String().Required()
}

// permission helpers: checked with the path parameters before the body is
// validated, like check_api2_permissions.

// pathPerm checks privs on the ACL path prefix plus the value of the path
// parameter param (none for "").
func pathPerm(prefix, param string, privs ...string) func(*Server, *request) *apiError {
	return func(s *Server, rq *request) *apiError {
		path := prefix
		if param != "" {
			path += rq.path[param]
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.checkPerm(rq.auth, path, privs...)
	}
}

func vmPerm(privs ...string) func(*Server, *request) *apiError {
	return pathPerm("/vms/", "vmid", privs...)
}

func nodePerm(privs ...string) func(*Server, *request) *apiError {
	return pathPerm("/nodes/", "node", privs...)
}

func storagePerm(privs ...string) func(*Server, *request) *apiError {
	return pathPerm("/storage/", "storage", privs...)
}

func rootPerm(privs ...string) func(*Server, *request) *apiError {
	return pathPerm("/", "", privs...)
}

// buildRouter registers every API method; the first route that matches a
// path wins, so the order of the groups is the order of matching.
func buildRouter() *router {
	rt := &router{}
	addClusterRoutes(rt)
	addStorageRoutes(rt)
	addLXCRoutes(rt)
	addLXCActionRoutes(rt)
	addSnapshotRoutes(rt)
	addTaskRoutes(rt)
	addDownloadRoutes(rt)
	addApplianceRoutes(rt)
	addOCIRoutes(rt)
	addMoveVolumeRoutes(rt)
	addPoolRoutes(rt)
	addHARoutes(rt)
	addNetworkRoutes(rt)
	addFirewallRoutes(rt)
	return rt
}

// addClusterRoutes: login, version, /cluster and /nodes.
func addClusterRoutes(rt *router) {
	rt.add("POST", "/access/ticket", nil, nil, func(s *Server, rq *request) (any, *apiError) { return s.login(rq.params) })
	rt.add("GET", "/access/ticket", nil, nil, func(*Server, *request) (any, *apiError) { return nil, nil })
	rt.add("GET", "/version", nil, nil, hVersion)

	rt.add("GET", "/cluster", nil, nil, hIndex("log", "options", "resources", "status", "tasks", "nextid"))
	rt.add("GET", "/cluster/status", nil, rootPerm("Sys.Audit"), hClusterStatus)
	rt.add("GET", "/cluster/resources", nil, nil, hClusterResources)
	rt.add("GET", "/cluster/nextid", nil, nil, hNextID)
	rt.add("GET", "/cluster/tasks", nil, nil, hClusterTasks)

	rt.add("GET", "/nodes", nil, nil, hNodes)
	// The subdirectories of PVE's node index that the simulator serves.
	rt.add("GET", "/nodes/{node}", nil, nil,
		hIndex("aplinfo", "lxc", "network", "qemu", "query-oci-repo-tags", "status", "storage", "tasks", "version", "vzdump"))
	rt.add("GET", "/nodes/{node}/status", nil, nodePerm("Sys.Audit"), hNodeStatus)
	rt.add("GET", "/nodes/{node}/version", nil, nil, hVersion)
}

func addStorageRoutes(rt *router) {
	rt.add("GET", "/nodes/{node}/storage", nil, nil, hStorageList)
	// The subdirectories of PVE's storage index that the simulator serves.
	rt.add("GET", "/nodes/{node}/storage/{storage}", nil, nil,
		hIndex("content", "download-url", "oci-registry-pull", "prunebackups", "rrd", "rrddata", "status", "upload"))
	rt.add("GET", "/nodes/{node}/storage/{storage}/status", nil, storagePerm("Datastore.Audit", "Datastore.AllocateSpace"), hStorageStatus)
	rt.add("GET", "/nodes/{node}/storage/{storage}/content", nil, storagePerm("Datastore.Audit", "Datastore.AllocateSpace"), hContentList)
	rt.add("GET", "/nodes/{node}/storage/{storage}/content/{volume...}", nil, nil, hContentGet)
	rt.add("PUT", "/nodes/{node}/storage/{storage}/content/{volume...}", nil, nil, hContentPut)
	rt.add("DELETE", "/nodes/{node}/storage/{storage}/content/{volume...}", nil, nil, hContentDelete)
	rt.add("POST", "/nodes/{node}/vzdump", nil, nil, hVzdump)
	rt.add("GET", "/nodes/{node}/vzdump/extractconfig", map[string]*pveschema.Prop{"volume": pveschema.String().Required()}, nil, hExtractConfig)
}

// addLXCRoutes: the container list, create, delete, config and power.
func addLXCRoutes(rt *router) {
	rt.add("GET", "/nodes/{node}/lxc", nil, nil, hLXCList)
	rt.add("POST", "/nodes/{node}/lxc", nil, nil, hLXCCreate)
	rt.add("GET", "/nodes/{node}/lxc/{vmid}", nil, vmPerm("VM.Audit"),
		hCTIndex("config", "status", "vncproxy", "termproxy", "vncwebsocket", "spiceproxy", "migrate", "clone", "rrd", "rrddata", "firewall", "snapshot", "resize", "interfaces", "pending", "feature", "template"))
	rt.add("DELETE", "/nodes/{node}/lxc/{vmid}", nil, vmPerm("VM.Allocate"), hLXCDelete)
	rt.add("GET", "/nodes/{node}/lxc/{vmid}/config", nil, vmPerm("VM.Audit"), hConfigGet)
	rt.add("PUT", "/nodes/{node}/lxc/{vmid}/config", nil,
		vmPerm("VM.Config.Disk", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network", "VM.Config.Options"), hConfigPut)
	rt.add("GET", "/nodes/{node}/lxc/{vmid}/pending", nil, vmPerm("VM.Audit"), hPending)
	rt.add("GET", "/nodes/{node}/lxc/{vmid}/status", nil, vmPerm("VM.Audit"),
		hCTIndex("current", "start", "stop", "shutdown", "reboot", "suspend", "resume"))
	rt.add("GET", "/nodes/{node}/lxc/{vmid}/status/current", nil, vmPerm("VM.Audit"), hStatusCurrent)
	rt.add("POST", "/nodes/{node}/lxc/{vmid}/status/start", nil, vmPerm("VM.PowerMgmt"), hStart)
	rt.add("POST", "/nodes/{node}/lxc/{vmid}/status/stop", nil, vmPerm("VM.PowerMgmt"), hStop)
	rt.add("POST", "/nodes/{node}/lxc/{vmid}/status/shutdown", nil, vmPerm("VM.PowerMgmt"), hShutdown)
	rt.add("POST", "/nodes/{node}/lxc/{vmid}/status/reboot", nil, vmPerm("VM.PowerMgmt"), hReboot)
	rt.add("POST", "/nodes/{node}/lxc/{vmid}/status/suspend", nil, vmPerm("VM.PowerMgmt"), hSuspend)
	rt.add("POST", "/nodes/{node}/lxc/{vmid}/status/resume", nil, vmPerm("VM.PowerMgmt"), hResume)
}

// addLXCActionRoutes: resize, template, clone, migrate, interfaces, feature.
func addLXCActionRoutes(rt *router) {
	rt.add("PUT", "/nodes/{node}/lxc/{vmid}/resize", nil, vmPerm("VM.Config.Disk"), hResize)
	rt.add("POST", "/nodes/{node}/lxc/{vmid}/template", nil, vmPerm("VM.Allocate"), hTemplate)
	rt.add("POST", "/nodes/{node}/lxc/{vmid}/clone", nil, vmPerm("VM.Clone"), hLXCClone)
	rt.add("GET", "/nodes/{node}/lxc/{vmid}/migrate", nil, vmPerm("VM.Migrate"), hLXCMigratePrecondition)
	rt.add("POST", "/nodes/{node}/lxc/{vmid}/migrate", nil, vmPerm("VM.Migrate"), hLXCMigrate)
	rt.add("GET", "/nodes/{node}/lxc/{vmid}/interfaces", nil, vmPerm("VM.Audit"), hInterfaces)
	rt.add("GET", "/nodes/{node}/lxc/{vmid}/feature", nil, vmPerm("VM.Audit"), hFeature)
}

func addSnapshotRoutes(rt *router) {
	rt.add("GET", "/nodes/{node}/lxc/{vmid}/snapshot", nil, vmPerm("VM.Audit"), hSnapshotList)
	rt.add("POST", "/nodes/{node}/lxc/{vmid}/snapshot", nil, vmPerm("VM.Snapshot"), hSnapshotCreate)
	// The per-snapshot index is open to every user (snapshot_cmd_idx's
	// permissions are user => 'all'): it lists the two subdirectories
	// without reading the container.
	rt.add("GET", "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}", nil, nil, hSnapshotIndex)
	rt.add("DELETE", "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}", nil, vmPerm("VM.Snapshot"), hSnapshotDelete)
	rt.add("POST", "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback", nil,
		vmPerm("VM.Snapshot", "VM.Snapshot.Rollback"), hSnapshotRollback)
	rt.add("GET", "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config", nil, vmPerm("VM.Snapshot"), hSnapshotConfigGet)
	rt.add("PUT", "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config", nil,
		vmPerm("VM.Snapshot"), hSnapshotConfigPut)
}

func addTaskRoutes(rt *router) {
	rt.add("GET", "/nodes/{node}/tasks", nil, nil, hNodeTasks)
	rt.add("GET", "/nodes/{node}/tasks/{upid}", nil, nil, hIndex("log", "status"))
	rt.add("GET", "/nodes/{node}/tasks/{upid}/status", nil, nil, hTaskStatus)
	rt.add("GET", "/nodes/{node}/tasks/{upid}/log", nil, nil, hTaskLog)
	rt.add("DELETE", "/nodes/{node}/tasks/{upid}", nil, nil, hTaskStop)
}
