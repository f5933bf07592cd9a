package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

// TestRootAccessFollowsTheLoginAndOutlivesARebuiltTokenClient: the root
// client is handed out only after a login worked, survives a rebuild of the
// token client, and goes with the host.
func TestRootAccessFollowsTheLoginAndOutlivesARebuiltTokenClient(t *testing.T) {
	_, base := newTestSim(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := NewHosts()
	e := mustConnect(t, h, "host-a", "rv1", base)
	if _, why, ok := e.Root(); ok || !strings.Contains(why, "no spec.rootCredentialsRef") {
		t.Fatalf("a host without root credentials handed out root access (%q)", why)
	}

	host := testHost("host-a")
	host.Spec.Endpoint = base.Endpoint
	host.Spec.RootCredentialsRef = &v1alpha1.SecretReference{Namespace: "ops", Name: "root"}
	r := &ProxmoxHostReconciler{}
	withPassword := func(pw string) proxmox.Config {
		c := base
		c.Credentials = proxmox.Credentials{Username: rootUser, Password: pw}
		return c
	}
	wrong := r.checkRoot(ctx, host, rootAccess{}, "fp-wrong", withPassword("not-the-password"))
	e.setRoot(wrong)
	if _, why, ok := e.Root(); ok || wrong.reason != v1alpha1.ReasonAuthenticationFailed || !strings.Contains(why, "do not work (AuthenticationFailed") {
		t.Fatalf("a rejected password: ok %v, reason %q, why %q", ok, wrong.reason, why)
	}
	if strings.Contains(wrong.message, "not-the-password") {
		t.Fatalf("the message shows the password: %q", wrong.message)
	}

	right := r.checkRoot(ctx, host, *wrong, "fp-right", withPassword(pvesim.DefaultRootPassword))
	if right.client == wrong.client {
		t.Fatal("new credentials reused the old client")
	}
	e.setRoot(right)
	c, _, ok := e.Root()
	if !ok {
		t.Fatalf("a working login handed out no client: %s %s", right.reason, right.message)
	}
	if v, err := c.Version(ctx); err != nil || v.Version == "" {
		t.Fatalf("the root client does not work: %v", err)
	}
	if again := r.checkRoot(ctx, host, *right, "fp-right", withPassword(pvesim.DefaultRootPassword)); again.client != right.client || !again.ok {
		t.Fatal("a re-check with unchanged credentials did not reuse the logged-in client")
	}

	rebuilt := mustConnect(t, h, "host-a", "rv2", base)
	if rebuilt == e {
		t.Fatal("a new version did not rebuild the entry")
	}
	if c2, _, ok := rebuilt.Root(); !ok || c2 != c {
		t.Fatal("the root access did not survive a rebuilt token client")
	}
	h.forget("host-a")
	if _, _, ok := rebuilt.Root(); ok {
		t.Fatal("a forgotten host still hands out root access")
	}
}
