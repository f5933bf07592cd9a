package secretlogs

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/manager"
	"github.com/pve-operator/pve-operator/internal/pvesim"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

// harness is one apiserver and one simulated cluster whose token, root@pam
// password and SSH key are fresh random values, so that finding one in a log
// can only mean it leaked.
type harness struct {
	env *testenv.Env
	sim *pvesim.Server
	k8s client.Client
	// ctx is the test's own: its logger discards, so that the test's client,
	// which runs in the same process as an in-process manager and under the
	// same klog verbosity, never writes the Secrets it creates to that log.
	ctx context.Context

	token, rootPassword string
	sshKey              []byte
	sshPort             int32
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &harness{ctx: klog.NewContext(ctx, logr.Discard()), token: random(t), rootPassword: random(t)}
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	h.env = env
	if h.k8s, err = client.New(env.Config, client.Options{Scheme: manager.Scheme}); err != nil {
		t.Fatal(err)
	}
	key, pub := sshKey(t)
	h.sshKey = key
	opts := pvesim.DefaultOptions()
	opts.Tokens = []pvesim.TokenSpec{{ID: pvesim.DefaultTokenID, Secret: h.token}}
	opts.Users = []pvesim.UserSpec{{ID: "root@pam", Password: h.rootPassword}}
	opts.SSH = &pvesim.SSHOptions{AuthorizedKeys: []string{pub}}
	if h.sim, err = pvesim.New(opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.sim.Close() })
	_, port, err := net.SplitHostPort(h.sim.SSH().Addr())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	h.sshPort = int32(p)
	return h
}

// exercise makes the running manager read every kind of credential Secret:
// a ProxmoxHost with a token, root@pam credentials and an SSH key, and on it
// an Application with a root password and a provision script (which is what
// reads the SSH key). It waits for both to be Ready and returns the values
// the log must not show.
func (h *harness) exercise(t *testing.T, name string) []secret {
	t.Helper()
	creds, team, appPassword := "creds-"+name, "team-"+name, random(t)
	ref := func(n string) v1alpha1.SecretReference { return v1alpha1.SecretReference{Namespace: creds, Name: n} }
	host := &v1alpha1.ProxmoxHost{
		ObjectMeta: metav1.ObjectMeta{Name: "pve-" + name},
		Spec: v1alpha1.ProxmoxHostSpec{
			Endpoint:           h.sim.URL(),
			CredentialsRef:     ref("token"),
			RootCredentialsRef: ptr.To(ref("root")),
			SSH:                &v1alpha1.SSHConfig{CredentialsRef: ref("ssh"), User: "root", Port: h.sshPort},
			TLS:                &v1alpha1.TLSConfig{CABundle: string(h.sim.CACertPEM())},
		},
	}
	app := testenv.SmallApp(team, "app", host.Name)
	app.Spec.RootPasswordSecretRef = &v1alpha1.SecretKeySelector{Name: "root-password", Key: "password"}
	app.Spec.Provision = &v1alpha1.Provision{Script: "echo provisioned"}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: creds}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: team}},
		secretOf(creds, "token", map[string]string{"tokenID": pvesim.DefaultTokenID, "tokenSecret": h.token}),
		secretOf(creds, "root", map[string]string{"username": "root@pam", "password": h.rootPassword}),
		secretOf(creds, "ssh", map[string]string{"privateKey": string(h.sshKey), "knownHosts": h.sim.SSH().KnownHostsLine() + "\n"}),
		secretOf(team, "root-password", map[string]string{"password": appPassword}),
		host, app,
	}
	for _, o := range objs {
		if err := h.k8s.Create(h.ctx, o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
	if err := testenv.WaitHostReady(h.ctx, h.k8s, host.Name, 30*time.Second); err != nil {
		t.Fatalf("ProxmoxHost %s not Ready: %v", host.Name, err)
	}
	h.waitProvisioned(t, client.ObjectKeyFromObject(app))
	return []secret{
		{"the API token secret", h.token},
		{"the root@pam password", h.rootPassword},
		{"the SSH private key", string(h.sshKey)},
		{"the Application's root password", appPassword},
	}
}

// waitProvisioned waits until the Application is Ready and its provision
// script has run, so the SSH Secret has been read.
func (h *harness) waitProvisioned(t *testing.T, key client.ObjectKey) {
	t.Helper()
	app := &v1alpha1.Application{}
	err := testenv.Poll(h.ctx, 40*time.Second, func() (bool, error) {
		if err := h.k8s.Get(h.ctx, key, app); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		p := app.Status.Provision
		return meta.IsStatusConditionTrue(app.Status.Conditions, v1alpha1.ConditionReady) && p != nil && p.ExitCode != nil, nil
	})
	if err != nil {
		t.Fatalf("Application %s not Ready and provisioned: %v (status %+v)", key, err, app.Status.Conditions)
	}
}

func secretOf(namespace, name string, data map[string]string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, StringData: data}
}

// random is a 24-character hex value: long enough that a match is no
// coincidence, and no shorter than redact's or Proxmox' minimums.
func random(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func sshKey(t *testing.T) ([]byte, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block), string(ssh.MarshalAuthorizedKey(signer.PublicKey()))
}
