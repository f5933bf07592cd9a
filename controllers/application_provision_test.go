package controllers_test

import (
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/controllers"
	"github.com/pve-operator/pve-operator/internal/sshexec"
)

var _ = Describe("Provision script delivery", func() {
	var e appEnv
	BeforeEach(func() {
		e = newAppEnv(nil)
		eventuallyReady(e.host, "True", v1alpha1.ReasonConnected)
	})

	It("delivers a script of the maximum size full of quotes and shell syntax byte for byte, and runs it", func() {
		payload, script := maxSizeProvisionScript()
		app := e.app(func(a *v1alpha1.Application) {
			a.Spec.Provision = &v1alpha1.Provision{Script: script}
		})
		got := eventuallyApp(app, "True", v1alpha1.ReasonReconciled)
		Expect(got.Status.Provision.ExitCode).To(HaveValue(BeZero()), got.Status.Provision.OutputTail)
		Expect(got.Status.Provision.OutputTail).To(HaveSuffix("delivered\n"))
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, controllers.ConditionProvisioned)).To(BeTrue())
		// The container's "/" is its scratch directory in the simulator.
		written, err := os.ReadFile(filepath.Join(sim.SSH().ScratchDir(int(got.Status.VMID)), "delivered"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(written) == payload).To(BeTrue(), "the here-document arrived changed: %d bytes, want %d", len(written), len(payload))
	})

	It("stalls on a ConfigMap script over the limit instead of trying to run it", func() {
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "big-script", Namespace: e.ns},
			Data:       map[string]string{"run.sh": strings.Repeat("#", sshexec.MaxScriptBytes+1)},
		}
		Expect(k8s.Create(ctx, cm)).To(Succeed())
		app := e.app(func(a *v1alpha1.Application) {
			a.Spec.Provision = &v1alpha1.Provision{ConfigMapRef: &v1alpha1.ConfigMapKeySelector{Name: cm.Name, Key: "run.sh"}}
		})
		got := eventuallyApp(app, "False", v1alpha1.ReasonInvalidSpec)
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionStalled)).To(BeTrue())
		Expect(meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady).Message).To(ContainSubstring("more than the 65536 (64 KiB)"))
	})
})

// maxSizeProvisionScript returns a script of exactly MaxScriptBytes that
// writes payload (text the shell would mangle anywhere but in a quoted
// here-document, mostly single quotes, which a command line would quote
// fourfold) to the file "delivered", and the payload.
func maxSizeProvisionScript() (payload, script string) {
	chunk := strings.Repeat("'", 900) + `"\$` + "`!*?;&|<>(){}[]~#%^=\t é €\r" + strings.Repeat(`\`, 50) + "\n"
	payload = strings.Repeat(chunk, (sshexec.MaxScriptBytes-200)/len(chunk))
	head := "cat > delivered <<'PVE_OPERATOR_EOF'\n" + payload + "PVE_OPERATOR_EOF\necho delivered\n#"
	script = head + strings.Repeat("'", sshexec.MaxScriptBytes-len(head)-3) + "\n\n\n"
	return payload, script
}
