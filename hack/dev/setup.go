package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/manager"
	"github.com/pve-operator/pve-operator/internal/pvesim"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

const (
	credsNamespace = "pve-operator-system"
	hostName       = "dev"
	// adoptVMID is the container the adopt sample
	// (config/samples/proxmox_v1alpha1_application_adopt.yaml) takes over.
	adoptVMID = 200
)

// devEnv is everything make dev starts except the operator.
type devEnv struct {
	c          config
	cfg        *rest.Config
	kubeconfig string
	sim        *pvesim.Server
	k8s        client.Client
	stops      []func()
}

// close stops what setup started, last first.
func (d *devEnv) close() {
	for i := len(d.stops) - 1; i >= 0; i-- {
		d.stops[i]()
	}
}

func (d *devEnv) step(format string, args ...any) {
	fmt.Fprintf(d.c.out, "==> "+format+"\n", args...)
}

// setup starts the control plane and the simulator, seeds the adoptable
// container and applies the credentials and the "dev" ProxmoxHost. On an
// error what it started is stopped again.
func setup(ctx context.Context, c config) (_ *devEnv, err error) {
	d := &devEnv{c: c}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	if c.dataDir, err = filepath.Abs(c.dataDir); err != nil {
		return nil, err
	}
	d.c = c
	if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
		return nil, err
	}
	if err := d.startControlPlane(); err != nil {
		return nil, err
	}
	if err := d.startSimulator(); err != nil {
		return nil, err
	}
	if err := d.seedAdoptable(); err != nil {
		return nil, err
	}
	if d.k8s, err = client.New(d.cfg, client.Options{Scheme: manager.Scheme}); err != nil {
		return nil, err
	}
	if err := applyHost(ctx, d.k8s, d.sim, c.dataDir); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *devEnv) startControlPlane() error {
	d.step("starting etcd and kube-apiserver (data in %s, Secrets encrypted with %s)",
		d.c.dataDir, filepath.Join(d.c.dataDir, testenv.SecretsKeyFile))
	env, err := testenv.NewPersistentEnvironment(d.c.dataDir)
	if err != nil {
		return err
	}
	if d.cfg, err = env.Start(); err != nil {
		return fmt.Errorf("start control plane: %w", err)
	}
	d.stops = append(d.stops, func() {
		d.step("stopping kube-apiserver and etcd")
		_ = env.Stop()
	})
	d.kubeconfig = filepath.Join(d.c.dataDir, "kubeconfig")
	return (&testenv.Env{Environment: env, Config: d.cfg}).WriteKubeconfig(d.kubeconfig)
}

func (d *devEnv) startSimulator() error {
	pub, err := loadOrCreateClientKey(filepath.Join(d.c.dataDir, "id_ed25519"))
	if err != nil {
		return err
	}
	d.step("starting the Proxmox simulator on https://%s (ssh %s, %s task durations)", d.c.simAddr, d.c.sshAddr, d.c.profile)
	opts := pvesim.DefaultOptions()
	opts.Addr = d.c.simAddr
	opts.Profile = d.c.profile
	opts.StateFile = filepath.Join(d.c.dataDir, "pvesim-state.json")
	opts.SSH = &pvesim.SSHOptions{
		Addr:           d.c.sshAddr,
		HostKeyPath:    filepath.Join(d.c.dataDir, "ssh_host_ed25519_key"),
		AuthorizedKeys: []string{string(ssh.MarshalAuthorizedKey(pub))},
		ScratchRoot:    filepath.Join(d.c.dataDir, "containers"),
	}
	if d.sim, err = pvesim.New(opts); err != nil {
		return fmt.Errorf("start simulator: %w", err)
	}
	d.stops = append(d.stops, func() {
		d.step("stopping the simulator (state saved to %s)", opts.StateFile)
		_ = d.sim.Close()
	})
	return os.WriteFile(filepath.Join(d.c.dataDir, "pvesim-ca.pem"), d.sim.CACertPEM(), 0o600)
}

// seedAdoptable puts an unmanaged, running container 200 on pve1 the first
// time; the simulator's state file keeps it (or what the adopt sample made
// of it) across restarts.
func (d *devEnv) seedAdoptable() error {
	if _, ok := d.sim.Container(adoptVMID); ok {
		d.step("container %d for the adopt sample exists (kept in the simulator's state)", adoptVMID)
		return nil
	}
	err := d.sim.AddContainer("pve1", adoptVMID, map[string]string{
		"hostname": "legacy-db",
		"memory":   "2048",
		"cores":    "2",
		"net0":     "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:02:00,ip=dhcp,type=veth",
	}, true)
	if err != nil {
		return fmt.Errorf("seed container %d: %w", adoptVMID, err)
	}
	d.step("seeded unmanaged container %d (legacy-db) on pve1 for the adopt sample", adoptVMID)
	return nil
}

// applyHost creates or updates the credentials Secrets and the "dev"
// ProxmoxHost; the simulator's CA and ports may differ from the last run.
func applyHost(ctx context.Context, k8s client.Client, sim *pvesim.Server, dataDir string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: credsNamespace}}
	if err := k8s.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	key, err := os.ReadFile(filepath.Join(dataDir, "id_ed25519"))
	if err != nil {
		return err
	}
	sshd := sim.SSH()
	secrets := map[string]map[string][]byte{
		"pve-dev-credentials": {"tokenID": []byte(pvesim.DefaultTokenID), "tokenSecret": []byte(pvesim.DefaultTokenSecret)},
		"pve-dev-ssh":         {"privateKey": key, "knownHosts": []byte(sshd.KnownHostsLine() + "\n")},
	}
	for name, data := range secrets {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: credsNamespace}}
		if _, err := controllerutil.CreateOrUpdate(ctx, k8s, s, func() error { s.Data = data; return nil }); err != nil {
			return fmt.Errorf("apply Secret %s: %w", name, err)
		}
	}
	_, portStr, err := net.SplitHostPort(sshd.Addr())
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return err
	}
	host := &v1alpha1.ProxmoxHost{ObjectMeta: metav1.ObjectMeta{Name: hostName}}
	_, err = controllerutil.CreateOrUpdate(ctx, k8s, host, func() error {
		host.Spec.Endpoint = sim.URL()
		host.Spec.CredentialsRef = v1alpha1.SecretReference{Name: "pve-dev-credentials", Namespace: credsNamespace}
		host.Spec.TLS = &v1alpha1.TLSConfig{CABundle: string(sim.CACertPEM())}
		host.Spec.SSH = &v1alpha1.SSHConfig{
			CredentialsRef: v1alpha1.SecretReference{Name: "pve-dev-ssh", Namespace: credsNamespace},
			User:           "root",
			Port:           int32(port),
		}
		host.Spec.SyncInterval = &metav1.Duration{Duration: 10 * time.Second}
		// The adopt sample takes over VMID 200 in the default namespace;
		// adoption is an admin's grant, so the dev host grants exactly that.
		// The OCI sample pulls from Docker Hub's library (the simulator's
		// catalogue) onto local.
		host.Spec.Grants = []v1alpha1.TenantGrant{{
			NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: "default"}},
			Adopt:             &v1alpha1.AdoptionGrant{VMIDRanges: []v1alpha1.VMIDRange{{From: 200, To: 299}}},
			Images:            &v1alpha1.ImageGrant{Registries: []string{"docker.io/library"}, Appliances: true, Storages: []string{"local"}},
		}}
		return nil
	})
	if err != nil {
		return fmt.Errorf("apply ProxmoxHost %s: %w", hostName, err)
	}
	return nil
}

// hostReadySince reports whether the "dev" ProxmoxHost is Ready from a
// sync at or after since: the status kept in etcd from the last run says
// Ready before this run's operator has looked at the simulator.
func (d *devEnv) hostReadySince(ctx context.Context, since time.Time) bool {
	host := &v1alpha1.ProxmoxHost{}
	if err := d.k8s.Get(ctx, client.ObjectKey{Name: hostName}, host); err != nil {
		return false
	}
	synced := host.Status.LastSyncTime
	return synced != nil && !synced.Time.Before(since.Truncate(time.Second)) &&
		meta.IsStatusConditionTrue(host.Status.Conditions, v1alpha1.ConditionReady)
}

func loadOrCreateClientKey(path string) (ssh.PublicKey, error) {
	if data, err := os.ReadFile(path); err == nil {
		signer, err := ssh.ParsePrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", path, err)
		}
		return signer.PublicKey(), nil
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "pve-operator dev")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	return signer.PublicKey(), nil
}
