// Command dev is `make dev`: the operator on its embedded default. It starts
// etcd and kube-apiserver (the envtest binaries, with state under bin/dev and
// Secrets encrypted at rest with a key kept there), installs the CRDs,
// starts the Proxmox simulator (nodes pve1-3, storages local and local-lvm,
// two templates, an API token and SSH), creates a ProxmoxHost named "dev"
// that trusts the simulator's CA, writes a kubeconfig, and runs the operator
// in the foreground until Ctrl-C.
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/manager"
	"github.com/pve-operator/pve-operator/internal/pvesim"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

const (
	credsNamespace = "pve-operator-system"
	hostName       = "dev"
)

func main() {
	dataDir := flag.String("data-dir", filepath.Join("bin", "dev"), "Directory for etcd data, the simulator's state, keys and the kubeconfig.")
	simAddr := flag.String("pvesim-listen", "127.0.0.1:18006", "Address of the Proxmox simulator's API.")
	sshAddr := flag.String("pvesim-ssh-listen", "127.0.0.1:18022", "Address of the simulator's SSH server.")
	profile := flag.String("profile", pvesim.ProfileRealistic, "Simulator task durations: realistic (seconds, like PVE) or fast.")
	flag.Parse()
	manager.SetupLogging(zap.UseDevMode(true))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *dataDir, *simAddr, *sshAddr, *profile); err != nil {
		fmt.Fprintln(os.Stderr, "make dev:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dataDir, simAddr, sshAddr, profile string) error {
	dataDir, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}

	step("starting etcd and kube-apiserver (data in %s, Secrets encrypted with %s)",
		dataDir, filepath.Join(dataDir, testenv.SecretsKeyFile))
	env, err := testenv.NewPersistentEnvironment(dataDir)
	if err != nil {
		return err
	}
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("start control plane: %w", err)
	}
	defer func() {
		step("stopping kube-apiserver and etcd")
		_ = env.Stop()
	}()
	kubeconfig := filepath.Join(dataDir, "kubeconfig")
	if err := (&testenv.Env{Environment: env, Config: cfg}).WriteKubeconfig(kubeconfig); err != nil {
		return err
	}

	pub, err := loadOrCreateClientKey(filepath.Join(dataDir, "id_ed25519"))
	if err != nil {
		return err
	}
	step("starting the Proxmox simulator on https://%s (ssh %s, %s task durations)", simAddr, sshAddr, profile)
	opts := pvesim.DefaultOptions()
	opts.Addr = simAddr
	opts.Profile = profile
	opts.StateFile = filepath.Join(dataDir, "pvesim-state.json")
	opts.SSH = &pvesim.SSHOptions{
		Addr:           sshAddr,
		HostKeyPath:    filepath.Join(dataDir, "ssh_host_ed25519_key"),
		AuthorizedKeys: []string{string(ssh.MarshalAuthorizedKey(pub))},
		ScratchRoot:    filepath.Join(dataDir, "containers"),
	}
	sim, err := pvesim.New(opts)
	if err != nil {
		return fmt.Errorf("start simulator: %w", err)
	}
	defer func() {
		step("stopping the simulator (state saved to %s)", opts.StateFile)
		_ = sim.Close()
	}()
	if err := os.WriteFile(filepath.Join(dataDir, "pvesim-ca.pem"), sim.CACertPEM(), 0o600); err != nil {
		return err
	}

	k8s, err := client.New(cfg, client.Options{Scheme: manager.Scheme})
	if err != nil {
		return err
	}
	if err := applyHost(ctx, k8s, sim, dataDir); err != nil {
		return err
	}

	mgr, err := manager.New(cfg, manager.Options{MetricsAddr: "0", ProbeAddr: "0"})
	if err != nil {
		return err
	}
	printNextSteps(kubeconfig, sim)
	if err := mgr.Start(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
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
		host.Spec.Grants = []v1alpha1.TenantGrant{{
			NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: "default"}},
			Adopt:             &v1alpha1.AdoptionGrant{VMIDRanges: []v1alpha1.VMIDRange{{From: 200, To: 299}}},
		}}
		return nil
	})
	if err != nil {
		return fmt.Errorf("apply ProxmoxHost %s: %w", hostName, err)
	}
	return nil
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

func step(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "==> "+format+"\n", args...)
}

func printNextSteps(kubeconfig string, sim *pvesim.Server) {
	fmt.Fprintf(os.Stderr, `
==> pve-operator is running against the simulator. In another terminal:

    export KUBECONFIG=%s
    kubectl get pxhost                         # "dev" turns Ready within seconds
    kubectl apply -f config/samples/proxmox_v1alpha1_application.yaml
    kubectl get pxapp -w

    curl --cacert bin/dev/pvesim-ca.pem -H 'Authorization: PVEAPIToken=%s=%s' %s/cluster/resources

==> Ctrl-C stops everything; state persists in bin/dev (rm -rf bin/dev to start afresh).

`, kubeconfig, pvesim.DefaultTokenID, pvesim.DefaultTokenSecret, sim.URL())
}
