package pvesim

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/pve-operator/pve-operator/internal/pvesim/pveschema"
)

// TaskNetworkReload is the worker type of PUT /nodes/{node}/network
// (reload_network_config forks 'srvreload' with id 'networking').
const TaskNetworkReload = "srvreload"

// addNetworkRoutes: /nodes/{node}/network and /nodes/{node}/network/{iface}.
func addNetworkRoutes(rt *router) {
	modify := nodePerm("Sys.Modify")
	rt.add("GET", "/nodes/{node}/network", nil, nil, hNetworkList)
	rt.add("POST", "/nodes/{node}/network", nil, modify, hNetworkCreate)
	rt.add("PUT", "/nodes/{node}/network", nil, modify, hNetworkReload)
	rt.add("DELETE", "/nodes/{node}/network", nil, modify, hNetworkRevert)
	rt.add("GET", "/nodes/{node}/network/{iface}", nil, nodePerm("Sys.Audit"), hNetworkGet)
	rt.add("PUT", "/nodes/{node}/network/{iface}", nil, modify, hNetworkUpdate)
	rt.add("DELETE", "/nodes/{node}/network/{iface}", nil, modify, hNetworkDelete)
}

// hNetworkList lists the interfaces but lo. Bridges are shown only to
// root@pam and to users with SDN.Audit or SDN.Use on the bridge in the
// localnetwork zone.
func hNetworkList(s *Server, rq *request) (any, *apiError) {
	filter := rq.params["type"]
	s.mu.Lock()
	defer s.mu.Unlock()
	nn := s.network(rq.node())
	out := []map[string]any{}
	for name, ni := range nn.config() {
		t := ni.opts["type"]
		isBridge := t == "bridge" || t == "OVSBridge"
		anyBridge := filter == "any_bridge" || filter == "any_local_bridge"
		switch {
		case name == "lo":
			continue
		case filter != "" && filter != "include_sdn" && filter != t && (!isBridge || !anyBridge):
			continue
		case isBridge && !s.mayUseBridge(rq.auth, name):
			continue
		}
		v := nn.view(name, ni)
		v["iface"] = name
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["iface"].(string) < out[j]["iface"].(string) })
	return out, nil
}

// mayUseBridge is the list's check_sdn_bridge. The caller holds s.mu.
func (s *Server) mayUseBridge(p *principal, bridge string) bool {
	if p != nil && p.id == "root@pam" {
		return true
	}
	path := "/sdn/zones/localnetwork/" + bridge
	return s.hasPriv(p, path, "SDN.Audit") || s.hasPriv(p, path, "SDN.Use")
}

func hNetworkGet(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	nn := s.network(rq.node())
	name := rq.params["iface"]
	ni := nn.config()[name]
	if ni == nil {
		return nil, paramErr1("iface", "interface does not exist")
	}
	return nn.view(name, ni), nil
}

// netParams are the call's interface options without node, iface and
// delete.
func netParams(p map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range p {
		if k != "node" && k != "iface" && k != "delete" {
			out[k] = v
		}
	}
	return out
}

// checkDuplicates are check_duplicate_gateway(6) and check_duplicate_ports:
// one default gateway per family, a port in one interface only.
func checkDuplicates(ifaces map[string]*netIface, iface string, p map[string]string) *apiError {
	for _, gw := range [][2]string{{"gateway", "Default gateway"}, {"gateway6", "Default ipv6 gateway"}} {
		if p[gw[0]] == "" {
			continue
		}
		for _, other := range sortedKeys(ifaces) {
			if other != iface && ifaces[other].opts[gw[0]] != "" {
				return paramErr1(gw[0], fmt.Sprintf("%s already exists on interface '%s'.", gw[1], other))
			}
		}
	}
	ports, param := portList(p)
	if len(ports) == 0 {
		return nil
	}
	for _, other := range sortedKeys(ifaces) {
		if other == iface {
			continue
		}
		used, _ := portList(ifaces[other].opts)
		for _, port := range used {
			if slices.Contains(ports, port) {
				return paramErr1(param, fmt.Sprintf("%s is already used on interface '%s'.", port, other))
			}
		}
	}
	return nil
}

// portList is the ports an interface uses and the first option naming
// them.
func portList(o map[string]string) ([]string, string) {
	var ports []string
	param := ""
	for _, k := range []string{"bridge_ports", "ovs_ports", "slaves", "ovs_bonds"} {
		if o[k] != "" {
			ports = append(ports, pveschema.SplitList(o[k])...)
			if param == "" {
				param = k
			}
		}
	}
	return ports, param
}

// mapCIDR is map_cidr_to_address_netmask.
func mapCIDR(p map[string]string) *apiError {
	for _, sfx := range []string{"", "6"} {
		cidr := p["cidr"+sfx]
		if cidr == "" {
			continue
		}
		if p["address"+sfx] != "" {
			return paramErr1("address"+sfx, fmt.Sprintf("address%s conflicts with cidr%s", sfx, sfx))
		}
		if p["netmask"+sfx] != "" {
			return paramErr1("netmask"+sfx, fmt.Sprintf("netmask%s conflicts with cidr%s", sfx, sfx))
		}
		p["address"+sfx], p["netmask"+sfx], _ = strings.Cut(cidr, "/")
		delete(p, "cidr"+sfx)
	}
	return nil
}

// setMethods derives families and methods from the addresses of the
// call alone, on update as on create: an update that does not repeat the
// address leaves the interface "manual".
func setMethods(ni *netIface, p map[string]string) {
	ni.families = nil
	p["method"], p["method6"] = "manual", "manual"
	if p["address"] != "" {
		ni.families = append(ni.families, "inet")
		p["method"] = "static"
	}
	if p["address6"] != "" {
		ni.families = append(ni.families, "inet6")
		p["method6"] = "static"
	}
	if len(ni.families) == 0 {
		ni.families = []string{"inet"}
	}
}

// checkBridgeVIDs is the "VLAN list items are empty" check; create also
// rewrites the list space-separated.
func checkBridgeVIDs(p map[string]string) *apiError {
	if v, ok := p["bridge_vids"]; ok && v != "" && len(pveschema.SplitList(v)) == 0 {
		return paramErr1("bridge_vids", "VLAN list items are empty")
	}
	return nil
}

// editNetwork runs f on a copy of the node's configuration and stores the
// result as interfaces.new, after the writer's checks.
func (s *Server) editNetwork(rq *request, f func(ifaces map[string]*netIface) *apiError) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	nn := s.network(rq.node())
	ifaces := nn.config()
	if e := f(ifaces); e != nil {
		return nil, e
	}
	if e := checkWrite(ifaces); e != nil {
		return nil, e
	}
	nn.pending = writeInterfaces(ifaces)
	return nil, nil
}

// hNetworkCreate is create_network.
func hNetworkCreate(s *Server, rq *request) (any, *apiError) {
	p := netParams(rq.params)
	iface := rq.params["iface"]
	return s.editNetwork(rq, func(ifaces map[string]*netIface) *apiError {
		if ifaces[iface] != nil {
			return paramErr1("iface", "interface already exists")
		}
		if e := checkDuplicates(ifaces, iface, p); e != nil {
			return e
		}
		if e := mapCIDR(p); e != nil {
			return e
		}
		ni := &netIface{opts: map[string]string{}}
		setMethods(ni, p)
		if strings.HasPrefix(p["type"], "OVS") {
			return errf("Open VSwitch is not installed (need package 'openvswitch-switch')")
		}
		if e := checkBridgeVIDs(p); e != nil {
			return e
		}
		if v := p["bridge_vids"]; v != "" {
			p["bridge_vids"] = strings.Join(pveschema.SplitList(v), " ")
		}
		ni.opts = p
		ifaces[iface] = ni
		return nil
	})
}

// hNetworkUpdate is update_network: delete first, then the options given
// replace the interface's.
func hNetworkUpdate(s *Server, rq *request) (any, *apiError) {
	p := netParams(rq.params)
	iface := rq.params["iface"]
	return s.editNetwork(rq, func(ifaces map[string]*netIface) *apiError {
		ni := ifaces[iface]
		if ni == nil {
			return paramErr1("iface", "interface does not exist")
		}
		for _, k := range pveschema.SplitList(rq.params["delete"]) {
			delete(ni.opts, k)
			if k == "cidr" || k == "cidr6" {
				sfx := strings.TrimPrefix(k, "cidr")
				delete(ni.opts, "address"+sfx)
				delete(ni.opts, "netmask"+sfx)
			}
		}
		if e := mapCIDR(p); e != nil {
			return e
		}
		if e := checkDuplicates(ifaces, iface, p); e != nil {
			return e
		}
		setMethods(ni, p)
		for k, v := range p {
			ni.opts[k] = v
		}
		return checkBridgeVIDs(p)
	})
}

// hNetworkDelete is delete_network.
func hNetworkDelete(s *Server, rq *request) (any, *apiError) {
	iface := rq.params["iface"]
	return s.editNetwork(rq, func(ifaces map[string]*netIface) *apiError {
		if ifaces[iface] == nil {
			return paramErr1("iface", "interface does not exist")
		}
		delete(ifaces, iface)
		return nil
	})
}

// hNetworkRevert is revert_network_changes: interfaces.new is removed.
func hNetworkRevert(s *Server, rq *request) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.network(rq.node()).pending = nil
	return nil, nil
}

// hNetworkReload is reload_network_config: a srvreload worker moves
// interfaces.new into place and runs ifreload -a, pending or not.
func hNetworkReload(s *Server, rq *request) (any, *apiError) {
	node := rq.node()
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.newTask(node, TaskNetworkReload, "networking", rq.authID())
	s.runTask(t, func(tr *taskRun) error {
		return tr.commit(nil, func() { s.network(node).reloadLocked() })
	})
	return t.upid, nil
}
