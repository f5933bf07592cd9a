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

	It("lists Applications by short name and category with the columns that say why", func() {
		app := newObject("Application")
		Expect(k8s.Create(ctx, app)).To(Succeed())
		for _, resource := range []string{"lxc", "pxapp", "proxmox"} {
			out := kubectl("get", resource, "-n", testNamespace)
			Expect(out).To(MatchRegexp(`NAME\s+HOST\s+NODE\s+VMID\s+STATE\s+IMAGE\s+IP\s+READY\s+REASON\s+AGE`), resource)
			Expect(out).To(ContainSubstring(app.GetName()))
		}
	})

	// Every kind shows its Ready reason by default, and the status fields
	// that are only there for kubectl (a Backup's short size, a Restore's
	// resolved Application) appear in their columns.
	DescribeTable("shows each kind's default columns",
		func(kind, resource string, status map[string]any, header string, values []string) {
			obj := newObject(kind)
			Expect(k8s.Create(ctx, obj)).To(Succeed())
			status["conditions"] = []any{map[string]any{
				"type": "Ready", "status": "False", "reason": "WaitingForHost", "message": "m",
				"lastTransitionTime": "2026-01-01T00:00:00Z",
			}}
			obj.Object["status"] = status
			Expect(k8s.Status().Update(ctx, obj)).To(Succeed())
			args := []string{"get", resource, obj.GetName()}
			if obj.GetNamespace() != "" {
				args = append(args, "-n", obj.GetNamespace())
			}
			out := kubectl(args...)
			Expect(out).To(MatchRegexp(header))
			for _, v := range append(values, "WaitingForHost") {
				Expect(out).To(ContainSubstring(v))
			}
		},
		Entry("a ProxmoxHost with its reason", "ProxmoxHost", "pxhost", map[string]any{"version": "8.2.4"},
			`NAME\s+ENDPOINT\s+VERSION\s+MANAGED\s+UNMANAGED\s+READY\s+REASON\s+AGE`, []string{"8.2.4"}),
		Entry("an Application with its IP and reason", "Application", "pxapp",
			map[string]any{"vmid": int64(101), "ipAddresses": []any{"10.0.0.7"}},
			`NAME\s+HOST\s+NODE\s+VMID\s+STATE\s+IMAGE\s+IP\s+READY\s+REASON\s+AGE`, []string{"10.0.0.7"}),
		Entry("a Backup with a human-readable size", "Backup", "pxbackup",
			map[string]any{"size": int64(900676608), "sizeHuman": "859Mi"},
			`NAME\s+APPLICATION\s+TYPE\s+PHASE\s+SIZE\s+READY\s+REASON\s+AGE`, []string{"859Mi"}),
		Entry("a Restore with the Application it resolved", "Restore", "pxrestore",
			map[string]any{"applicationName": "resolved-app"},
			`NAME\s+BACKUP\s+APPLICATION\s+PHASE\s+READY\s+REASON\s+AGE`, []string{"resolved-app"}),
		Entry("a BackupSchedule with its reason", "BackupSchedule", "pxschedule", map[string]any{},
			`NAME\s+SCHEDULE\s+SUSPEND\s+LAST SCHEDULE\s+LAST SUCCESS\s+READY\s+REASON\s+AGE`, nil),
	)

	It("keeps the exact backup size in the wide output", func() {
		obj := newObject("Backup")
		Expect(k8s.Create(ctx, obj)).To(Succeed())
		obj.Object["status"] = map[string]any{"size": int64(900676608), "sizeHuman": "859Mi"}
		Expect(k8s.Status().Update(ctx, obj)).To(Succeed())
		wide := kubectl("get", "pxbackup", obj.GetName(), "-n", testNamespace, "-o", "wide")
		Expect(wide).To(MatchRegexp(`\sBYTES\s`))
		Expect(wide).To(ContainSubstring("900676608"))
	})

	It("resolves every short name", func() {
		for _, short := range []string{"pxhost", "pxapp", "lxc", "pxbackup", "pxrestore", "pxschedule"} {
			kubectl("get", short, "-A")
		}
	})
})
