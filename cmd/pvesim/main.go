// Command pvesim runs the Proxmox VE API simulator (internal/pvesim) as a
// standalone HTTPS server for local development and demos, optionally with
// the simulated node SSH daemon (`pct exec`, `pct config`, /etc/pve config files).
package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pve-operator/pve-operator/internal/pvesim"
)

const usageHeader = `pvesim - a Proxmox VE 9.2 HTTP API simulator (LXC subset) for developing the operator.

It serves https://<listen>/api2/json with PVE's wire format (reason phrases,
{"data":…} envelopes, UPIDs, task logs, locks, digests, pending changes) and a
JSON fault-injection/inspection API under https://<listen>/_sim/.

Usage:
  pvesim [flags]

Examples:
  pvesim                                   # dev defaults: pve1..pve3, local + local-lvm, realistic timings
  pvesim --profile fast --unauthorized-delay 0
  pvesim --storage 'id=local,type=dir,content=vztmpl;backup;iso,size=200G' \
         --storage 'id=nfs,type=dir,content=backup,size=2T,shared=1'
  pvesim --duration vzcreate=2s-5s --duration vzdump=30s
  pvesim --ssh-listen 127.0.0.1:2222 --ssh-authorized-keys ~/.ssh/id_ed25519.pub

Flags (one or two dashes):
`

type config struct {
	listen, nodes, clusterName, profile, caOut, tlsCert, tlsKey, caCert string
	stateFile, sshListen, sshAuthorizedKeys, sshHostKey, sshScratch     string
	unauthorizedDelay, resourcesRefresh, timeoutUnit, ticketLifetime    time.Duration
	stateSaveInterval, flockTimeout                                     time.Duration
	storages, templates, tokens, users, durations, pools, hostnames     listFlag
	verbose                                                             bool
}

func main() {
	cfg := parseFlags()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "pvesim:", err)
		os.Exit(1)
	}
}

func parseFlags() *config {
	c := &config{}
	c.templates.values = pvesim.DefaultTemplates()
	c.tokens.values = []string{pvesim.DefaultTokenID + "=" + pvesim.DefaultTokenSecret}
	c.users.values = []string{"root@pam=" + pvesim.DefaultRootPassword}
	fs := flag.CommandLine
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8006", "HTTPS listen address (host:port) for /api2/json and /_sim/")
	fs.StringVar(&c.nodes, "nodes", "pve1,pve2,pve3", "comma-separated node names; append :offline to start a node offline")
	fs.StringVar(&c.clusterName, "cluster-name", pvesim.DefaultClusterName, "cluster name shown in /cluster/status")
	fs.Var(&c.storages, "storage", "storage, repeatable: 'id=ID,type=dir|lvmthin,content=a;b,size=100G[,shared=1][,nodes=n1;n2][,path=/p][,max-protected=N]'\n(default: local (dir: vztmpl;backup;iso, 100G) and local-lvm (lvmthin: rootdir;images, 500G) on every node)")
	fs.Var(&c.templates, "template", "vztmpl volid seeded on its storage, repeatable; the first use replaces the defaults")
	fs.Var(&c.tokens, "token", "API token, repeatable: 'user@realm!name=secret[:Priv1+Priv2]'; without privileges it is an Administrator.\nAPI tokens are not root@pam: PVE refuses them features other than nesting, bind mounts and devices")
	fs.Var(&c.users, "user", "user for POST /access/ticket, repeatable: 'user@realm=password[:Priv1+Priv2]'")
	fs.Var(&c.pools, "pool", "resource pool that exists, repeatable")
	fs.StringVar(&c.profile, "profile", pvesim.ProfileRealistic, "task duration profile: fast (50-300 ms, for tests) or realistic (vzcreate 10-60 s, vzdump 10-90 s, …)")
	fs.Var(&c.durations, "duration", "per-task-type duration override, repeatable: 'vzcreate=10s-60s' or 'vzstart=2s'\n(types: vzcreate vzrestore vzstart vzstop vzshutdown vzreboot vzdestroy vzclone vzmigrate resize vzsnapshot vzdelsnapshot vzrollback vztemplate vzdump imgdel)")
	fs.DurationVar(&c.timeoutUnit, "timeout-unit", 0, "real length of one PVE-side timeout second (shutdown timeout, vzdump lockwait, delete delay); default 1s (realistic) or 10ms (fast)")
	fs.DurationVar(&c.flockTimeout, "flock-timeout", 10*time.Second, "how long a config change waits for a busy CT's config flock before 'got timeout' (PVE: 10s)")
	fs.DurationVar(&c.unauthorizedDelay, "unauthorized-delay", 3*time.Second, "delay before every 401 answer, as pveproxy does (3s); 0 disables")
	fs.DurationVar(&c.ticketLifetime, "ticket-lifetime", 2*time.Hour, "login ticket lifetime")
	fs.DurationVar(&c.resourcesRefresh, "resources-refresh", 0, "serve /cluster/resources statistics from a snapshot refreshed this often (PVE: ~10s); 0 = live")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "PEM server certificate to use instead of a generated one (needs --tls-key)")
	fs.StringVar(&c.tlsKey, "tls-key", "", "PEM private key for --tls-cert")
	fs.StringVar(&c.caCert, "ca-cert", "", "PEM CA that issued --tls-cert, reported by /_sim and copied to --ca-out")
	fs.StringVar(&c.caOut, "ca-out", filepath.Join(os.TempDir(), "pvesim-ca.pem"), "where to write the CA certificate clients should trust")
	fs.Var(&c.hostnames, "hostname", "extra DNS name or IP for the generated certificate, repeatable")
	fs.StringVar(&c.stateFile, "state-file", "", "JSON file to load state from at start and save to periodically and on exit")
	fs.DurationVar(&c.stateSaveInterval, "state-save-interval", 10*time.Second, "how often to write --state-file")
	fs.StringVar(&c.sshListen, "ssh-listen", "", "start the simulated node SSH daemon (pct exec, pct config, /etc/pve config files) on this loopback address, e.g. 127.0.0.1:2222")
	fs.StringVar(&c.sshAuthorizedKeys, "ssh-authorized-keys", "", "authorized_keys file for --ssh-listen")
	fs.StringVar(&c.sshHostKey, "ssh-host-key", "", "SSH host key file, created if missing (default: a throwaway key)")
	fs.StringVar(&c.sshScratch, "ssh-scratch", "", "directory holding per-container working directories for pct exec (default: a temp dir)")
	fs.BoolVar(&c.verbose, "v", false, "log every request and task")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHeader)
		fs.PrintDefaults()
	}
	flag.Parse()
	return c
}

func buildOptions(c *config) (pvesim.Options, error) {
	o := pvesim.Options{
		Addr: c.listen, ClusterName: c.clusterName, Templates: c.templates.values, Pools: c.pools.values,
		Profile: c.profile, TimeoutUnit: c.timeoutUnit, FlockTimeout: c.flockTimeout,
		UnauthorizedDelay: c.unauthorizedDelay, TicketLifetime: c.ticketLifetime,
		ResourcesRefresh: c.resourcesRefresh, StateFile: c.stateFile, Hostnames: c.hostnames.values,
		Durations: pvesim.TaskDurations{},
	}
	if c.profile != pvesim.ProfileFast && c.profile != pvesim.ProfileRealistic {
		return o, fmt.Errorf("--profile must be fast or realistic")
	}
	var err error
	if o.Nodes, err = parseNodes(c.nodes); err != nil {
		return o, err
	}
	for _, s := range c.storages.values {
		sp, err := parseStorage(s)
		if err != nil {
			return o, err
		}
		o.Storages = append(o.Storages, sp)
	}
	for _, s := range c.tokens.values {
		t, err := parseToken(s)
		if err != nil {
			return o, err
		}
		o.Tokens = append(o.Tokens, t)
	}
	for _, s := range c.users.values {
		u, err := parseUser(s)
		if err != nil {
			return o, err
		}
		o.Users = append(o.Users, u)
	}
	for _, s := range c.durations.values {
		typ, r, err := parseDuration(s)
		if err != nil {
			return o, err
		}
		o.Durations[typ] = r
	}
	if c.tlsCert != "" || c.tlsKey != "" {
		cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
		if err != nil {
			return o, fmt.Errorf("load --tls-cert/--tls-key: %w", err)
		}
		o.TLSCertificate = &cert
		if c.caCert != "" {
			if o.CACertPEM, err = os.ReadFile(c.caCert); err != nil {
				return o, err
			}
		}
	}
	if c.sshListen != "" {
		ssh := &pvesim.SSHOptions{Addr: c.sshListen, HostKeyPath: c.sshHostKey, ScratchRoot: c.sshScratch}
		if c.sshAuthorizedKeys != "" {
			if ssh.AuthorizedKeys, err = pvesim.ReadAuthorizedKeys(c.sshAuthorizedKeys); err != nil {
				return o, fmt.Errorf("read --ssh-authorized-keys: %w", err)
			}
		}
		o.SSH = ssh
	}
	if c.verbose {
		logger := log.New(os.Stderr, "pvesim: ", log.LstdFlags|log.Lmicroseconds)
		o.Logf = logger.Printf
	}
	return o, nil
}

func run(c *config) error {
	o, err := buildOptions(c)
	if err != nil {
		return err
	}
	srv, err := pvesim.New(o)
	if err != nil {
		return err
	}
	defer srv.Close()
	if ca := srv.CACertPEM(); len(ca) > 0 && c.caOut != "" {
		if err := os.WriteFile(c.caOut, ca, 0o644); err != nil {
			return fmt.Errorf("write CA to %s: %w", c.caOut, err)
		}
	}
	printBanner(c, o, srv)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	var tick <-chan time.Time
	if c.stateFile != "" && c.stateSaveInterval > 0 {
		t := time.NewTicker(c.stateSaveInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case s := <-sigs:
			fmt.Fprintf(os.Stderr, "pvesim: %v, shutting down\n", s)
			if err := srv.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
				return err
			}
			return nil
		case <-tick:
			if err := srv.SaveState(c.stateFile); err != nil {
				fmt.Fprintln(os.Stderr, "pvesim: save state:", err)
			}
		}
	}
}

func printBanner(c *config, o pvesim.Options, srv *pvesim.Server) {
	token := "<token-id>=<secret>"
	if len(o.Tokens) > 0 {
		token = o.Tokens[0].ID + "=" + o.Tokens[0].Secret
	}
	var b strings.Builder
	fmt.Fprintf(&b, "pvesim %s listening\n", pvesim.PVEVersion)
	fmt.Fprintf(&b, "  API:      %s\n", srv.URL())
	fmt.Fprintf(&b, "  admin:    %s/state (faults, counters: see internal/pvesim/admin.go)\n", srv.AdminURL())
	if c.caOut != "" {
		fmt.Fprintf(&b, "  CA:       %s\n", c.caOut)
	}
	fmt.Fprintf(&b, "  fingerprint: %s\n", srv.Fingerprint())
	names := make([]string, 0, len(o.Nodes))
	for _, n := range o.Nodes {
		names = append(names, n.Name)
	}
	fmt.Fprintf(&b, "  nodes:    %s   profile: %s   401 delay: %v\n", strings.Join(names, ","), o.Profile, o.UnauthorizedDelay)
	if o.StateFile != "" {
		fmt.Fprintf(&b, "  state:    %s\n", o.StateFile)
	}
	if s := srv.SSH(); s != nil {
		fmt.Fprintf(&b, "  ssh:      %s  known_hosts: %s\n", s.Addr(), s.KnownHostsLine())
	}
	fmt.Fprintf(&b, "\nTry:\n  curl --cacert %s -H 'Authorization: PVEAPIToken=%s' %s/version\n", c.caOut, token, srv.URL())
	fmt.Print(b.String())
}
