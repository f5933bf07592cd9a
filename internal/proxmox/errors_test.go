package proxmox_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pve-operator/pve-operator/internal/proxmox"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

// classifyCase is one PVE failure and the typed error it must become.
type classifyCase struct {
	name  string
	setup func(t *testing.T) // undone with t.Cleanup
	call  func(ctx context.Context) error
	is    func(error) bool
	check func(t *testing.T, err error)
}

// classifyEnv is the simulator the classification cases share: seeded
// containers, a qemu VM and a protected backup, and a second simulator
// whose CA the client does not trust.
type classifyEnv struct {
	srv, other      *pvesim.Server
	c               *proxmox.APIClient
	protectedBackup string
	closedPort      string
	// taskErr is the error a task-starting call returned, else the error
	// its task ended with.
	taskErr    func(upid proxmox.UPID, err error) error
	clientWith func(mod func(*proxmox.Config)) *proxmox.APIClient
}

func newClassifyEnv(ctx context.Context, t *testing.T) *classifyEnv {
	t.Helper()
	srv := newSim(t, func(o *pvesim.Options) { o.FlockTimeout = 50 * time.Millisecond })
	e := &classifyEnv{srv: srv, c: newClient(t, srv), other: newSim(t)}
	seedCT(t, srv, node1, 101, false, nil)                                  // stopped
	seedCT(t, srv, node1, 102, true, nil)                                   // running
	seedCT(t, srv, node1, 103, false, map[string]string{"protection": "1"}) // protected
	seedCT(t, srv, node1, 104, false, nil)                                  // busy flock
	seedCT(t, srv, node2, 105, false, nil)                                  // on a node that goes offline
	seedCT(t, srv, node1, 106, true, nil)                                   // locked for vzdump
	if err := srv.AddVM(node1, 200, "qemu"); err != nil {
		t.Fatal(err)
	}
	var err error
	if e.protectedBackup, err = srv.AddBackup(pvesim.BackupSpec{VMID: 101, Node: node1, Protected: true}); err != nil {
		t.Fatal(err)
	}
	e.taskErr = func(upid proxmox.UPID, err error) error {
		if err != nil {
			return err
		}
		if _, err := srv.WaitTask(ctx, upid.String()); err != nil {
			return fmt.Errorf("wait for %s: %w", upid, err)
		}
		st, err := e.c.TaskStatus(ctx, upid.String())
		if err != nil {
			return fmt.Errorf("task status %s: %w", upid, err)
		}
		return st.Err
	}
	e.clientWith = func(mod func(*proxmox.Config)) *proxmox.APIClient { return newClient(t, srv, mod) }
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.closedPort = ln.Addr().String()
	_ = ln.Close()
	return e
}

// TestErrorClassification drives each PVE failure through the simulator and
// checks the typed error the client turns it into, and that no error text
// carries a credential.
func TestErrorClassification(t *testing.T) {
	ctx := testCtx(t)
	e := newClassifyEnv(ctx, t)
	for _, group := range [][]classifyCase{
		notFoundAndLockCases(e),
		conflictCases(ctx, e),
		authCases(e),
		transportCases(e),
		statusCases(e),
		taskCases(e),
		stateCases(e),
		requestCases(e),
	} {
		for _, tt := range group {
			t.Run(tt.name, func(t *testing.T) { checkClassification(ctx, t, tt) })
		}
	}
}

func checkClassification(ctx context.Context, t *testing.T, tt classifyCase) {
	t.Helper()
	if tt.setup != nil {
		tt.setup(t)
	}
	err := tt.call(ctx)
	if err == nil {
		t.Fatal("no error")
	}
	if !tt.is(err) {
		t.Fatalf("wrong classification: %T: %v", errors.Unwrap(err), err)
	}
	if tt.check != nil {
		tt.check(t, err)
	}
	assertNoSecrets(t, err)
}

// notFoundAndLockCases: missing objects and locks.
func notFoundAndLockCases(e *classifyEnv) []classifyCase {
	return []classifyCase{
		{
			name: "a missing container is NotFound",
			call: func(ctx context.Context) error { _, err := e.c.ContainerStatus(ctx, node1, 999); return err },
			is:   proxmox.IsNotFound,
			check: func(t *testing.T, err error) {
				var nf *proxmox.NotFoundError
				if !errors.As(err, &nf) || nf.Resource != "container" || proxmox.StatusCode(err) != 500 {
					t.Errorf("NotFoundError = %+v, status %d", nf, proxmox.StatusCode(err))
				}
			},
		},
		{
			name: "deleting a missing snapshot fails in the task as NotFound",
			call: func(ctx context.Context) error { return e.taskErr(e.c.DeleteSnapshot(ctx, node1, 101, "nope")) },
			is:   func(err error) bool { return proxmox.IsTaskFailed(err) && proxmox.IsNotFound(err) },
		},
		{
			name:  "a config change on a locked container is Locked, with the lock's name",
			setup: lockCT(e.srv, 101, "backup"),
			call: func(ctx context.Context) error {
				return e.c.UpdateContainerConfig(ctx, node1, 101, proxmox.ConfigUpdate{Set: map[string]string{"cores": "2"}})
			},
			is: proxmox.IsLocked,
			check: func(t *testing.T, err error) {
				if proxmox.LockName(err) != "backup" || proxmox.IsTaskFailed(err) {
					t.Errorf("lock = %q", proxmox.LockName(err))
				}
			},
		},
		{
			name:  "starting a locked container fails in the task as Locked",
			setup: lockCT(e.srv, 101, "snapshot"),
			call:  func(ctx context.Context) error { return e.taskErr(e.c.StartContainer(ctx, node1, 101)) },
			is:    func(err error) bool { return proxmox.IsTaskFailed(err) && proxmox.IsLocked(err) },
			check: func(t *testing.T, err error) {
				if proxmox.LockName(err) != "snapshot" {
					t.Errorf("lock = %q", proxmox.LockName(err))
				}
			},
		},
	}
}

// conflictCases: requests that collide with what exists or runs.
func conflictCases(ctx context.Context, e *classifyEnv) []classifyCase {
	return []classifyCase{
		{
			name: "creating over an existing container is AlreadyExists",
			call: func(ctx context.Context) error {
				_, err := e.c.CreateContainer(ctx, node1, 101, proxmox.CreateRequest{Params: debianCT()})
				return err
			},
			is: proxmox.IsAlreadyExists,
		},
		{
			name: "creating over a qemu VM's VMID is AlreadyExists",
			call: func(ctx context.Context) error {
				_, err := e.c.CreateContainer(ctx, node2, 200, proxmox.CreateRequest{Params: debianCT()})
				return err
			},
			is: proxmox.IsAlreadyExists,
		},
		{
			name: "a stale digest is DigestMismatch",
			call: func(ctx context.Context) error {
				cfg, err := e.c.ContainerConfig(ctx, node1, 101, false)
				if err != nil {
					return err
				}
				if err := e.srv.BumpDigest(101); err != nil {
					return fmt.Errorf("bump digest: %w", err)
				}
				return e.c.UpdateContainerConfig(ctx, node1, 101, proxmox.ConfigUpdate{Set: map[string]string{"cores": "2"}, Digest: cfg.Digest()})
			},
			is: proxmox.IsDigestMismatch,
		},
		{
			name: "a config flock held by a running worker is LockTimeout",
			setup: func(t *testing.T) {
				e.srv.StallTasks(pvesim.TaskDestroy, "104", 1)
				if _, err := e.c.DeleteContainer(ctx, node1, 104, proxmox.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { e.srv.ReleaseTasks(); _ = e.srv.WaitIdle(ctx) })
			},
			call: func(ctx context.Context) error {
				return e.c.UpdateContainerConfig(ctx, node1, 104, proxmox.ConfigUpdate{Set: map[string]string{"cores": "2"}})
			},
			is: proxmox.IsLockTimeout,
		},
	}
}

// authCases: credentials and privileges.
func authCases(e *classifyEnv) []classifyCase {
	return []classifyCase{
		{
			name: "a wrong token secret is Unauthorized",
			call: func(ctx context.Context) error {
				_, err := e.clientWith(func(c *proxmox.Config) { c.Credentials.TokenSecret = "wrong-secret" }).Version(ctx)
				return err
			},
			is: proxmox.IsUnauthorized,
			check: func(t *testing.T, err error) {
				if proxmox.StatusCode(err) != 401 || strings.Contains(err.Error(), "wrong-secret") {
					t.Errorf("status %d, text %q", proxmox.StatusCode(err), err)
				}
			},
		},
		{
			name: "a revoked token is Unauthorized",
			setup: func(t *testing.T) {
				if err := e.srv.RevokeToken(pvesim.DefaultTokenID); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = e.srv.RestoreToken(pvesim.DefaultTokenID) })
			},
			call: func(ctx context.Context) error { _, err := e.c.Nodes(ctx); return err },
			is:   proxmox.IsUnauthorized,
		},
		{
			name: "a wrong password is Unauthorized",
			call: func(ctx context.Context) error {
				_, err := e.clientWith(func(c *proxmox.Config) {
					c.Credentials = proxmox.Credentials{Username: "root@pam", Password: "not-the-" + testPassword}
				}).Version(ctx)
				return err
			},
			is: proxmox.IsUnauthorized,
		},
		{
			name: "a missing privilege is Forbidden",
			setup: func(t *testing.T) {
				if err := e.srv.DropPrivilege(pvesim.DefaultTokenID, "/vms/101", "VM.Audit"); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = e.srv.RestorePrivileges(pvesim.DefaultTokenID) })
			},
			call: func(ctx context.Context) error { _, err := e.c.ContainerStatus(ctx, node1, 101); return err },
			is:   proxmox.IsForbidden,
			check: func(t *testing.T, err error) {
				if !strings.Contains(err.Error(), "VM.Audit") {
					t.Errorf("message lost: %v", err)
				}
			},
		},
	}
}

// transportCases: TLS and connection failures.
func transportCases(e *classifyEnv) []classifyCase {
	return []classifyCase{
		{
			name: "a certificate from an untrusted CA is a TLS error",
			call: func(ctx context.Context) error {
				_, err := e.clientWith(func(c *proxmox.Config) { c.CABundle = e.other.CACertPEM() }).Version(ctx)
				return err
			},
			is: proxmox.IsTLS,
		},
		{
			name: "without a CA bundle the system roots do not trust a self-signed PVE",
			call: func(ctx context.Context) error {
				_, err := e.clientWith(func(c *proxmox.Config) { c.CABundle = nil }).Version(ctx)
				return err
			},
			is: proxmox.IsTLS,
		},
		{
			name: "a closed port is Unreachable",
			call: func(ctx context.Context) error {
				_, err := e.clientWith(func(c *proxmox.Config) { c.Endpoint = "https://" + e.closedPort }).Version(ctx)
				return err
			},
			is: func(err error) bool { return proxmox.IsUnreachable(err) && !proxmox.IsOutcomeUnknown(err) },
		},
	}
}

// statusCases: HTTP statuses that carry no PVE wording.
func statusCases(e *classifyEnv) []classifyCase {
	return []classifyCase{
		{
			name:  "an unrecognised 500 is a plain APIError with status and first line",
			setup: fault(e.srv, http.MethodGet, "/version", 1, 500, "kaboom: database on fire\nstack trace follows"),
			call:  func(ctx context.Context) error { _, err := e.c.Version(ctx); return err },
			is: func(err error) bool {
				var api *proxmox.APIError
				return errors.As(err, &api) && api.StatusCode == 500 && api.Message == "kaboom: database on fire"
			},
			check: func(t *testing.T, err error) {
				if proxmox.IsNotFound(err) || proxmox.IsUnreachable(err) || proxmox.IsTransient(err) {
					t.Errorf("over-classified: %v", err)
				}
			},
		},
		{
			name:  "a 503 from a proxy on a mutating call is Unreachable, and it was not retried",
			setup: fault(e.srv, http.MethodPost, "/nodes/{node}/lxc/{vmid}/status/start", -1, 503, ""),
			call: func(ctx context.Context) error {
				e.srv.ResetRequestCounts()
				_, err := e.c.StartContainer(ctx, node1, 101)
				return err
			},
			is: proxmox.IsUnreachable,
			check: func(t *testing.T, _ error) {
				if n := e.srv.RequestCount("POST /nodes/{node}/lxc/{vmid}/status/start"); n != 1 {
					t.Errorf("start sent %d times", n)
				}
			},
		},
		{
			name:  "a 595 for an offline node is Unreachable",
			setup: nodeOffline(e.srv, node2),
			call:  func(ctx context.Context) error { _, err := e.c.ContainerStatus(ctx, node2, 105); return err },
			is:    proxmox.IsUnreachable,
			check: func(t *testing.T, err error) {
				if proxmox.StatusCode(err) != 595 {
					t.Errorf("status = %d", proxmox.StatusCode(err))
				}
			},
		},
		{
			name:  "an empty 404, which go-proxmox reports as success, is an APIError",
			setup: fault(e.srv, http.MethodGet, "/nodes/{node}/lxc/{vmid}/status/current", 1, 404, ""),
			call:  func(ctx context.Context) error { _, err := e.c.ContainerStatus(ctx, node1, 101); return err },
			is:    func(err error) bool { return proxmox.StatusCode(err) == 404 },
		},
	}
}

// taskCases: task failures and task lookups.
func taskCases(e *classifyEnv) []classifyCase {
	return []classifyCase{
		{
			name:  "a failed task is TaskFailed with its exit status",
			setup: func(t *testing.T) { e.srv.FailTasks(pvesim.TaskStart, "101", 1, "startup for container '101' failed") },
			call:  func(ctx context.Context) error { return e.taskErr(e.c.StartContainer(ctx, node1, 101)) },
			is:    proxmox.IsTaskFailed,
			check: func(t *testing.T, err error) {
				var tf *proxmox.TaskFailedError
				if !errors.As(err, &tf) || tf.ExitStatus != "startup for container '101' failed" || !strings.Contains(tf.UPID, ":vzstart:101:") {
					t.Errorf("TaskFailedError = %+v", tf)
				}
			},
		},
		{
			name: "an unknown UPID is NoSuchTask",
			call: func(ctx context.Context) error {
				_, err := e.c.TaskStatus(ctx, "UPID:pve1:00001023:018B85E8:6B092B02:vzcreate:100:root@pam!operator:")
				return err
			},
			is: proxmox.IsNoSuchTask,
		},
		{
			name: "a UPID whose log was rotated away is NoSuchTask",
			call: func(ctx context.Context) error {
				upid, err := e.c.StopContainer(ctx, node1, 102)
				if err != nil {
					return err
				}
				if _, err := e.srv.WaitTask(ctx, upid.String()); err != nil {
					return fmt.Errorf("wait for %s: %w", upid, err)
				}
				e.srv.ForgetTask(upid.String())
				_, err = e.c.TaskStatus(ctx, upid.String())
				return err
			},
			is: proxmox.IsNoSuchTask,
		},
		{
			name: "a string that is not a UPID is InvalidUPIDError, without a request",
			call: func(ctx context.Context) error { _, err := e.c.TaskStatus(ctx, "OK"); return err },
			is: func(err error) bool {
				var inv *proxmox.InvalidUPIDError
				return errors.As(err, &inv)
			},
		},
	}
}

// stateCases: operations the container's state refuses.
func stateCases(e *classifyEnv) []classifyCase {
	return []classifyCase{
		{
			name: "shutting down a stopped container is NotRunning",
			call: func(ctx context.Context) error {
				_, err := e.c.ShutdownContainer(ctx, node1, 101, proxmox.ShutdownOptions{})
				return err
			},
			is: proxmox.IsNotRunning,
		},
		{
			name:  "starting a running container is AlreadyRunning",
			setup: running(e.srv, 102),
			call:  func(ctx context.Context) error { _, err := e.c.StartContainer(ctx, node1, 102); return err },
			is:    proxmox.IsAlreadyRunning,
		},
		{
			name:  "deleting a running container without force is AlreadyRunning",
			setup: running(e.srv, 102),
			call: func(ctx context.Context) error {
				_, err := e.c.DeleteContainer(ctx, node1, 102, proxmox.DeleteOptions{})
				return err
			},
			is: proxmox.IsAlreadyRunning,
		},
		{
			name: "deleting a protected container is Protected",
			call: func(ctx context.Context) error {
				_, err := e.c.DeleteContainer(ctx, node1, 103, proxmox.DeleteOptions{})
				return err
			},
			is: proxmox.IsProtected,
		},
		{
			name: "deleting a protected backup fails in the task as Protected",
			call: func(ctx context.Context) error {
				return e.taskErr(e.c.DeleteVolume(ctx, node1, "local", e.protectedBackup))
			},
			is: func(err error) bool { return proxmox.IsTaskFailed(err) && proxmox.IsProtected(err) },
		},
	}
}

// requestCases: refused parameters and vzdump's own ways of failing.
func requestCases(e *classifyEnv) []classifyCase {
	return []classifyCase{
		{
			name: "an unknown parameter is BadRequest naming the parameter",
			call: func(ctx context.Context) error {
				_, err := e.c.CreateContainer(ctx, node1, 150, proxmox.CreateRequest{
					Params: params("ostemplate", pvesim.DebianTemplate, "unprivileged", "0", "bogus", "1"),
				})
				return err
			},
			is: proxmox.IsBadRequest,
			check: func(t *testing.T, err error) {
				var br *proxmox.BadRequestError
				if !errors.As(err, &br) || br.Params["bogus"] == "" {
					t.Errorf("params = %+v", br)
				}
			},
		},
		{
			name: "vzdump sent to the wrong node answers OK, which is WrongNode",
			call: func(ctx context.Context) error {
				_, err := e.c.Vzdump(ctx, node2, proxmox.BackupOptions{VMID: 101, Storage: "local"})
				return err
			},
			is: proxmox.IsWrongNode,
		},
		{
			name:  "vzdump of a locked container fails with job errors and the lock as detail",
			setup: lockCT(e.srv, 106, "snapshot"),
			call: func(ctx context.Context) error {
				return e.taskErr(e.c.Vzdump(ctx, node1, proxmox.BackupOptions{VMID: 106, Storage: "local"}))
			},
			is: func(err error) bool { return proxmox.IsTaskFailed(err) && proxmox.IsLocked(err) },
			check: func(t *testing.T, err error) {
				var tf *proxmox.TaskFailedError
				if !errors.As(err, &tf) || tf.ExitStatus != "job errors" || !strings.Contains(tf.Detail, "CT is locked (snapshot)") {
					t.Errorf("TaskFailedError = %+v", tf)
				}
			},
		},
	}
}

func TestHostnameMismatchIsTLSError(t *testing.T) {
	srv := newSim(t, func(o *pvesim.Options) { o.Addr = "0.0.0.0:0" })
	_, port, _ := net.SplitHostPort(srv.Addr())
	// 127.0.0.2 reaches the same listener but is not in the certificate.
	c := newClient(t, srv, func(c *proxmox.Config) { c.Endpoint = "https://127.0.0.2:" + port })
	_, err := c.Version(testCtx(t))
	if !proxmox.IsTLS(err) {
		t.Fatalf("Version() = %v, want a TLS error", err)
	}
}

func TestSecretsNeverAppearInErrors(t *testing.T) {
	srv := newSim(t)
	c := newClient(t, srv)
	ctx := testCtx(t)
	const password = "hunter2-create-pw"

	t.Run("a PVE message echoing a request's password is redacted", func(t *testing.T) {
		srv.FailRequests(http.MethodPost, "/nodes/{node}/lxc", 1, 500, "invalid password '"+password+"'")
		_, err := c.CreateContainer(ctx, node1, 150, proxmox.CreateRequest{
			Params: params("ostemplate", pvesim.DebianTemplate, "unprivileged", "0"), Password: password,
		})
		if err == nil || !strings.Contains(err.Error(), "<redacted>") {
			t.Fatalf("error = %v, want a redacted message", err)
		}
		assertNoSecrets(t, err, password)
		var api *proxmox.APIError
		if !errors.As(err, &api) || strings.Contains(api.Message, password) {
			t.Fatalf("APIError in the chain still holds the password: %+v", api)
		}
	})
	t.Run("a PVE message echoing a restore's password is redacted", func(t *testing.T) {
		srv.FailRequests(http.MethodPost, "/nodes/{node}/lxc", 1, 500, "invalid password '"+password+"'")
		_, err := c.RestoreContainer(ctx, node1, 150, proxmox.RestoreSpec{Archive: "local:backup/vzdump-lxc-100.tar.zst", Password: password})
		if err == nil || !strings.Contains(err.Error(), "<redacted>") {
			t.Fatalf("error = %v, want a redacted message", err)
		}
		assertNoSecrets(t, err, password)
	})
	t.Run("a PVE message echoing the token secret is redacted", func(t *testing.T) {
		srv.FailRequests(http.MethodGet, "/version", 1, 400, "bad token "+pvesim.DefaultTokenSecret)
		_, err := c.Version(ctx)
		if err == nil {
			t.Fatal("no error")
		}
		assertNoSecrets(t, err)
	})
	t.Run("credentials and configs print redacted", func(t *testing.T) {
		for _, cr := range []proxmox.Credentials{tokenCreds(), {Username: "root@pam", Password: testPassword}} {
			cfg := proxmox.Config{Endpoint: srv.URL(), Credentials: cr}
			for _, s := range []string{sprint("%v", cr), sprint("%+v", cr), sprint("%#v", cr), sprint("%s", cr), sprint("%v", cfg), sprint("%+v", cfg), sprint("%#v", cfg)} {
				if strings.Contains(s, pvesim.DefaultTokenSecret) || strings.Contains(s, testPassword) {
					t.Errorf("printed secret: %s", s)
				}
			}
		}
	})
}

func lockCT(srv *pvesim.Server, vmid int, lock string) func(*testing.T) {
	return func(t *testing.T) {
		if err := srv.SetLock(vmid, lock); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.SetLock(vmid, "") })
	}
}

func fault(srv *pvesim.Server, method, path string, n, status int, msg string) func(*testing.T) {
	return func(t *testing.T) {
		id := srv.FailRequests(method, path, n, status, msg)
		t.Cleanup(func() { srv.RemoveFault(id) })
	}
}

func nodeOffline(srv *pvesim.Server, node string) func(*testing.T) {
	return func(t *testing.T) {
		if err := srv.SetNodeOnline(node, false); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.SetNodeOnline(node, true) })
	}
}

func running(srv *pvesim.Server, vmid int) func(*testing.T) {
	return func(t *testing.T) {
		if err := srv.SetRunning(vmid, true); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTimeouts(t *testing.T) {
	t.Run("a request outliving Config.Timeout is Unreachable", func(t *testing.T) {
		srv := newSim(t)
		c := newClient(t, srv, func(c *proxmox.Config) { c.Timeout = 50 * time.Millisecond })
		seedCT(t, srv, node1, 100, false, nil)
		srv.HangRequests(http.MethodPost, "/nodes/{node}/lxc/{vmid}/status/start", 1)
		_, err := c.StartContainer(testCtx(t), node1, 100)
		if !proxmox.IsUnreachable(err) || !proxmox.IsOutcomeUnknown(err) {
			t.Fatalf("StartContainer() = %v, want unreachable with unknown outcome", err)
		}
	})
	t.Run("the caller's own deadline is reported as such, not as Unreachable", func(t *testing.T) {
		srv := newSim(t)
		c := newClient(t, srv)
		srv.HangRequests(http.MethodGet, "/version", 1)
		ctx, cancel := context.WithTimeout(testCtx(t), 50*time.Millisecond)
		defer cancel()
		_, err := c.Version(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || proxmox.IsUnreachable(err) {
			t.Fatalf("Version() = %v, want context.DeadlineExceeded", err)
		}
		if n := srv.RequestCount("GET /version"); n != 1 {
			t.Fatalf("a cancelled read was retried: %d requests", n)
		}
	})
}

func TestInsecureSkipVerifyAcceptsAnyCertificate(t *testing.T) {
	srv := newSim(t)
	c := newClient(t, srv, func(c *proxmox.Config) { c.CABundle, c.InsecureSkipVerify = nil, true })
	if _, err := c.Version(testCtx(t)); err != nil {
		t.Fatalf("Version() = %v", err)
	}
}
