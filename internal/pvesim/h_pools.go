package pvesim

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/pve-operator/pve-operator/internal/pvesim/pveschema"
)

// Pools as pve-manager's PVE::API2::Pool keeps them in user.cfg: s.pools
// says which pools exist, s.poolMembers is user.cfg's guest-to-pool map
// ($usercfg->{vms}), so a guest is in at most one pool, and poolConfs holds
// the rest of a pool's line (comment, storage members). Every method is in
// the schema file, which supplies the parameters.

// poolConf is the comment and storage list of one pool.
type poolConf struct {
	comment string
	storage map[string]bool
}

// poolConf returns the pool's comment and storage, created on first use.
// The caller holds s.mu.
func (s *Server) poolConf(pool string) *poolConf {
	pc := s.poolConfs[pool]
	if pc == nil {
		pc = &poolConf{storage: map[string]bool{}}
		s.poolConfs[pool] = pc
	}
	return pc
}

// addPoolRoutes: /pools and the deprecated /pools/{poolid} forms.
func addPoolRoutes(rt *router) {
	poolPerm := func(privs ...string) func(*Server, *request) *apiError { return pathPerm("/pool/", "poolid", privs...) }
	rt.add("GET", "/pools", nil, nil, hPools)
	rt.add("POST", "/pools", nil, nil, poolWrite(hPoolCreate))
	rt.add("PUT", "/pools", nil, nil, poolWrite(hPoolUpdate))
	rt.add("DELETE", "/pools", nil, nil, poolWrite(hPoolDelete))
	rt.add("GET", "/pools/{poolid}", nil, poolPerm("Pool.Audit"), hPoolRead)
	rt.add("PUT", "/pools/{poolid}", nil, poolPerm("Pool.Allocate"), poolWrite(hPoolUpdate))
	rt.add("DELETE", "/pools/{poolid}", nil, poolPerm("Pool.Allocate"), poolWrite(hPoolDelete))
}

// poolWrite runs a method that changes one pool under s.mu, after the
// Pool.Allocate check on /pool/{poolid} of the forms that take poolid from
// the body or query (POST, PUT and DELETE /pools). The route's permission
// step sees only path parameters, so those forms are checked here, after
// validation rather than before it as PVE does.
func poolWrite(h func(s *Server, rq *request, pool string) (any, *apiError)) handlerFunc {
	return func(s *Server, rq *request) (any, *apiError) {
		pool := rq.params["poolid"]
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, inPath := rq.path["poolid"]; !inPath {
			if e := s.checkPerm(rq.auth, "/pool/"+pool, "Pool.Allocate"); e != nil {
				return nil, e
			}
		}
		return h(s, rq, pool)
	}
}

// hPools is GET /pools: every pool the caller may audit, or one pool with
// its members. PVE makes the one-pool form's Pool.Audit check with noerr
// and ignores the result, so that form answers without the privilege.
func hPools(s *Server, rq *request) (any, *apiError) {
	pool := rq.params["poolid"]
	s.mu.Lock()
	defer s.mu.Unlock()
	if pool != "" {
		info, e := s.poolInfo(pool, rq.params["type"])
		if e != nil {
			return nil, e
		}
		return []map[string]any{info}, nil
	}
	out := []map[string]any{}
	for _, p := range sortedKeys(s.pools) {
		if !s.hasPriv(rq.auth, "/pool/"+p, "Pool.Audit") {
			continue
		}
		e := map[string]any{"poolid": p}
		if pc := s.poolConfs[p]; pc != nil && pc.comment != "" {
			e["comment"] = pc.comment
		}
		out = append(out, e)
	}
	return out, nil
}

// hPoolRead is the deprecated GET /pools/{poolid}: the one-pool form's
// entry itself, poolid included.
func hPoolRead(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.poolInfo(rq.params["poolid"], rq.params["type"])
}

// poolInfo is a pool with its members: guests as /cluster/resources shows
// them (destroyed ones skipped), then configured storages. The caller
// holds s.mu.
func (s *Server) poolInfo(pool, typ string) (map[string]any, *apiError) {
	if !s.pools[pool] {
		return nil, errf("pool '%s' does not exist", pool)
	}
	members := []any{}
	guests := s.guestEntries()
	for _, vmid := range s.poolGuests(pool) {
		g, ok := guests[vmid]
		if ok && (typ == "" || typ == g.typ) {
			members = append(members, g.entry)
		}
	}
	pc := s.poolConfs[pool]
	if pc != nil && (typ == "" || typ == "storage") {
		members = append(members, s.poolStorageEntries(pc)...)
	}
	info := map[string]any{"poolid": pool, "members": members}
	if pc != nil && pc.comment != "" {
		info["comment"] = pc.comment
	}
	return info, nil
}

type guestEntry struct {
	typ   string
	entry any
}

// everyone holds every privilege: pool members are listed to whoever may
// read the pool, whatever they may see of the guests themselves.
var everyone = &principal{denied: map[string]map[string]bool{}}

// guestEntries are the /cluster/resources guest entries by VMID.
func (s *Server) guestEntries() map[int]guestEntry {
	out := map[int]guestEntry{}
	for _, e := range s.guestResources(everyone, s.now()) {
		switch g := e.(type) {
		case guestResource:
			out[g.VMID] = guestEntry{g.Type, g}
		case unknownGuest:
			out[g.VMID] = guestEntry{g.Type, g}
		}
	}
	return out
}

// poolGuests are the pool's VMIDs in Perl's string order (sort keys).
func (s *Server) poolGuests(pool string) []int {
	var ids []string
	for vmid, p := range s.poolMembers {
		if p == pool {
			ids = append(ids, strconv.Itoa(vmid))
		}
	}
	sort.Strings(ids)
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i], _ = strconv.Atoi(id)
	}
	return out
}

// poolStorageEntries are the storage members as /cluster/resources entries
// of one node: the local node (the first) if the storage is there, else
// the first of the storage's nodes. Storages no longer configured are
// skipped.
func (s *Server) poolStorageEntries(pc *poolConf) []any {
	byID := map[string]any{}
	for _, e := range s.storageResources(everyone) {
		if m, ok := e.(map[string]any); ok {
			byID[fmt.Sprint(m["id"])] = m
		}
	}
	var out []any
	for _, id := range sortedKeys(pc.storage) {
		def := s.storageByID[id]
		if def == nil {
			continue
		}
		node := s.nodeOrder[0]
		if !def.availableOn(node) {
			nodes := append([]string(nil), def.spec.Nodes...)
			sort.Strings(nodes)
			node = nodes[0]
		}
		if e, ok := byID["storage/"+node+"/"+id]; ok {
			out = append(out, e)
		}
	}
	return out
}

// hPoolCreate is create_pool. Its errors carry lock_user_config's
// "create pool failed: " prefix. The caller holds s.mu.
func hPoolCreate(s *Server, rq *request, pool string) (any, *apiError) {
	fail := func(format string, args ...any) (any, *apiError) {
		return nil, errf("create pool failed: "+format, args...)
	}
	if s.pools[pool] {
		return fail("pool '%s' already exists", pool)
	}
	leaf := pool
	if parent, last, nested := cutLast(pool, "/"); nested {
		if !s.pools[parent] {
			return fail("parent '%s' of pool '%s' does not exist", parent, pool)
		}
		leaf = last
	}
	if leaf == "" || !isLetter(leaf[0]) {
		return fail("pool name must start with a letter")
	}
	s.pools[pool] = true
	s.poolConfs[pool] = &poolConf{comment: rq.params["comment"], storage: map[string]bool{}}
	return nil, nil
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// poolEdit is one update_pool call applied to copies of the pool state:
// PVE writes user.cfg only after the whole loop, so a refused item changes
// nothing.
type poolEdit struct {
	s       *Server
	rq      *request
	pool    string
	members map[int]string
	storage map[string]bool
}

// hPoolUpdate is update_pool. A check failing inside lock_user_config, the
// permission checks on the members included, is a plain 500 with the
// "update pools failed: " prefix and the 403 exception's code in its text.
// The caller holds s.mu.
func hPoolUpdate(s *Server, rq *request, pool string) (any, *apiError) {
	if !s.pools[pool] {
		return nil, errf("update pools failed: pool '%s' does not exist", pool)
	}
	pe := &poolEdit{s: s, rq: rq, pool: pool, members: map[int]string{}, storage: map[string]bool{}}
	for k, v := range s.poolMembers {
		pe.members[k] = v
	}
	pc := s.poolConf(pool)
	for k := range pc.storage {
		pe.storage[k] = true
	}
	if e := pe.apply(); e != nil {
		return nil, errf("update pools failed: %s", e.msg)
	}
	if c, ok := rq.params["comment"]; ok {
		pc.comment = c
	}
	s.poolMembers = pe.members
	pc.storage = pe.storage
	return nil, nil
}

func (pe *poolEdit) apply() *apiError {
	for _, id := range pveschema.SplitList(pe.rq.params["vms"]) {
		if e := pe.editGuest(id); e != nil {
			return e
		}
	}
	for _, id := range pveschema.SplitList(pe.rq.params["storage"]) {
		if e := pe.editStorage(id); e != nil {
			return e
		}
	}
	return nil
}

// check is an RPCEnvironment check inside the locked code: its 403
// exception is stringified with its code.
func (pe *poolEdit) check(path string, privs ...string) *apiError {
	if e := pe.s.checkPerm(pe.rq.auth, path, privs...); e != nil {
		return errf("403 %s", e.msg)
	}
	return nil
}

func (pe *poolEdit) editGuest(id string) *apiError {
	// check_perm_modify on /vms/<id>.
	if e := pe.check("/vms/"+id, "Permissions.Modify", "VM.Allocate"); e != nil {
		return e
	}
	vmid, _ := strconv.Atoi(id)
	cur, member := pe.members[vmid]
	if boolParam(pe.rq.params, "delete") {
		if !member || cur != pe.pool {
			return errf("VM %s is not a pool member", id)
		}
		delete(pe.members, vmid)
		return nil
	}
	if member && cur == pe.pool {
		return errf("VM %s is already a pool member", id)
	}
	if member {
		// PVE 9 moves a guest between pools only when asked to, and
		// then needs Pool.Allocate on the pool it leaves.
		if !boolParam(pe.rq.params, "allow-move") {
			return errf("VM %s belongs already to pool '%s' and 'allow-move' is not set", id, cur)
		}
		if e := pe.check("/pool/"+cur, "Pool.Allocate"); e != nil {
			return e
		}
	}
	pe.members[vmid] = pe.pool
	return nil
}

func (pe *poolEdit) editStorage(id string) *apiError {
	// check_perm_modify on /storage/<id>.
	if e := pe.check("/storage/"+id, "Permissions.Modify", "Datastore.Allocate"); e != nil {
		return e
	}
	if boolParam(pe.rq.params, "delete") {
		if !pe.storage[id] {
			return errf("Storage '%s' is not a pool member", id)
		}
		delete(pe.storage, id)
		return nil
	}
	if pe.storage[id] {
		return errf("Storage '%s' is already a pool member", id)
	}
	pe.storage[id] = true
	return nil
}

// hPoolDelete is delete_pool: only an empty pool goes, where destroyed
// guests and storages no longer configured do not count. The caller holds
// s.mu.
func hPoolDelete(s *Server, rq *request, pool string) (any, *apiError) {
	if !s.pools[pool] {
		return nil, errf("delete pool failed: pool '%s' does not exist", pool)
	}
	if what := s.poolContents(pool); what != "" {
		return nil, errf("delete pool failed: pool '%s' is not empty (contains %s)", pool, what)
	}
	delete(s.pools, pool)
	delete(s.poolConfs, pool)
	for vmid, p := range s.poolMembers {
		if p == pool {
			delete(s.poolMembers, vmid)
		}
	}
	return nil, nil
}

// poolContents names the first thing that keeps a pool from being
// deleted, in PVE's order: sub-pools, guests, storages. The caller holds
// s.mu.
func (s *Server) poolContents(pool string) string {
	for _, p := range sortedKeys(s.pools) {
		if parent, _, ok := cutLast(p, "/"); ok && parent == pool {
			return fmt.Sprintf("pool '%s'", p)
		}
	}
	for _, vmid := range s.poolGuests(pool) {
		if _, _, exists := s.vmidOwner(vmid); exists {
			return fmt.Sprintf("VM %d", vmid)
		}
	}
	if pc := s.poolConfs[pool]; pc != nil {
		for _, id := range sortedKeys(pc.storage) {
			if s.storageByID[id] != nil {
				return fmt.Sprintf("storage '%s'", id)
			}
		}
	}
	return ""
}

// forgetGuest is what destroying a container does outside its config: like
// PVE::AccessControl::remove_vm_access it always leaves its pool, like
// PVE::Firewall::remove_vmfw_conf its firewall options go, and with purge
// its HA resource goes too (delete_service_from_config, which also drops
// it from HA rules). The caller holds s.mu.
func (s *Server) forgetGuest(vmid int, purge bool) {
	delete(s.poolMembers, vmid)
	delete(s.firewall, vmid)
	if purge {
		s.deleteHAResource(haSID(vmid), true)
	}
}
