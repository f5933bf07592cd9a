package pvesim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

func (s *Server) storageStatus(def *storageDef, st *storeInst, online bool) map[string]any {
	m := map[string]any{
		"storage": def.spec.ID, "type": def.spec.Type, "content": def.contentString(),
		"enabled": b01(!def.spec.Disabled), "active": b01(!def.spec.Disabled && online),
		"shared": b01(def.spec.Shared),
	}
	if !def.spec.Disabled && st != nil {
		used := st.used()
		m["total"] = def.spec.Total
		m["used"] = used
		m["avail"] = st.avail()
		m["used_fraction"] = float64(used) / float64(def.spec.Total)
	}
	return m
}

func hStorageList(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	node := rq.node()
	var wantContent []string
	if c := rq.params["content"]; c != "" {
		wantContent = splitList(c)
	}
	out := []map[string]any{}
	for _, def := range s.storages {
		id := def.spec.ID
		if !def.availableOn(node) {
			continue
		}
		if f := rq.params["storage"]; f != "" && f != id {
			continue
		}
		if boolParam(rq.params, "enabled") && def.spec.Disabled {
			continue
		}
		if len(wantContent) > 0 {
			ok := false
			for _, c := range wantContent {
				ok = ok || def.content[c]
			}
			if !ok {
				continue
			}
		}
		if !s.hasPriv(rq.auth, "/storage/"+id, "Datastore.Audit") && !s.hasPriv(rq.auth, "/storage/"+id, "Datastore.AllocateSpace") {
			continue
		}
		out = append(out, s.storageStatus(def, s.storeFor(id, node), true))
	}
	return out, nil
}

// storageOn resolves {storage} on {node}.
func (s *Server) storageOn(rq *request) (*storageDef, *storeInst, *apiError) {
	id := rq.params["storage"]
	def := s.storageByID[id]
	if def == nil {
		return nil, nil, errf("storage '%s' does not exist", id)
	}
	st := s.storeFor(id, rq.node())
	if st == nil {
		return nil, nil, errf("storage '%s' is not available on node '%s'", id, rq.node())
	}
	return def, st, nil
}

func hStorageStatus(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	def := s.storageByID[rq.params["storage"]]
	if def == nil || !def.availableOn(rq.node()) {
		return nil, paramErr1("storage", "No such storage.")
	}
	return s.storageStatus(def, s.storeFor(def.spec.ID, rq.node()), true), nil
}

// contentItem renders a volume like pve-storage's volume_list: notes are
// reduced to their first line, protected appears only when set.
func contentItem(v *volume) map[string]any {
	m := map[string]any{"volid": v.volid, "content": v.content, "format": v.format, "size": v.size}
	if v.ctime > 0 {
		m["ctime"] = v.ctime
	}
	if v.vmid > 0 {
		m["vmid"] = v.vmid
	}
	if v.content == "rootdir" || v.content == "images" {
		m["used"] = v.size / 4
	}
	if v.subtype != "" {
		m["subtype"] = v.subtype
	}
	if v.notes != "" {
		first, _, _ := strings.Cut(v.notes, "\n")
		m["notes"] = first
	}
	if v.protected {
		m["protected"] = 1
	}
	return m
}

func hContentList(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	def, st, e := s.storageOn(rq)
	if e != nil {
		return nil, e
	}
	_ = def
	content := rq.params["content"]
	vmid := intParam(rq.params, "vmid", 0)
	out := []map[string]any{}
	for _, v := range st.vols {
		if content != "" && v.content != content {
			continue
		}
		if vmid > 0 && v.vmid != vmid {
			continue
		}
		if v.vmid > 0 && !s.hasPriv(rq.auth, "/vms/"+strconv.Itoa(v.vmid), "VM.Audit") &&
			!s.hasPriv(rq.auth, "/storage/"+st.def.spec.ID, "Datastore.Allocate") {
			continue
		}
		out = append(out, contentItem(v))
	}
	return out, nil
}

// realVolumeID accepts both "local:backup/x" and "backup/x" (the storage
// prefix is added); the path was already URI-unescaped, so %2F works too.
func realVolumeID(storage, volume string) (string, *apiError) {
	if strings.Contains(volume, ":") {
		sid, _, ok := parseVolid(volume)
		if !ok {
			return "", paramErr1("volume", fmt.Sprintf("unable to parse volume ID '%s'\n", volume))
		}
		if sid != storage {
			return "", paramErr1("volume", fmt.Sprintf("storage ID mismatch (%s != %s)\n", sid, storage))
		}
		return volume, nil
	}
	return storage + ":" + volume, nil
}

func (s *Server) volumePath(st *storeInst, v *volume) string {
	name := v.volName()
	base := st.def.spec.Path
	switch {
	case strings.HasPrefix(name, "backup/"):
		return base + "/dump/" + strings.TrimPrefix(name, "backup/")
	case strings.HasPrefix(name, "vztmpl/"):
		return base + "/template/cache/" + strings.TrimPrefix(name, "vztmpl/")
	case strings.HasPrefix(name, "iso/"):
		return base + "/template/iso/" + strings.TrimPrefix(name, "iso/")
	case st.def.spec.Type == "dir":
		return base + "/images/" + name
	}
	return "/dev/pve/" + name
}

func (s *Server) lookupVolume(rq *request) (*storeInst, *volume, string, *apiError) {
	_, st, e := s.storageOn(rq)
	if e != nil {
		return nil, nil, "", e
	}
	volid, e := realVolumeID(st.def.spec.ID, rq.params["volume"])
	if e != nil {
		return nil, nil, "", e
	}
	return st, st.byID[volid], volid, nil
}

// checkVolumeDelete is the delete handler's check: a guest's backup needs
// Datastore.AllocateSpace and VM.Backup, anything else Datastore.Allocate.
func (s *Server) checkVolumeDelete(p *principal, st *storeInst, volid string) *apiError {
	spath := "/storage/" + st.def.spec.ID
	if m := reBackupName.FindStringSubmatch(volid); m != nil {
		if e := s.checkPerm(p, spath, "Datastore.AllocateSpace"); e != nil {
			return e
		}
		return s.checkPerm(p, "/vms/"+m[2], "VM.Backup")
	}
	return s.checkPerm(p, spath, "Datastore.Allocate")
}

// checkVolumeAccess approximates check_volume_access (read access): the
// storage's audit privileges, or VM.Backup on a backup's guest.
func (s *Server) checkVolumeAccess(p *principal, st *storeInst, volid string) *apiError {
	spath := "/storage/" + st.def.spec.ID
	if s.hasPriv(p, spath, "Datastore.Audit") || s.hasPriv(p, spath, "Datastore.AllocateSpace") {
		return nil
	}
	if m := reBackupName.FindStringSubmatch(volid); m != nil && s.hasPriv(p, "/vms/"+m[2], "VM.Backup") {
		return nil
	}
	return permErr(spath + ", Datastore.Audit|Datastore.AllocateSpace")
}

// onVolume runs f under s.mu with the volume {volume} names on {storage},
// once the caller's read access is checked; a volume that does not exist
// fails like volume_size_info.
func (s *Server) onVolume(rq *request, f func(st *storeInst, v *volume) (any, *apiError)) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, v, volid, e := s.lookupVolume(rq)
	if e != nil {
		return nil, e
	}
	if e := s.checkVolumeAccess(rq.auth, st, volid); e != nil {
		return nil, e
	}
	if v == nil {
		return nil, errf("volume_size_info on '%s' failed - no format", volid)
	}
	return f(st, v)
}

func hContentGet(s *Server, rq *request) (any, *apiError) {
	return s.onVolume(rq, func(st *storeInst, v *volume) (any, *apiError) {
		m := map[string]any{"path": s.volumePath(st, v), "size": v.size, "used": v.size, "format": v.format}
		if v.content == "backup" {
			// get_volume_attribute: notes only when a notes file exists,
			// protected always for backups.
			if v.notes != "" {
				m["notes"] = v.notes
			}
			m["protected"] = b01(v.protected)
		}
		return m, nil
	})
}

func hContentPut(s *Server, rq *request) (any, *apiError) {
	return s.onVolume(rq, func(st *storeInst, v *volume) (any, *apiError) {
		if notes, ok := rq.params["notes"]; ok {
			if v.content != "backup" {
				return nil, errf("notes are not supported for '%s'", v.volid)
			}
			v.notes = notes
		}
		if prot, ok := rq.params["protected"]; ok {
			if v.content != "backup" {
				return nil, errf("protection is not supported for '%s'", v.volid)
			}
			if prot == "1" && !v.protected {
				if max := st.def.spec.MaxProtectedBackups; max > 0 && countProtected(st, v.vmid) >= max {
					return nil, errf("The number of protected backups per guest is limited to %d on storage '%s'", max, st.def.spec.ID)
				}
			}
			v.protected = prot == "1"
		}
		return nil, nil
	})
}

func countProtected(st *storeInst, vmid int) int {
	n := 0
	for _, v := range st.vols {
		if v.content == "backup" && v.vmid == vmid && v.protected {
			n++
		}
	}
	return n
}

// hContentDelete forks an imgdel task (id "<vmid>@<storage>"). With delay,
// it waits that many seconds and reports the outcome synchronously.
func hContentDelete(s *Server, rq *request) (any, *apiError) {
	t, e := s.forkImgdel(rq)
	if e != nil {
		return nil, e
	}
	delay := intParam(rq.params, "delay", 0)
	if delay <= 0 {
		return t.upid, nil
	}
	select {
	case <-t.done:
	case <-time.After(time.Duration(delay) * s.opts.TimeoutUnit):
		return t.upid, nil
	case <-rq.r.Context().Done():
		return t.upid, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.exitstatus == "OK" || strings.HasPrefix(t.exitstatus, "WARNINGS") {
		return nil, nil
	}
	return nil, errf("%s", t.exitstatus)
}

// forkImgdel checks the delete and starts the imgdel worker.
func (s *Server) forkImgdel(rq *request) (*task, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, v, volid, e := s.lookupVolume(rq)
	if e != nil {
		return nil, e
	}
	if e := s.checkVolumeDelete(rq.auth, st, volid); e != nil {
		return nil, e
	}
	id := st.def.spec.ID
	if v != nil && v.vmid > 0 {
		id = fmt.Sprintf("%d@%s", v.vmid, id)
	} else if v == nil {
		if m := reBackupName.FindStringSubmatch(volid); m != nil {
			id = m[2] + "@" + id
		}
	}
	path := ""
	if v != nil {
		path = s.volumePath(st, v)
	}
	t := s.newTask(rq.node(), TaskImgDel, id, rq.authID())
	s.runTask(t, func(tr *taskRun) error {
		if err := tr.work(); err != nil {
			return err
		}
		var err error
		tr.locked(func() { err = s.removeVolume(tr, st, volid, path) })
		if err != nil {
			return err
		}
		tr.log("Removed volume '%s'", volid)
		return nil
	})
	return t, nil
}

// removeVolume is the imgdel worker's commit: a missing file, a protected
// backup and a disk the CT still uses fail it; a ghost task removes
// nothing. path is where the volume was when the call came. The caller
// holds s.mu.
func (s *Server) removeVolume(tr *taskRun, st *storeInst, volid, path string) error {
	cur := st.byID[volid]
	switch {
	case cur == nil:
		if path == "" {
			path = st.def.spec.Path + "/" + volid
		}
		return fmt.Errorf("unlink '%s' failed - No such file or directory", path)
	case cur.protected:
		return fmt.Errorf("cannot remove protected volume '%s' on '%s'", cur.volName(), st.def.spec.ID)
	case tr.ghost:
		return nil
	}
	if ct := s.cts[cur.vmid]; ct != nil && cur.content != "backup" && volumeReferenced(ct, volid) {
		return fmt.Errorf("unable to delete '%s' - volume is in use by CT %d", volid, cur.vmid)
	}
	st.remove(volid)
	return nil
}

func volumeReferenced(ct *container, volid string) bool {
	for _, c := range append([]ctConf{ct.conf, ct.pending}, snapConfs(ct)...) {
		for k, v := range c {
			if k == "rootfs" || strings.HasPrefix(k, "mp") {
				if diskVolid(v) == volid {
					return true
				}
			}
		}
	}
	return false
}

func snapConfs(ct *container) []ctConf {
	out := make([]ctConf, 0, len(ct.snaps))
	for _, sn := range ct.snaps {
		out = append(out, sn.conf)
	}
	return out
}

// hExtractConfig returns the config stored in a backup archive as text.
func hExtractConfig(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	volid := rq.params["volume"]
	sid, _, ok := parseVolid(volid)
	if !ok {
		return nil, errf("unable to parse volume ID '%s'", volid)
	}
	st := s.storeFor(sid, rq.node())
	if st == nil {
		return nil, errf("storage '%s' does not exist", sid)
	}
	v := st.byID[volid]
	if v == nil || v.content != "backup" {
		return nil, errf("volume '%s' does not exist", volid)
	}
	if e := s.checkPerm(rq.auth, "/vms/"+strconv.Itoa(v.vmid), "VM.Backup"); e != nil {
		return nil, e
	}
	var b strings.Builder
	v.backupConf.writeSection(&b)
	return b.String(), nil
}
