package pvesim

import (
	"strings"
	"testing"
)

func TestConfigurationSurvivesTheStateFile(t *testing.T) {
	t.Parallel()
	srv, o := withStateFile(t)
	createCT(t, srv, "pve1", 100)
	createCT(t, srv, "pve1", 101)
	setup := []struct{ method, path, body string }{
		{"POST", "/pools", form("poolid", "web", "comment", "front")},
		{"PUT", "/pools", form("poolid", "web", "vms", "100", "storage", "local")},
		{"POST", "/cluster/ha/resources", form("sid", "ct:100", "state", "stopped")},
		{"POST", "/cluster/ha/resources", form("sid", "ct:101")},
		{"POST", "/cluster/ha/rules", form("rule", "pair", "type", "resource-affinity", "resources", "ct:100,ct:101", "affinity", "positive")},
		{"POST", "/nodes/pve1/network", form("iface", "vmbr1", "type", "bridge", "bridge_ports", "eno2")},
		{"PUT", "/nodes/pve1/lxc/100/firewall/options", form("enable", "1")},
	}
	for _, st := range setup {
		mustOK(t, raw(t, srv, st.method, st.path, st.body))
	}
	srv2 := restarted(t, srv, o)
	checks := []struct{ name, path, want string }{
		{"the pool keeps its comment and members", "/pools?poolid=web", `"comment":"front"`},
		{"the pool keeps its storage", "/pools/web?type=storage", `"storage":"local"`},
		{"the HA resource keeps its state", "/cluster/ha/resources/ct:100", `"state":"stopped"`},
		{"the HA rule keeps its resources", "/cluster/ha/rules/pair", `"resources":"ct:100,ct:101"`},
		{"the pending bridge is still pending", "/nodes/pve1/network/vmbr1", `"bridge_ports":"eno2"`},
		{"the firewall options are kept", "/nodes/pve1/lxc/100/firewall/options", `"enable":1`},
	}
	for _, tc := range checks {
		t.Run(tc.name, func(t *testing.T) {
			if r := mustOK(t, raw(t, srv2, "GET", tc.path, "")); !strings.Contains(string(r.Body), tc.want) {
				t.Fatalf("%s", r.Body)
			}
		})
	}
	t.Run("the live network did not take the pending bridge", func(t *testing.T) {
		mustOK(t, raw(t, srv2, "DELETE", "/nodes/pve1/network", ""))
		paramErrorIs(t, raw(t, srv2, "GET", "/nodes/pve1/network/vmbr1", ""), "iface", "interface does not exist")
	})
}
