package v1alpha1_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pve-operator/pve-operator/internal/testenv"
)

// What users see through kubectl: field docs, short names, categories and
// printer columns, checked with a real kubectl against the real apiserver.
var _ = Describe("kubectl against the installed CRDs", Ordered, func() {
	var tryKubectl func(args ...string) (string, error)
	kubectl := func(args ...string) string {
		out, err := tryKubectl(args...)
		ExpectWithOffset(1, err).NotTo(HaveOccurred())
		return out
	}

	BeforeAll(func() {
		bin, err := testenv.Kubectl()
		Expect(err).NotTo(HaveOccurred(), "kubectl is needed for these specs")
		kubeconfig := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
		Expect(env.WriteKubeconfig(kubeconfig)).To(Succeed())
		tryKubectl = func(args ...string) (string, error) {
			out, err := exec.Command(bin, append([]string{"--kubeconfig", kubeconfig}, args...)...).CombinedOutput()
			if err != nil {
				return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
			}
			return string(out), nil
		}
	})

	It("explains applications.spec.rootFS with its field docs", func() {
		// The apiserver publishes a new CRD's OpenAPI asynchronously.
		var out string
		Eventually(func() error {
			var err error
			out, err = tryKubectl("explain", "applications.spec.rootFS")
			return err
		}, "30s", "250ms").Should(Succeed())
		Expect(out).To(ContainSubstring("rootFS is the root volume"))
		Expect(out).To(ContainSubstring("size can grow, never shrink"))
		Expect(out).To(MatchRegexp(`storage\s+<string> -required-`))
		Expect(out).To(ContainSubstring("a whole number of GiB"))
	})

	It("explains a ProxmoxHost's credentials reference", func() {
		var out string
		Eventually(func() error {
			var err error
			out, err = tryKubectl("explain", "pxhost.spec.credentialsRef")
			return err
		}, "30s", "250ms").Should(Succeed())
		Expect(out).To(ContainSubstring("tokenID"))
		Expect(out).To(ContainSubstring("tokenSecret"))
	})

	It("lists Applications by short name and category with useful columns", func() {
		app := newObject("Application")
		Expect(k8s.Create(ctx, app)).To(Succeed())
		for _, resource := range []string{"lxc", "pxapp", "proxmox"} {
			out := kubectl("get", resource, "-n", testNamespace)
			Expect(out).To(MatchRegexp(`NAME\s+HOST\s+NODE\s+VMID\s+STATE\s+READY\s+AGE`), resource)
			Expect(out).To(ContainSubstring(app.GetName()))
		}
		wide := kubectl("get", "pxapp", "-n", testNamespace, "-o", "wide")
		Expect(wide).To(MatchRegexp(`\sIP\s`))
	})

	It("resolves every short name", func() {
		for _, short := range []string{"pxhost", "pxapp", "lxc", "pxbackup", "pxrestore", "pxschedule"} {
			kubectl("get", short, "-A")
		}
	})
})
