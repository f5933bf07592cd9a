package pvesim

import (
	"strings"
	"testing"
)

// TestRootOnlyDeletes: check_ct_modify_config_perm runs for deleted options
// too. Removing a device, the hookscript or features beyond nesting is
// root@pam's alone; detaching a bind mount is not.
func TestRootOnlyDeletes(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	if err := srv.AddSnippet("local:snippets/hook.sh"); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddContainer("pve1", 901, map[string]string{
		"hostname": "ct901", "memory": "512", "unprivileged": "1", "rootfs": "local-lvm:vm-901-disk-0,size=4G",
		"mp0": "/srv/data,mp=/data", "dev0": "/dev/fuse", "hookscript": "local:snippets/hook.sh", "features": "keyctl=1,nesting=1",
	}, false); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, del, want string
	}{
		{"removing a device needs root", "dev0", "403 Permission check failed (configuring device passthrough is only allowed for root@pam)"},
		{"removing the hookscript needs root", "hookscript", "403 Permission check failed (changing the hookscript is only allowed for root@pam)"},
		{"removing features beyond nesting needs root", "features", "403 Permission check failed (changing feature flags (except nesting) is only allowed for root@pam)"},
		{"detaching a bind mount does not", "mp0", "200 OK"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if r := raw(t, srv, "PUT", "/nodes/pve1/lxc/901/config", form("delete", tt.del)); r.Status != tt.want {
				t.Errorf("token deleting %s: got %q, want %q (%s)", tt.del, r.Status, tt.want, r.Body)
			}
		})
	}
}

// TestHookscriptMustBeAnExistingSnippet is check_hookscript, on config
// updates and on create alike (root@pam, so the permission check passes).
func TestHookscriptMustBeAnExistingSnippet(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	if err := srv.AddContainer("pve1", 902, map[string]string{"hostname": "ct902", "memory": "512", "rootfs": "local-lvm:vm-902-disk-0,size=4G"}, false); err != nil {
		t.Fatal(err)
	}
	ticket, csrf := login(t, srv, "root@pam", DefaultRootPassword)
	asRoot := []rawOpt{noAuth(), withTicket(ticket), withHeader("CSRFPreventionToken", csrf)}
	for _, tt := range []struct {
		name, hook, want string
	}{
		{"a missing script is refused", "local:snippets/missing.sh", "script 'local:snippets/missing.sh' does not exist"},
		{"a volume that is no snippet is refused", DebianTemplate, "'" + DebianTemplate + "' is not in the snippets directory"},
		{"a storage that does not exist is refused", "nowhere:snippets/x.sh", "storage 'nowhere' does not exist"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := raw(t, srv, "PUT", "/nodes/pve1/lxc/902/config", form("hookscript", tt.hook), asRoot...)
			if r.Code != 500 || !strings.Contains(r.Status, tt.want) {
				t.Errorf("got %q, want a 500 saying %q", r.Status, tt.want)
			}
		})
	}
	create := form("vmid", "903", "ostemplate", DebianTemplate, "rootfs", "local-lvm:4", "hookscript", "local:snippets/late.sh")
	if r := raw(t, srv, "POST", "/nodes/pve1/lxc", create, asRoot...); r.Code != 500 || !strings.Contains(r.Status, "does not exist") {
		t.Errorf("create with a missing hookscript: got %q, want a 500 before any task", r.Status)
	}
	mustAdmin(t, srv, "POST", "/snippets", `{"volid": "local:snippets/late.sh"}`)
	mustOK(t, raw(t, srv, "PUT", "/nodes/pve1/lxc/902/config", form("hookscript", "local:snippets/late.sh"), asRoot...))
	mustOK(t, raw(t, srv, "POST", "/nodes/pve1/lxc", create, asRoot...))
	if err := srv.AddSnippet("local-lvm:snippets/x.sh"); err == nil {
		t.Error("AddSnippet put a snippet on a storage that is not a directory")
	}
}
