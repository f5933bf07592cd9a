package pvesim

import (
	"strings"
	"testing"

	proxmox "github.com/luthermonson/go-proxmox"
)

const netAuditor = "netaudit@pve!t" // Sys.Audit only: no SDN.Audit on bridges

func netSim(t *testing.T) *Server {
	t.Helper()
	return newSim(t, func(o *Options) {
		o.Tokens = []TokenSpec{
			{ID: DefaultTokenID, Secret: DefaultTokenSecret},
			{ID: netAuditor, Secret: "x", Privileges: []string{"Sys.Audit"}},
		}
	})
}

func netIfaces(t *testing.T, srv *Server, query string, opts ...rawOpt) map[string]map[string]any {
	t.Helper()
	var list []map[string]any
	mustOK(t, raw(t, srv, "GET", "/nodes/pve1/network"+query, "", opts...)).data(t, &list)
	out := map[string]map[string]any{}
	for _, e := range list {
		out[e["iface"].(string)] = e
	}
	return out
}

func TestNodeNetworkSeed(t *testing.T) {
	t.Parallel()
	srv := netSim(t)
	ifaces := netIfaces(t, srv, "")
	vmbr0 := ifaces["vmbr0"]
	if vmbr0["type"] != "bridge" || vmbr0["cidr"] != "10.0.0.11/24" || vmbr0["bridge_ports"] != "eno1" || vmbr0["active"] != float64(1) || vmbr0["autostart"] != float64(1) {
		t.Fatalf("vmbr0: %v", vmbr0)
	}
	if ifaces["eno2"]["exists"] != float64(1) || ifaces["eno2"]["priority"] != nil {
		t.Fatalf("a NIC the file does not name is listed without a priority: %v", ifaces["eno2"])
	}
	if _, ok := ifaces["lo"]; ok || len(ifaces) != 3 {
		t.Fatalf("lo is not listed: %v", ifaces)
	}
	if only := netIfaces(t, srv, "?type=any_bridge"); len(only) != 1 || only["vmbr0"] == nil {
		t.Fatalf("%v", only)
	}
}

func TestNodeNetworkChangesArePendingUntilReload(t *testing.T) {
	t.Parallel()
	srv := netSim(t)
	t.Run("a bridge is created in interfaces.new", func(t *testing.T) {
		mustOK(t, raw(t, srv, "POST", "/nodes/pve1/network", form("iface", "vmbr1", "type", "bridge", "bridge_ports", "eno2",
			"cidr", "192.168.5.1/24", "autostart", "1", "comments", "lab")))
		var br map[string]any
		mustOK(t, raw(t, srv, "GET", "/nodes/pve1/network/vmbr1", "")).data(t, &br)
		if br["address"] != "192.168.5.1" || br["netmask"] != "24" || br["method"] != "static" || br["comments"] != "lab\n" ||
			br["bridge_stp"] != "off" || br["bridge_fd"] != "0" || br["active"] != nil {
			t.Fatalf("%v", br)
		}
	})
	t.Run("the reload is a srvreload task that brings it up", func(t *testing.T) {
		v := waitTask(t, srv, upidOf(t, raw(t, srv, "PUT", "/nodes/pve1/network", "")))
		if v.Type != TaskNetworkReload || v.ID != "networking" || v.ExitStatus != "OK" {
			t.Fatalf("%+v", v)
		}
		if br := netIfaces(t, srv, "")["vmbr1"]; br["active"] != float64(1) {
			t.Fatalf("%v", br)
		}
	})
	t.Run("an update replaces the options and recomputes the method", func(t *testing.T) {
		mustOK(t, raw(t, srv, "PUT", "/nodes/pve1/network/vmbr1", form("type", "bridge", "bridge_ports", "eno2", "bridge_vlan_aware", "1", "delete", "comments")))
		br := netIfaces(t, srv, "")["vmbr1"]
		// No address in the call: PVE makes the interface manual.
		if br["method"] != "manual" || br["bridge_vlan_aware"] != float64(1) || br["bridge_vids"] != "2-4094" || br["comments"] != nil {
			t.Fatalf("%v", br)
		}
	})
	t.Run("a revert drops interfaces.new", func(t *testing.T) {
		mustOK(t, raw(t, srv, "DELETE", "/nodes/pve1/network", ""))
		if br := netIfaces(t, srv, "")["vmbr1"]; br["method"] != "static" {
			t.Fatalf("%v", br)
		}
	})
	t.Run("a delete is pending too", func(t *testing.T) {
		mustOK(t, raw(t, srv, "DELETE", "/nodes/pve1/network/vmbr1", ""))
		if _, ok := netIfaces(t, srv, "")["vmbr1"]; ok {
			t.Fatal("vmbr1 still listed")
		}
		runOK(t, srv, "PUT", "/nodes/pve1/network", "")
	})
	t.Run("other nodes keep their own configuration", func(t *testing.T) {
		var br map[string]any
		mustOK(t, raw(t, srv, "GET", "/nodes/pve2/network/vmbr0", "")).data(t, &br)
		if br["cidr"] != "10.0.0.12/24" {
			t.Fatalf("%v", br)
		}
	})
}

func TestNodeNetworkErrorsAreWordedAsPVE(t *testing.T) {
	t.Parallel()
	srv := netSim(t)
	mustOK(t, raw(t, srv, "POST", "/nodes/pve1/network", form("iface", "vmbr1", "type", "bridge", "bridge_ports", "eno2")))
	tests := []struct{ name, method, path, body, param, msg string }{
		{"an interface that exists", "POST", "/nodes/pve1/network", form("iface", "vmbr1", "type", "bridge"), "iface", "interface already exists"},
		{"a second default gateway", "POST", "/nodes/pve1/network", form("iface", "vmbr2", "type", "bridge", "cidr", "10.1.0.1/24", "gateway", "10.1.0.254"),
			"gateway", "Default gateway already exists on interface 'vmbr0'."},
		{"a port another bridge uses", "POST", "/nodes/pve1/network", form("iface", "vmbr2", "type", "bridge", "bridge_ports", "eno1"),
			"bridge_ports", "eno1 is already used on interface 'vmbr0'."},
		{"an address next to a cidr", "POST", "/nodes/pve1/network", form("iface", "vmbr2", "type", "bridge", "cidr", "10.1.0.1/24", "address", "10.1.0.1", "netmask", "255.255.255.0"),
			"address", "address conflicts with cidr"},
		{"a netmask without an address", "POST", "/nodes/pve1/network", form("iface", "vmbr2", "type", "bridge", "netmask", "255.255.255.0"),
			"address", "missing property required by 'netmask'"},
		{"a bad interface name", "POST", "/nodes/pve1/network", form("iface", "9br", "type", "bridge"), "iface", "invalid network interface name '9br'"},
		{"updating an interface that does not exist", "PUT", "/nodes/pve1/network/vmbr9", form("type", "bridge"), "iface", "interface does not exist"},
		{"reading an interface that does not exist", "GET", "/nodes/pve1/network/vmbr9", "", "iface", "interface does not exist"},
		{"deleting an interface that does not exist", "DELETE", "/nodes/pve1/network/vmbr9", "", "iface", "interface does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { paramErrorIs(t, raw(t, srv, tc.method, tc.path, tc.body), tc.param, tc.msg) })
	}
	dies := []struct{ name, body, status string }{
		{"an OVS bridge without Open vSwitch", form("iface", "vmbr3", "type", "OVSBridge"), "500 Open VSwitch is not installed (need package 'openvswitch-switch')"},
		{"a bond over a missing NIC", form("iface", "bond0", "type", "bond", "slaves", "eno9"), "500 bond 'bond0' - unable to find slave 'eno9'"},
		{"a VLAN on a missing parent", form("iface", "eno9.10", "type", "vlan"), "500 vlan 'eno9.10' - unable to find parent 'eno9'"},
	}
	for _, tc := range dies {
		t.Run(tc.name, func(t *testing.T) { statusIs(t, raw(t, srv, "POST", "/nodes/pve1/network", tc.body), tc.status) })
	}
	t.Run("a VLAN on a NIC reads its raw device and tag from the name", func(t *testing.T) {
		mustOK(t, raw(t, srv, "POST", "/nodes/pve1/network", form("iface", "eno2.20", "type", "vlan")))
		v := netIfaces(t, srv, "?type=vlan")["eno2.20"]
		if v["vlan-raw-device"] != "eno2" || v["vlan-id"] != "20" {
			t.Fatalf("%v", v)
		}
	})
}

func TestNodeNetworkPermissions(t *testing.T) {
	t.Parallel()
	srv := netSim(t)
	tests := []struct{ name, method, path, body, status string }{
		{"creating needs Sys.Modify", "POST", "/nodes/pve1/network", form("iface", "vmbr1", "type", "bridge"), "403 Permission check failed (/nodes/pve1, Sys.Modify)"},
		{"reloading needs Sys.Modify", "PUT", "/nodes/pve1/network", "", "403 Permission check failed (/nodes/pve1, Sys.Modify)"},
		{"reverting needs Sys.Modify", "DELETE", "/nodes/pve1/network", "", "403 Permission check failed (/nodes/pve1, Sys.Modify)"},
		{"updating needs Sys.Modify", "PUT", "/nodes/pve1/network/vmbr0", form("type", "bridge"), "403 Permission check failed (/nodes/pve1, Sys.Modify)"},
		{"reading one interface needs Sys.Audit only", "GET", "/nodes/pve1/network/vmbr0", "", "200 OK"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			statusIs(t, raw(t, srv, tc.method, tc.path, tc.body, asToken(netAuditor, "x")), tc.status)
		})
	}
	t.Run("the list hides bridges from callers without SDN.Audit or SDN.Use", func(t *testing.T) {
		ifaces := netIfaces(t, srv, "", asToken(netAuditor, "x"))
		if _, ok := ifaces["vmbr0"]; ok || ifaces["eno1"] == nil {
			t.Fatalf("%v", ifaces)
		}
	})
}

func TestNodeNetworkDecodesWithGoProxmox(t *testing.T) {
	t.Parallel()
	srv := netSim(t)
	node := pveNode(t, srv, "pve1")
	task, err := node.NewNetwork(ctx(t), &proxmox.NodeNetwork{Iface: "vmbr1", Type: "bridge", BridgePorts: "eno2", CIDR: "192.168.7.1/24", Autostart: 1, MTU: "9000"})
	if err != nil || task == nil || !strings.Contains(string(task.UPID), ":srvreload:networking:") {
		t.Fatalf("%v %v", task, err)
	}
	waitTask(t, srv, string(task.UPID))
	nets, err := node.Networks(ctx(t), "bridge")
	if err != nil || len(nets) != 2 {
		t.Fatalf("%v %v", nets, err)
	}
	br, err := node.Network(ctx(t), "vmbr1")
	if err != nil || br.Address != "192.168.7.1" || br.Netmask != "24" || br.MTU != "9000" || br.Autostart != 1 || br.Type != "bridge" {
		t.Fatalf("%+v %v", br, err)
	}
	if _, err := nets[1].Delete(ctx(t)); err != nil {
		t.Fatal(err)
	}
}
