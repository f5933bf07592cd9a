package pvesim

import (
	"testing"

	proxmox "github.com/luthermonson/go-proxmox"
)

const fwAuditor = "fwaudit@pve!t" // VM.Audit only

// emptyDigest is the SHA-1 of nothing: the digest of no options.
const emptyDigest = "da39a3ee5e6b4b0d3255bfef95601890afd80709"

func fwSim(t *testing.T) *Server {
	t.Helper()
	srv := newSim(t, func(o *Options) {
		o.Tokens = []TokenSpec{
			{ID: DefaultTokenID, Secret: DefaultTokenSecret},
			{ID: fwAuditor, Secret: "x", Privileges: []string{"VM.Audit"}},
		}
	})
	createCT(t, srv, "pve1", 100)
	return srv
}

func fwOptions(t *testing.T, srv *Server, vmid string) map[string]any {
	t.Helper()
	var opts map[string]any
	mustOK(t, raw(t, srv, "GET", "/nodes/pve1/lxc/"+vmid+"/firewall/options", "")).data(t, &opts)
	return opts
}

func TestContainerFirewallOptions(t *testing.T) {
	t.Parallel()
	srv := fwSim(t)
	t.Run("a container without a firewall file has no options", func(t *testing.T) {
		if opts := fwOptions(t, srv, "100"); len(opts) != 1 || opts["digest"] != emptyDigest {
			t.Fatalf("%v", opts)
		}
	})
	t.Run("options are set and read back typed", func(t *testing.T) {
		mustOK(t, raw(t, srv, "PUT", "/nodes/pve1/lxc/100/firewall/options", form("enable", "1", "policy_in", "DROP", "log_level_in", "info", "macfilter", "0", "digest", emptyDigest)))
		opts := fwOptions(t, srv, "100")
		if opts["enable"] != float64(1) || opts["macfilter"] != float64(0) || opts["policy_in"] != "DROP" || opts["log_level_in"] != "info" {
			t.Fatalf("%v", opts)
		}
		// copy_opject_with_digest hashes "key:value\n" in key order.
		if opts["digest"] != fwOptionsDigest(map[string]string{"enable": "1", "log_level_in": "info", "macfilter": "0", "policy_in": "DROP"}) {
			t.Fatalf("digest %v", opts["digest"])
		}
	})
	t.Run("a stale digest is refused", func(t *testing.T) {
		statusIs(t, raw(t, srv, "PUT", "/nodes/pve1/lxc/100/firewall/options", form("dhcp", "1", "digest", emptyDigest)),
			"500 detected modified configuration - file changed by other user? Try again.")
	})
	t.Run("delete removes options before the new ones are set", func(t *testing.T) {
		mustOK(t, raw(t, srv, "PUT", "/nodes/pve1/lxc/100/firewall/options", form("delete", "policy_in,log_level_in,macfilter", "dhcp", "1")))
		if opts := fwOptions(t, srv, "100"); len(opts) != 3 || opts["dhcp"] != float64(1) || opts["enable"] != float64(1) {
			t.Fatalf("%v", opts)
		}
	})
	t.Run("deleting an unknown option is a parameter error", func(t *testing.T) {
		paramErrorIs(t, raw(t, srv, "PUT", "/nodes/pve1/lxc/100/firewall/options", form("delete", "ips")), "delete", "no such option 'ips'")
	})
	t.Run("the file goes with the container", func(t *testing.T) {
		runOK(t, srv, "DELETE", "/nodes/pve1/lxc/100", "")
		if opts := fwOptions(t, srv, "100"); opts["digest"] != emptyDigest {
			t.Fatalf("%v", opts)
		}
	})
}

func TestContainerFirewallPermissions(t *testing.T) {
	t.Parallel()
	srv := fwSim(t)
	tests := []struct{ name, method, body, status string }{
		{"reading needs VM.Audit", "GET", "", "200 OK"},
		{"writing needs VM.Config.Network", "PUT", form("enable", "1"), "403 Permission check failed (/vms/100, VM.Config.Network)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			statusIs(t, raw(t, srv, tc.method, "/nodes/pve1/lxc/100/firewall/options", tc.body, asToken(fwAuditor, "x")), tc.status)
		})
	}
	t.Run("without VM.Audit reading is refused", func(t *testing.T) {
		if err := srv.DropPrivilege(fwAuditor, "/vms/100", "VM.Audit"); err != nil {
			t.Fatal(err)
		}
		statusIs(t, raw(t, srv, "GET", "/nodes/pve1/lxc/100/firewall/options", "", asToken(fwAuditor, "x")), "403 Permission check failed (/vms/100, VM.Audit)")
	})
	t.Run("the firewall index lists options", func(t *testing.T) {
		var idx []map[string]any
		mustOK(t, raw(t, srv, "GET", "/nodes/pve1/lxc/100/firewall", "")).data(t, &idx)
		if len(idx) != 5 || idx[4]["name"] != "options" {
			t.Fatalf("%v", idx)
		}
	})
}

func TestContainerFirewallDecodesWithGoProxmox(t *testing.T) {
	t.Parallel()
	srv := fwSim(t)
	ct := pveCT(t, srv, 100)
	on := proxmox.IntOrBool(true)
	if err := ct.UpdateFirewallOptions(ctx(t), &proxmox.FirewallVirtualMachineOption{Enable: true, Macfilter: &on, PolicyIn: "REJECT", Radv: true}); err != nil {
		t.Fatal(err)
	}
	opts, err := ct.GetFirewallOptions(ctx(t))
	if err != nil || !bool(opts.Enable) || opts.Macfilter == nil || !bool(*opts.Macfilter) || opts.PolicyIn != "REJECT" || !bool(opts.Radv) {
		t.Fatalf("%+v %v", opts, err)
	}
}
