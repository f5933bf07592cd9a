package pvesim

import (
	"errors"
	"fmt"
	"regexp"
)

var (
	reNodeName  = regexp.MustCompile(`^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9\-]*[a-zA-Z0-9])?)\.)*(?:[a-zA-Z0-9](?:[a-zA-Z0-9\-]*[a-zA-Z0-9])?)$`)
	reStorageID = regexp.MustCompile(`^(?i)[a-z][a-z0-9\-_.]*[a-z0-9]$`)
	reConfigID  = regexp.MustCompile(`^(?i)[a-z][a-z0-9_-]+$`)
	reStartup   = regexp.MustCompile(`^((order=)?\d+)?(,?(up|down)=\d+)*$`)
	reVMIDList  = regexp.MustCompile(`^\d+([,;\s]+\d+)*$`)
)

func validNodeName(v string) error {
	if !reNodeName.MatchString(v) {
		return errors.New("value does not look like a valid node name")
	}
	return nil
}

func validStorageID(v string) error {
	if !reStorageID.MatchString(v) {
		return fmt.Errorf("storage ID '%s' contains illegal characters", v)
	}
	return nil
}

func validConfigID(v string) error {
	if !reConfigID.MatchString(v) {
		return fmt.Errorf("invalid configuration ID '%s'", v)
	}
	return nil
}

func validDNSName(v string) error {
	if !reNodeName.MatchString(v) {
		return errors.New("value does not look like a valid DNS name")
	}
	return nil
}

func validNet(v string) error      { _, err := parseProp(v, netFormat); return err }
func validRootfs(v string) error   { _, err := parseProp(v, rootfsFormat); return err }
func validMP(v string) error       { _, err := parseProp(v, mpFormat); return err }
func validFeatures(v string) error { _, err := parseProp(v, featuresFormat); return err }

func validStartup(v string) error {
	if !reStartup.MatchString(v) {
		return errors.New("format error")
	}
	return nil
}

func validVMIDList(v string) error {
	if !reVMIDList.MatchString(v) {
		return errors.New("value does not look like a valid VM ID")
	}
	return nil
}

// pathParamSpec is the schema of a path parameter.
func pathParamSpec(name string) *pspec {
	switch name {
	case "node":
		return pFmt(validNodeName).req()
	case "vmid":
		return pInt(100, 999999999).req()
	case "storage":
		return pFmt(validStorageID).req()
	case "snapname":
		return pFmt(validConfigID).maxLength(40).req()
	}
	return pStr().req()
}

var lockValues = []string{"backup", "create", "destroyed", "disk", "fstrim", "migrate", "mounted", "rollback", "snapshot", "snapshot-delete"}

// ctOptionsSchema is the container option part of create and update.
func ctOptionsSchema() *schema {
	sc := newSchema(map[string]*pspec{
		"arch":         pEnum("amd64", "i386", "arm64", "armhf", "riscv32", "riscv64"),
		"cmode":        pEnum("shell", "console", "tty"),
		"console":      pBool(),
		"cores":        pInt(1, 8192),
		"cpulimit":     pNum(0, 8192),
		"cpuunits":     pInt(0, 500000),
		"debug":        pBool(),
		"description":  pStr().maxLength(8192),
		"features":     pFmt(validFeatures),
		"hookscript":   pStr(),
		"hostname":     pFmt(validDNSName).maxLength(255),
		"lock":         pEnum(lockValues...),
		"memory":       pIntMin(16),
		"nameserver":   pStr(),
		"onboot":       pBool(),
		"ostype":       pEnum("debian", "devuan", "ubuntu", "centos", "fedora", "opensuse", "archlinux", "alpine", "gentoo", "nixos", "unmanaged"),
		"protection":   pBool(),
		"rootfs":       pFmt(validRootfs),
		"searchdomain": pStr(),
		"startup":      pFmt(validStartup),
		"swap":         pIntMin(0),
		"tags":         pFmt(validateTags),
		"template":     pBool(),
		"timezone":     pStr(),
		"tty":          pInt(0, 6),
		"unprivileged": pBool(),
		"entrypoint":   pStr(),
		"env":          pStr(),
	})
	sc.indexed = []indexedSpec{
		{"net", 31, pFmt(validNet)},
		{"mp", 255, pFmt(validMP)},
		{"dev", 255, pStr()},
		{"unused", 255, pStr()},
	}
	return sc
}

func createSchema() *schema {
	return newSchema(map[string]*pspec{
		"vmid":                 pInt(100, 999999999).req(),
		"ostemplate":           pStr().maxLength(255).req(),
		"storage":              pFmt(validStorageID),
		"password":             {typ: "string", optional: true, minLen: 5},
		"ssh-public-keys":      pStr(),
		"pool":                 pStr(),
		"start":                pBool(),
		"force":                pBool(),
		"restore":              pBool(),
		"unique":               pBool(),
		"ignore-unpack-errors": pBool(),
		"bwlimit":              pNum(0, 1e12),
		"ha-managed":           pBool(),
	}, ctOptionsSchema())
}

func updateSchema() *schema {
	return newSchema(map[string]*pspec{
		"delete": pStr(),
		"revert": pStr(),
		"digest": pStr().maxLength(64),
	}, ctOptionsSchema())
}

func vzdumpSchema() *schema {
	return newSchema(map[string]*pspec{
		"vmid": pFmt(validVMIDList), "storage": pFmt(validStorageID), "mode": pEnum("snapshot", "suspend", "stop"),
		"compress": pEnum("0", "1", "gzip", "lzo", "zstd"), "notes-template": pStr().maxLength(1024),
		"protected": pBool(), "remove": pBool(), "prune-backups": pStr(), "lockwait": pIntMin(0),
		"stopwait": pIntMin(0), "bwlimit": pIntMin(0), "ionice": pInt(0, 8), "zstd": pIntMin(0),
		"pigz": pIntMin(0), "all": pBool(), "exclude": pStr(), "pool": pStr(), "mailto": pStr(),
		"mailnotification": pEnum("always", "failure"), "quiet": pBool(), "stdexcludes": pBool(),
		"stdout": pBool(), "stop": pBool(), "script": pStr(), "tmpdir": pStr(), "dumpdir": pStr(),
		"exclude-path": pStr(), "performance": pStr(), "notification-mode": pEnum("auto", "legacy-sendmail", "notification-system"),
		"notification-policy": pEnum("always", "failure", "never"), "notification-target": pStr(),
		"fleecing": pStr(), "maxfiles": pIntMin(1), "pbs-change-detection-mode": pEnum("legacy", "data", "metadata"),
		"job-id": pStr(), "node": pFmt(validNodeName),
	})
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
	return rt
}

// addClusterRoutes: login, version, pools, /cluster and /nodes.
func addClusterRoutes(rt *router) {
	rt.add("POST", "/access/ticket", newSchema(map[string]*pspec{
		"username": pStr().maxLength(64).req(), "password": pStr().req(), "realm": pStr(), "otp": pStr(),
		"path": pStr(), "privs": pStr(), "new-format": pBool(), "tfa-challenge": pStr(),
	}), nil, func(s *Server, rq *request) (any, *apiError) { return s.login(rq.params) })
	rt.add("GET", "/access/ticket", nil, nil, func(*Server, *request) (any, *apiError) { return nil, nil })
	rt.add("GET", "/version", nil, nil, hVersion)
	rt.add("GET", "/pools", newSchema(map[string]*pspec{"type": pEnum("qemu", "lxc", "storage"), "poolid": pStr()}), nil, hPools)

	rt.add("GET", "/cluster", nil, nil, hIndex("log", "options", "resources", "status", "tasks", "nextid"))
	rt.add("GET", "/cluster/status", nil, rootPerm("Sys.Audit"), hClusterStatus)
	rt.add("GET", "/cluster/resources", newSchema(map[string]*pspec{"type": pEnum("vm", "storage", "node", "sdn")}), nil, hClusterResources)
	rt.add("GET", "/cluster/nextid", newSchema(map[string]*pspec{"vmid": pInt(100, 999999999)}), nil, hNextID)
	rt.add("GET", "/cluster/tasks", nil, nil, hClusterTasks)

	rt.add("GET", "/nodes", nil, nil, hNodes)
	rt.add("GET", "/nodes/{node}", nil, nil, hIndex("lxc", "qemu", "status", "storage", "tasks", "version", "vzdump"))
	rt.add("GET", "/nodes/{node}/status", nil, nodePerm("Sys.Audit"), hNodeStatus)
	rt.add("GET", "/nodes/{node}/version", nil, nil, hVersion)
}

func addStorageRoutes(rt *router) {
	rt.add("GET", "/nodes/{node}/storage", newSchema(map[string]*pspec{
		"content": pStr(), "enabled": pBool(), "format": pBool(), "storage": pFmt(validStorageID), "target": pFmt(validNodeName),
	}), nil, hStorageList)
	rt.add("GET", "/nodes/{node}/storage/{storage}", nil, nil, hIndex("content", "download-url", "prunebackups", "rrd", "rrddata", "status", "upload"))
	rt.add("GET", "/nodes/{node}/storage/{storage}/status", nil, storagePerm("Datastore.Audit", "Datastore.AllocateSpace"), hStorageStatus)
	rt.add("GET", "/nodes/{node}/storage/{storage}/content", newSchema(map[string]*pspec{
		"content": pEnum("backup", "vztmpl", "rootdir", "images", "iso", "snippets", "import"), "vmid": pInt(100, 999999999),
	}), storagePerm("Datastore.Audit", "Datastore.AllocateSpace"), hContentList)
	rt.add("GET", "/nodes/{node}/storage/{storage}/content/{volume...}", nil, nil, hContentGet)
	rt.add("PUT", "/nodes/{node}/storage/{storage}/content/{volume...}", newSchema(map[string]*pspec{
		"notes": pStr(), "protected": pBool(),
	}), nil, hContentPut)
	rt.add("DELETE", "/nodes/{node}/storage/{storage}/content/{volume...}", newSchema(map[string]*pspec{
		"delay": pInt(1, 30),
	}), nil, hContentDelete)
	rt.add("POST", "/nodes/{node}/vzdump", vzdumpSchema(), nil, hVzdump)
	rt.add("GET", "/nodes/{node}/vzdump/extractconfig", newSchema(map[string]*pspec{"volume": pStr().req()}), nil, hExtractConfig)
}

// addLXCRoutes: the container list, create, delete, config and power.
func addLXCRoutes(rt *router) {
	rt.add("GET", "/nodes/{node}/lxc", nil, nil, hLXCList)
	rt.add("POST", "/nodes/{node}/lxc", createSchema(), nil, hLXCCreate)
	rt.add("GET", "/nodes/{node}/lxc/{vmid}", nil, vmPerm("VM.Audit"),
		hCTIndex("config", "status", "vncproxy", "termproxy", "vncwebsocket", "spiceproxy", "migrate", "clone", "rrd", "rrddata", "firewall", "snapshot", "resize", "interfaces", "pending", "feature", "template"))
	rt.add("DELETE", "/nodes/{node}/lxc/{vmid}", newSchema(map[string]*pspec{
		"force": pBool(), "purge": pBool(), "destroy-unreferenced-disks": pBool(),
	}), vmPerm("VM.Allocate"), hLXCDelete)
	rt.add("GET", "/nodes/{node}/lxc/{vmid}/config", newSchema(map[string]*pspec{
		"current": pBool(), "snapshot": pFmt(validConfigID).maxLength(40),
	}), vmPerm("VM.Audit"), hConfigGet)
	rt.add("PUT", "/nodes/{node}/lxc/{vmid}/config", updateSchema(),
		vmPerm("VM.Config.Disk", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network", "VM.Config.Options"), hConfigPut)
	rt.add("GET", "/nodes/{node}/lxc/{vmid}/pending", nil, vmPerm("VM.Audit"), hPending)
	rt.add("GET", "/nodes/{node}/lxc/{vmid}/status", nil, vmPerm("VM.Audit"),
		hCTIndex("current", "start", "stop", "shutdown", "reboot", "suspend", "resume"))
	rt.add("GET", "/nodes/{node}/lxc/{vmid}/status/current", nil, vmPerm("VM.Audit"), hStatusCurrent)
	rt.add("POST", "/nodes/{node}/lxc/{vmid}/status/start", newSchema(map[string]*pspec{"skiplock": pBool(), "debug": pBool()}), vmPerm("VM.PowerMgmt"), hStart)
	rt.add("POST", "/nodes/{node}/lxc/{vmid}/status/stop", newSchema(map[string]*pspec{"skiplock": pBool(), "overrule-shutdown": pBool()}), vmPerm("VM.PowerMgmt"), hStop)
	rt.add("POST", "/nodes/{node}/lxc/{vmid}/status/shutdown", newSchema(map[string]*pspec{"timeout": pIntMin(0), "forceStop": pBool()}), vmPerm("VM.PowerMgmt"), hShutdown)
	rt.add("POST", "/nodes/{node}/lxc/{vmid}/status/reboot", newSchema(map[string]*pspec{"timeout": pIntMin(0)}), vmPerm("VM.PowerMgmt"), hReboot)
	rt.add("POST", "/nodes/{node}/lxc/{vmid}/status/suspend", nil, vmPerm("VM.PowerMgmt"), hSuspend)
	rt.add("POST", "/nodes/{node}/lxc/{vmid}/status/resume", nil, vmPerm("VM.PowerMgmt"), hResume)
}

// addLXCActionRoutes: resize, template, clone, migrate, interfaces, feature.
func addLXCActionRoutes(rt *router) {
	rt.add("PUT", "/nodes/{node}/lxc/{vmid}/resize", newSchema(map[string]*pspec{
		"disk":   {typ: "string", pattern: regexp.MustCompile(`^(rootfs|mp([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5]))$`)},
		"size":   {typ: "string", pattern: reResize},
		"digest": pStr().maxLength(64),
	}), vmPerm("VM.Config.Disk"), hResize)
	rt.add("POST", "/nodes/{node}/lxc/{vmid}/template", nil, vmPerm("VM.Allocate"), hTemplate)
	rt.add("POST", "/nodes/{node}/lxc/{vmid}/clone", newSchema(map[string]*pspec{
		"newid": pInt(100, 999999999).req(), "hostname": pFmt(validDNSName), "description": pStr(),
		"pool": pStr(), "snapname": pFmt(validConfigID), "storage": pFmt(validStorageID), "full": pBool(),
		"target": pFmt(validNodeName), "bwlimit": pNum(0, 1e12),
	}), vmPerm("VM.Clone"), hLXCClone)
	rt.add("POST", "/nodes/{node}/lxc/{vmid}/migrate", newSchema(map[string]*pspec{
		"target": pFmt(validNodeName).req(), "restart": pBool(), "online": pBool(), "timeout": pIntMin(0),
		"target-storage": pStr(), "bwlimit": pNum(0, 1e12),
	}), vmPerm("VM.Migrate"), hLXCMigrate)
	rt.add("GET", "/nodes/{node}/lxc/{vmid}/interfaces", nil, vmPerm("VM.Audit"), hInterfaces)
	rt.add("GET", "/nodes/{node}/lxc/{vmid}/feature", newSchema(map[string]*pspec{
		"feature": pEnum("snapshot", "clone", "copy").req(), "snapname": pFmt(validConfigID),
	}), vmPerm("VM.Audit"), hFeature)
}

func addSnapshotRoutes(rt *router) {
	rt.add("GET", "/nodes/{node}/lxc/{vmid}/snapshot", nil, vmPerm("VM.Audit"), hSnapshotList)
	rt.add("POST", "/nodes/{node}/lxc/{vmid}/snapshot", newSchema(map[string]*pspec{
		"snapname": pFmt(validConfigID).maxLength(40).req(), "description": pStr(),
	}), vmPerm("VM.Snapshot"), hSnapshotCreate)
	rt.add("GET", "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}", nil, vmPerm("VM.Audit"), hSnapshotIndex)
	rt.add("DELETE", "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}", newSchema(map[string]*pspec{"force": pBool()}), vmPerm("VM.Snapshot"), hSnapshotDelete)
	rt.add("POST", "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback", newSchema(map[string]*pspec{"start": pBool()}),
		vmPerm("VM.Snapshot", "VM.Snapshot.Rollback"), hSnapshotRollback)
	rt.add("GET", "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config", nil, vmPerm("VM.Snapshot"), hSnapshotConfigGet)
	rt.add("PUT", "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config", newSchema(map[string]*pspec{"description": pStr()}),
		vmPerm("VM.Snapshot"), hSnapshotConfigPut)
}

func addTaskRoutes(rt *router) {
	rt.add("GET", "/nodes/{node}/tasks", newSchema(map[string]*pspec{
		"start": pIntMin(0), "limit": pIntMin(0), "errors": pBool(), "since": pIntMin(0), "until": pIntMin(0),
		"typefilter": pStr(), "userfilter": pStr(), "vmid": pInt(100, 999999999), "source": pEnum("archive", "active", "all"),
		"statusfilter": pStr(),
	}), nil, hNodeTasks)
	rt.add("GET", "/nodes/{node}/tasks/{upid}", nil, nil, hIndex("log", "status"))
	rt.add("GET", "/nodes/{node}/tasks/{upid}/status", nil, nil, hTaskStatus)
	rt.add("GET", "/nodes/{node}/tasks/{upid}/log", newSchema(map[string]*pspec{
		"start": pIntMin(0), "limit": pIntMin(0), "download": pBool(),
	}), nil, hTaskLog)
	rt.add("DELETE", "/nodes/{node}/tasks/{upid}", nil, nil, hTaskStop)
}
