package pvesim

import (
	"errors"
	"net/url"
	"sync"
	"testing"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"
)

// fakeClock is a settable Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// login returns a ticket and CSRF token for root@pam.
func login(t *testing.T, srv *Server, user, password string) (string, string) {
	t.Helper()
	var sess map[string]any
	mustOK(t, raw(t, srv, "POST", "/access/ticket", form("username", user, "password", password), noAuth())).data(t, &sess)
	return sess["ticket"].(string), sess["CSRFPreventionToken"].(string)
}

func withTicket(ticket string) rawOpt {
	return withHeader("Cookie", "PVEAuthCookie="+url.QueryEscape(ticket))
}

func TestTokenAuthentication(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	tests := []struct {
		name   string
		header string
		status string
	}{
		{"the right secret is accepted", "PVEAPIToken=" + DefaultTokenID + "=" + DefaultTokenSecret, "200 OK"},
		{"a space may replace the first equals sign", "PVEAPIToken " + DefaultTokenID + "=" + DefaultTokenSecret, "200 OK"},
		{"a wrong secret fails", "PVEAPIToken=" + DefaultTokenID + "=wrong", "401 Authentication failed!"},
		{"an unknown token fails", "PVEAPIToken=root@pam!nobody=" + DefaultTokenSecret, "401 Authentication failed!"},
		{"no credentials at all is 'No ticket'", "", "401 No ticket"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := raw(t, srv, "GET", "/version", "", withHeader("Authorization", tc.header))
			if r.Status != tc.status {
				t.Fatalf("got %q want %q", r.Status, tc.status)
			}
			if r.Code == 401 && len(r.Body) != 0 {
				t.Fatalf("auth-phase 401 must have an empty body, got %s", r.Body)
			}
		})
	}
	t.Run("go-proxmox reports ErrNotAuthorized", func(t *testing.T) {
		c := proxmox.NewClient(srv.URL(), proxmox.WithHTTPClient(srv.HTTPClient()), proxmox.WithAPIToken(DefaultTokenID, "bad"))
		if _, err := c.Version(ctx(t)); !errors.Is(err, proxmox.ErrNotAuthorized) {
			t.Fatalf("got %v", err)
		}
	})
}

// ticketTest holds what the subtests of TestTicketLoginCSRFAndRenewal share; they run in order.
type ticketTest struct {
	srv    *Server
	clock  *fakeClock
	ticket string
	csrf   string
}

func TestTicketLoginCSRFAndRenewal(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	srv := newSim(t, func(o *Options) { o.Now = clock.Now })

	fx := &ticketTest{srv: srv, clock: clock}
	t.Run("go-proxmox logs in with credentials and can create", fx.credentialsLogin)
	t.Run("a wrong password is 401 authentication failure with a JSON body", fx.wrongPassword)
	t.Run("a user without realm is not a user", fx.userWithoutRealm)
	t.Run("the realm may come separately", fx.separateRealm)
	t.Run("the ticket's cap has PVE 9's privileges", fx.capListsPVE9Privileges)
	// The subtests below share one ticket.
	fx.ticket, fx.csrf = login(t, srv, "root@pam", DefaultRootPassword)
	t.Run("a ticket works as cookie and as Authorization header", fx.ticketAsCookieOrHeader)
	t.Run("non-GET calls need the CSRF token", fx.csrfNeeded)
	t.Run("the old ticket renews the session", fx.oldTicketRenews)
	t.Run("ExpireTickets invalidates every ticket", fx.expireTickets)
}

func (fx *ticketTest) credentialsLogin(t *testing.T) {
	srv := fx.srv
	c := proxmox.NewClient(srv.URL(), proxmox.WithHTTPClient(srv.HTTPClient()),
		proxmox.WithCredentials(&proxmox.Credentials{Username: "root@pam", Password: DefaultRootPassword}))
	n, err := c.Node(ctx(t), "pve1")
	if err != nil {
		t.Fatal(err)
	}
	task, err := n.NewContainer(ctx(t), 300, proxmox.ContainerOption{Name: "ostemplate", Value: DebianTemplate},
		proxmox.ContainerOption{Name: "rootfs", Value: "local-lvm:4"})
	if err != nil {
		t.Fatal(err)
	}
	if v := waitTask(t, srv, string(task.UPID)); v.ExitStatus != "OK" || v.User != "root@pam" {
		t.Fatalf("task %+v", v)
	}
	if err := c.RefreshTicket(ctx(t)); err != nil {
		t.Fatalf("renew with the old ticket: %v", err)
	}
	if _, err := c.Version(ctx(t)); err != nil {
		t.Fatal(err)
	}
}

func (fx *ticketTest) wrongPassword(t *testing.T) {
	srv := fx.srv
	r := raw(t, srv, "POST", "/access/ticket", form("username", "root@pam", "password", "nope"), noAuth())
	if r.Status != "401 authentication failure" || r.json(t)["message"] != "authentication failure\n" {
		t.Fatalf("%s %s", r.Status, r.Body)
	}
}

func (fx *ticketTest) userWithoutRealm(t *testing.T) {
	srv := fx.srv
	if r := raw(t, srv, "POST", "/access/ticket", form("username", "root", "password", DefaultRootPassword), noAuth()); r.Code != 401 {
		t.Fatalf("got %q", r.Status)
	}
}

func (fx *ticketTest) separateRealm(t *testing.T) {
	srv := fx.srv
	var sess map[string]any
	mustOK(t, raw(t, srv, "POST", "/access/ticket", form("username", "root", "realm", "pam", "password", DefaultRootPassword), noAuth())).data(t, &sess)
	if sess["username"] != "root@pam" || sess["clustername"] != DefaultClusterName {
		t.Fatalf("session %v", sess)
	}
	caps := sess["cap"].(map[string]any)["vms"].(map[string]any)
	if caps["VM.Allocate"] != float64(1) {
		t.Fatalf("cap %v", caps)
	}
}

// capListsPVE9Privileges: the cap follows PVE 9's privilege list, which
// added Sys.AccessNetwork and dropped VM.Monitor.
func (fx *ticketTest) capListsPVE9Privileges(t *testing.T) {
	var sess struct {
		Cap map[string]map[string]int `json:"cap"`
	}
	mustOK(t, raw(t, fx.srv, "POST", "/access/ticket", form("username", "root@pam", "password", DefaultRootPassword), noAuth())).data(t, &sess)
	if _, ok := sess.Cap["vms"]["VM.Monitor"]; ok || sess.Cap["nodes"]["Sys.AccessNetwork"] != 1 {
		t.Fatalf("cap %v", sess.Cap)
	}
}

func (fx *ticketTest) ticketAsCookieOrHeader(t *testing.T) {
	srv, ticket := fx.srv, fx.ticket
	mustOK(t, raw(t, srv, "GET", "/version", "", noAuth(), withTicket(ticket)))
	mustOK(t, raw(t, srv, "GET", "/version", "", noAuth(), withHeader("Authorization", "PVEAuthCookie="+ticket)))
}

func (fx *ticketTest) csrfNeeded(t *testing.T) {
	srv, ticket, csrf := fx.srv, fx.ticket, fx.csrf
	r := raw(t, srv, "POST", "/nodes/pve1/lxc/300/status/start", "", noAuth(), withTicket(ticket))
	if r.Status != "401 Permission denied - invalid csrf token" {
		t.Fatalf("got %q", r.Status)
	}
	mustOK(t, raw(t, srv, "POST", "/nodes/pve1/lxc/300/status/start", "", noAuth(), withTicket(ticket), withHeader("CSRFPreventionToken", csrf)))
}

func (fx *ticketTest) oldTicketRenews(t *testing.T) {
	srv, clock, ticket := fx.srv, fx.clock, fx.ticket
	clock.Add(90 * time.Minute)
	newTicket, _ := login(t, srv, "root@pam", ticket)
	clock.Add(45 * time.Minute)
	r := raw(t, srv, "GET", "/version", "", noAuth(), withTicket(ticket))
	if r.Status != "401 permission denied - invalid PVE ticket" {
		t.Fatalf("expired ticket: %q", r.Status)
	}
	mustOK(t, raw(t, srv, "GET", "/version", "", noAuth(), withTicket(newTicket)))
	r = raw(t, srv, "POST", "/access/ticket", form("username", "root@pam", "password", ticket), noAuth())
	if r.Status != "401 authentication failure" {
		t.Fatalf("renewing with an expired ticket: %q", r.Status)
	}
}

func (fx *ticketTest) expireTickets(t *testing.T) {
	srv := fx.srv
	fresh, _ := login(t, srv, "root@pam", DefaultRootPassword)
	srv.ExpireTickets()
	if r := raw(t, srv, "GET", "/version", "", noAuth(), withTicket(fresh)); r.Code != 401 {
		t.Fatalf("got %q", r.Status)
	}
}

func TestUnauthorizedResponsesAreDelayed(t *testing.T) {
	t.Parallel()
	srv := newSim(t, func(o *Options) { o.UnauthorizedDelay = 300 * time.Millisecond })
	start := time.Now()
	r := raw(t, srv, "GET", "/version", "", noAuth())
	if r.Code != 401 || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("%q after %v", r.Status, time.Since(start))
	}
	srv.SetUnauthorizedDelay(0)
	mustOK(t, raw(t, srv, "GET", "/version", ""))
}

func TestPrivileges(t *testing.T) {
	t.Parallel()
	const auditor = "audit@pve!ro"
	srv := newSim(t, func(o *Options) {
		o.Tokens = []TokenSpec{
			{ID: DefaultTokenID, Secret: DefaultTokenSecret},
			{ID: auditor, Secret: "s3cret", Privileges: []string{"VM.Audit", "Sys.Audit", "Datastore.Audit", "VM.Config.Memory"}},
			{ID: "none@pve!t", Secret: "x", Privileges: []string{"VM.Audit"}},
		}
		o.Users = []UserSpec{{ID: "root@pam", Password: DefaultRootPassword}, {ID: "audit@pve", Password: "auditpw"}, {ID: "none@pve"}}
	})
	createCT(t, srv, "pve1", 100)
	createCT(t, srv, "pve1", 101)
	asAuditor := withHeader("Authorization", "PVEAPIToken="+auditor+"=s3cret")

	t.Run("a token without VM.Config.CPU cannot change cores", func(t *testing.T) {
		r := raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form("cores", "2"), asAuditor)
		if r.Status != "403 Permission check failed (/vms/100, VM.Config.CPU)" {
			t.Fatalf("got %q", r.Status)
		}
	})
	t.Run("without any VM.Config privilege the declared check fails first", func(t *testing.T) {
		r := raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form("cores", "2"), withHeader("Authorization", "PVEAPIToken=none@pve!t=x"))
		if r.Status != "403 Permission check failed (/vms/100, VM.Config.Disk|VM.Config.CPU|VM.Config.Memory|VM.Config.Network|VM.Config.Options)" {
			t.Fatalf("got %q", r.Status)
		}
	})
	t.Run("it can still read", func(t *testing.T) {
		mustOK(t, raw(t, srv, "GET", "/nodes/pve1/lxc/100/status/current", "", asAuditor))
	})
	t.Run("dropping VM.Audit on one guest gives 403 for that guest only", func(t *testing.T) {
		if err := srv.DropPrivilege(auditor, "/vms/100", "VM.Audit"); err != nil {
			t.Fatal(err)
		}
		r := raw(t, srv, "GET", "/nodes/pve1/lxc/100/status/current", "", asAuditor)
		if r.Status != "403 Permission check failed (/vms/100, VM.Audit)" {
			t.Fatalf("got %q", r.Status)
		}
		mustOK(t, raw(t, srv, "GET", "/nodes/pve1/lxc/101/status/current", "", asAuditor))
		var list []map[string]any
		mustOK(t, raw(t, srv, "GET", "/cluster/resources?type=vm", "", asAuditor)).data(t, &list)
		if len(list) != 1 || list[0]["vmid"] != float64(101) {
			t.Fatalf("resources must hide 100: %v", list)
		}
	})
	t.Run("privilege separation: dropping on the user limits its tokens", func(t *testing.T) {
		if err := srv.DropPrivilege("audit@pve", "/", "Sys.Audit"); err != nil {
			t.Fatal(err)
		}
		r := raw(t, srv, "GET", "/nodes/pve1/status", "", asAuditor)
		if r.Status != "403 Permission check failed (/nodes/pve1, Sys.Audit)" {
			t.Fatalf("got %q", r.Status)
		}
		_ = srv.RestorePrivileges("audit@pve")
		_ = srv.RestorePrivileges(auditor)
		mustOK(t, raw(t, srv, "GET", "/nodes/pve1/lxc/100/status/current", "", asAuditor))
	})
	t.Run("go-proxmox maps 403 to ErrNotAuthorized", func(t *testing.T) {
		_ = srv.DropPrivilege(auditor, "/", "VM.Audit")
		defer func() { _ = srv.RestorePrivileges(auditor) }()
		c := proxmox.NewClient(srv.URL(), proxmox.WithHTTPClient(srv.HTTPClient()), proxmox.WithAPIToken(auditor, "s3cret"))
		err := c.Get(ctx(t), "/nodes/pve1/lxc/100/config", nil)
		if !errors.Is(err, proxmox.ErrNotAuthorized) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a revoked token is 401 until restored", func(t *testing.T) {
		if err := srv.RevokeToken(auditor); err != nil {
			t.Fatal(err)
		}
		if r := raw(t, srv, "GET", "/version", "", asAuditor); r.Status != "401 Authentication failed!" {
			t.Fatalf("got %q", r.Status)
		}
		_ = srv.RestoreToken(auditor)
		mustOK(t, raw(t, srv, "GET", "/version", "", asAuditor))
	})
}

// PVE checks the user "root@pam" literally for some options, so even
// root@pam's API tokens get 403 there.
func TestRootOnlyOptionsRefuseTokens(t *testing.T) {
	t.Parallel()
	srv := newSim(t)
	createCT(t, srv, "pve1", 100)
	tests := []struct {
		name, body, status string
	}{
		{"nesting alone is allowed", form("features", "nesting=1"), "200 OK"},
		{"keyctl is root@pam only", form("features", "nesting=1,keyctl=1"), "403 Permission check failed (changing feature flags (except nesting) is only allowed for root@pam)"},
		{"bind mounts are root@pam only", form("mp0", "/srv/data,mp=/data"), "403 Permission check failed (mount point type bind is only allowed for root@pam)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r := raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", tc.body); r.Status != tc.status {
				t.Fatalf("got %q want %q", r.Status, tc.status)
			}
		})
	}
	t.Run("root@pam with a ticket may set keyctl", func(t *testing.T) {
		ticket, csrf := login(t, srv, "root@pam", DefaultRootPassword)
		mustOK(t, raw(t, srv, "PUT", "/nodes/pve1/lxc/100/config", form("features", "keyctl=1,nesting=1"), noAuth(), withTicket(ticket), withHeader("CSRFPreventionToken", csrf)))
	})
}
