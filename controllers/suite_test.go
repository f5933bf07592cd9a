package controllers_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"io"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.uber.org/zap/zapcore"
	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/pve-operator/pve-operator/internal/manager"
	"github.com/pve-operator/pve-operator/internal/pvesim"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

// The controllers run in a real manager against a real apiserver and talk
// to the Proxmox simulator over HTTPS, exactly as in production.
func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	RunSpecs(t, "Controllers (real apiserver + Proxmox simulator)")
}

const credsNamespace = "pve-operator-system"

var (
	env  *testenv.Env
	k8s  client.Client
	sim  *pvesim.Server
	logs = &testenv.SyncBuffer{}
	// sshPrivateKey is authorized on the simulator's SSH server.
	sshPrivateKey []byte
	ctx           context.Context
	cancel        context.CancelFunc
	// clock is the operator's: specs move it forward to cover minutes of
	// retries and lock bounds in seconds.
	clock = &testenv.Clock{}
)

var _ = BeforeSuite(func() {
	// The production logger (redacting, klog routed into it) asked for
	// every verbosity, so the suite's log scans see everything the operator
	// can log (up to redact.MaxVerbosity).
	manager.SetupLogging(zap.UseDevMode(true), zap.Level(zapcore.Level(-10)), zap.WriteTo(io.MultiWriter(GinkgoWriter, logs)))
	ctx, cancel = context.WithCancel(context.Background())

	var err error
	env, err = testenv.Start()
	Expect(err).NotTo(HaveOccurred())
	k8s, err = client.New(env.Config, client.Options{Scheme: manager.Scheme})
	Expect(err).NotTo(HaveOccurred())
	Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: credsNamespace}})).To(Succeed())

	opts := pvesim.DefaultOptions()
	// A storage every node shares, for templates only: staging onto it
	// pulls once for the whole host.
	opts.Storages = append(opts.Storages, pvesim.StorageSpec{ID: "templates-nfs", Type: "dir", Content: []string{"vztmpl"}, Total: 100 * pvesim.GiB, Shared: true, Path: "/mnt/pve/templates-nfs"})
	sshKey, sshPub := newSSHKey()
	opts.SSH = &pvesim.SSHOptions{AuthorizedKeys: []string{sshPub}}
	sim, err = pvesim.New(opts)
	Expect(err).NotTo(HaveOccurred())
	sshPrivateKey = sshKey

	mgr, err := manager.New(env.Config, manager.Options{MetricsAddr: "0", ProbeAddr: "0", Now: clock.Now})
	Expect(err).NotTo(HaveOccurred())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
})

var _ = AfterSuite(func() {
	if cancel != nil {
		cancel()
	}
	if sim != nil {
		_ = sim.Close()
	}
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})

func newSSHKey() ([]byte, string) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	block, err := ssh.MarshalPrivateKey(priv, "")
	Expect(err).NotTo(HaveOccurred())
	signer, err := ssh.NewSignerFromKey(priv)
	Expect(err).NotTo(HaveOccurred())
	return pem.EncodeToMemory(block), string(ssh.MarshalAuthorizedKey(signer.PublicKey()))
}
