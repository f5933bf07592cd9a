package pvesim

// The state file's part for the configuration the API edits besides guest
// configs: user.cfg pools, the HA resources and rules, each node's network
// interfaces and the container firewall options.

type persistedConfigFiles struct {
	Pools       []persistedPool              `json:"pools,omitempty"`
	PoolGuests  map[int]string               `json:"poolGuests,omitempty"`
	HAResources map[string]map[string]string `json:"haResources,omitempty"`
	HARules     map[string]persistedHARule   `json:"haRules,omitempty"`
	Networks    map[string]persistedNetwork  `json:"networks,omitempty"`
	Firewall    map[int]map[string]string    `json:"firewall,omitempty"`
}

type persistedPool struct {
	ID      string   `json:"id"`
	Comment string   `json:"comment,omitempty"`
	Storage []string `json:"storage,omitempty"`
}

type persistedHARule struct {
	Type      string            `json:"type"`
	Resources []string          `json:"resources"`
	Nodes     map[string]int    `json:"nodes,omitempty"`
	Options   map[string]string `json:"options,omitempty"`
	Order     int               `json:"order"`
}

type persistedIface struct {
	Options  map[string]string `json:"options"`
	Families []string          `json:"families"`
	Priority int               `json:"priority,omitempty"`
}

type persistedNetwork struct {
	Current map[string]persistedIface `json:"current"`
	Pending map[string]persistedIface `json:"pending,omitempty"`
	Active  []string                  `json:"active,omitempty"`
}

// saveConfigFiles captures the configuration. The caller holds s.mu.
func (s *Server) saveConfigFiles() *persistedConfigFiles {
	// Maps are copied: the file is encoded after s.mu is released, and the
	// handlers replace inner maps but edit these in place.
	cf := &persistedConfigFiles{
		PoolGuests: map[int]string{}, HAResources: map[string]map[string]string{}, HARules: map[string]persistedHARule{},
		Networks: map[string]persistedNetwork{}, Firewall: map[int]map[string]string{},
	}
	for sid, opts := range s.ha.resources {
		cf.HAResources[sid] = opts
	}
	for vmid, opts := range s.firewall {
		cf.Firewall[vmid] = opts
	}
	for _, id := range sortedKeys(s.poolConfs) {
		pc := s.poolConfs[id]
		cf.Pools = append(cf.Pools, persistedPool{ID: id, Comment: pc.comment, Storage: sortedKeys(pc.storage)})
	}
	// Members whose guest is gone are kept too: PVE keeps them in user.cfg.
	for vmid, pool := range s.poolMembers {
		cf.PoolGuests[vmid] = pool
	}
	for id, r := range s.ha.rules {
		cf.HARules[id] = persistedHARule{Type: r.typ, Resources: sortedKeys(r.resources), Nodes: r.nodes, Options: r.opts, Order: r.order}
	}
	for node, nn := range s.networks {
		pn := persistedNetwork{Current: saveIfaces(nn.current), Active: sortedKeys(nn.active)}
		if nn.pending != nil {
			pn.Pending = saveIfaces(nn.pending)
		}
		cf.Networks[node] = pn
	}
	return cf
}

func saveIfaces(ifaces map[string]*netIface) map[string]persistedIface {
	out := map[string]persistedIface{}
	for name, ni := range ifaces {
		out[name] = persistedIface{Options: ni.opts, Families: ni.families, Priority: ni.priority}
	}
	return out
}

func loadIfaces(in map[string]persistedIface) map[string]*netIface {
	out := map[string]*netIface{}
	for name, pi := range in {
		opts := pi.Options
		if opts == nil {
			opts = map[string]string{}
		}
		out[name] = &netIface{opts: opts, families: pi.Families, priority: pi.Priority}
	}
	return out
}

// loadConfigFiles restores the configuration; it runs before serving.
func (s *Server) loadConfigFiles(cf *persistedConfigFiles) {
	if cf == nil {
		return
	}
	for _, pp := range cf.Pools {
		pc := s.poolConf(pp.ID)
		pc.comment = pp.Comment
		for _, id := range pp.Storage {
			pc.storage[id] = true
		}
	}
	for vmid, pool := range cf.PoolGuests {
		s.poolMembers[vmid] = pool
	}
	for sid, opts := range cf.HAResources {
		s.ha.resources[sid] = opts
	}
	for id, pr := range cf.HARules {
		r := &haRule{typ: pr.Type, resources: map[string]bool{}, nodes: pr.Nodes, opts: pr.Options, order: pr.Order}
		if r.opts == nil {
			r.opts = map[string]string{}
		}
		for _, sid := range pr.Resources {
			r.resources[sid] = true
		}
		s.ha.rules[id] = r
	}
	for node, pn := range cf.Networks {
		if s.nodes[node] == nil {
			continue
		}
		nn := &nodeNetwork{current: loadIfaces(pn.Current), active: map[string]bool{}}
		if pn.Pending != nil {
			nn.pending = loadIfaces(pn.Pending)
		}
		for _, name := range pn.Active {
			nn.active[name] = true
		}
		s.networks[node] = nn
	}
	for vmid, opts := range cf.Firewall {
		s.firewall[vmid] = opts
	}
}
