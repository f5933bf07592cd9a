package controllers_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/controllers"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

// withImages lets the spec's namespace pull from Docker Hub's library and
// the appliance index onto local.
func withImages(mutate func(*v1alpha1.ImageGrant)) func(*v1alpha1.ProxmoxHost) {
	return func(h *v1alpha1.ProxmoxHost) {
		g := &v1alpha1.ImageGrant{Registries: []string{"docker.io/library"}, Appliances: true, Storages: []string{"local"}}
		if mutate != nil {
			mutate(g)
		}
		h.Spec.Grants[0].Images = g
	}
}

// fromImage makes an Application an application container of ref.
func fromImage(ref string, mutate func(*v1alpha1.Application)) func(*v1alpha1.Application) {
	return func(a *v1alpha1.Application) {
		a.Spec.Template = ""
		a.Spec.Image = &v1alpha1.ImageSource{Reference: ref, Storage: "local"}
		a.Spec.Resources.Memory = ptr.To(resource.MustParse("64Mi"))
		if mutate != nil {
			mutate(a)
		}
	}
}

// pullsOf are the simulator's oci-registry-pull tasks storing file.
func pullsOf(file string) []pvesim.TaskView {
	var out []pvesim.TaskView
	for _, t := range sim.Tasks(pvesim.TaskOCIRegistryPull, "") {
		// The task's ID is the archive's name, which PVE's encoding of UPID
		// IDs leaves as it is (letters, digits, "_", "." and "-").
		if strings.HasPrefix(t.ID, file) {
			out = append(out, t)
		}
	}
	return out
}

func getStagedImage(name string) *v1alpha1.StagedImage {
	si := &v1alpha1.StagedImage{}
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKey{Name: name}, si)).To(Succeed())
	return si
}

var _ = Describe("Applications from OCI images", func() {
	It("pulls an image once for ten Applications asking at once, and each container gets the image's entrypoint with the declared env over it", func() {
		e := newAppEnv(withImages(nil))
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "web-env", Namespace: e.ns}, Data: map[string]string{"mode": "production"}}
		Expect(k8s.Create(ctx, cm)).To(Succeed())
		var apps []*v1alpha1.Application
		for range 10 {
			apps = append(apps, e.app(fromImage("nginx:1.27", func(a *v1alpha1.Application) {
				a.Spec.Node = "pve2"
				a.Spec.Env = []v1alpha1.EnvVar{
					{Name: "NGINX_VERSION", Value: ptr.To("1.27-custom")},
					{Name: "APP_MODE", ValueFrom: &v1alpha1.EnvVarSource{ConfigMapKeyRef: &v1alpha1.ConfigMapKeySelector{Name: "web-env", Key: "mode"}}},
				}
			})))
		}
		for _, app := range apps {
			got := eventuallyApp(app, "True", v1alpha1.ReasonReconciled, "120s")
			Expect(got.Status.Image).NotTo(BeNil())
			Expect(got.Status.Image.Reference).To(Equal("nginx:1.27"))
			Expect(got.Status.Image.Digest).To(HavePrefix("sha256:"))
			Expect(got.Status.Image.Volume).To(Equal("local:vztmpl/docker.io_library_nginx_1.27.tar"))
			ct := simCT(got.Status.VMID)
			Expect(ct.Config["entrypoint"]).NotTo(BeEmpty())
			Expect(ct.Config["env"]).To(ContainSubstring("NGINX_VERSION=1.27-custom"))
			Expect(ct.Config["env"]).To(ContainSubstring("APP_MODE=production"))
			Expect(ct.Config["env"]).To(ContainSubstring("PATH="), "the image's own variables are kept")
			Expect(ct.Config["net0"]).To(ContainSubstring("host-managed=1"))
		}
		Expect(pullsOf("docker.io_library_nginx_1.27")).To(HaveLen(1), "one pull for ten Applications on one node")
		name := getApp(apps[0]).Status.StagedImage
		Eventually(func(g Gomega) {
			si := getStagedImage(name)
			var using []string
			for _, a := range apps {
				using = append(using, getApp(a).Status.StagedImage)
			}
			g.Expect(si.Status.Users).To(BeEquivalentTo(10), "Applications' status.stagedImage: %q", using)
			g.Expect(meta.IsStatusConditionTrue(si.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue())
		}).Should(Succeed())
	})

	It("refuses an image from a registry the host does not allow, with a condition and no request to Proxmox", func() {
		e := newAppEnv(withImages(nil))
		sim.ResetRequestCounts()
		app := eventuallyApp(e.app(fromImage("ghcr.io/acme/tool:1.0", nil)), "False", v1alpha1.ReasonImageNotAllowed)
		c := meta.FindStatusCondition(app.Status.Conditions, v1alpha1.ConditionStalled)
		Expect(c).NotTo(BeNil())
		Expect(c.Message).To(ContainSubstring("docker.io/library"))
		Expect(app.Status.StagedImage).To(BeEmpty())
		for key, n := range sim.RequestCounts() {
			Expect(key).NotTo(ContainSubstring("oci-registry-pull"), "%d requests", n)
		}
		Expect(app.Status.VMID).To(BeZero(), "no VMID was taken")
	})

	It("stages a template from the appliance index onto the node that needs it", func() {
		e := newAppEnv(withImages(nil))
		tmpl := "debian-12-turnkey-nginx-php-fastcgi_18.0-1_amd64.tar.gz"
		app := eventuallyApp(e.app(func(a *v1alpha1.Application) {
			a.Spec.Template = "local:vztmpl/" + tmpl
			a.Spec.Node = "pve1"
		}), "True", v1alpha1.ReasonReconciled, "120s")
		Expect(volumeExists("local:vztmpl/" + tmpl)).To(BeTrue())
		si := getStagedImage(app.Status.StagedImage)
		Expect(si.Spec.Source.Appliance).To(Equal(tmpl))
		Expect(si.Status.Nodes).To(ContainElement(HaveField("Node", "pve1")))
		Expect(sim.Tasks(pvesim.TaskDownload, "")).NotTo(BeEmpty())
	})

	It("downloads a template from an allowed URL checked against its checksum, and reports a wrong checksum with Proxmox' words", func() {
		prefix := "https://releases.turnkeylinux.org/pve/"
		e := newAppEnv(withImages(func(g *v1alpha1.ImageGrant) { g.URLs = []string{prefix} }))
		url := prefix + "debian-12-turnkey-nginx-php-fastcgi_18.0-1_amd64.tar.gz"
		var content []byte
		for _, d := range pvesim.DefaultDownloads() {
			if d.URL == url {
				content = d.Content
			}
		}
		Expect(content).NotTo(BeEmpty())
		sum := sha256.Sum256(content)
		fromURL := func(file, checksum string) func(*v1alpha1.Application) {
			return func(a *v1alpha1.Application) {
				a.Spec.Node = "pve2"
				a.Spec.Template = "local:vztmpl/" + file
				a.Spec.TemplateDownload = &v1alpha1.TemplateDownload{URL: url, Checksum: checksum, ChecksumAlgorithm: "sha256"}
			}
		}
		good := e.app(fromURL("turnkey-from-url_1.0_amd64.tar.gz", hex.EncodeToString(sum[:])))
		bad := e.app(fromURL("turnkey-bad-sum_1.0_amd64.tar.gz", strings.Repeat("0", 64)))
		eventuallyApp(good, "True", v1alpha1.ReasonReconciled, "120s")
		Expect(volumeExists("local:vztmpl/turnkey-from-url_1.0_amd64.tar.gz")).To(BeTrue())
		got := eventuallyApp(bad, "False", v1alpha1.ReasonImageStagingFailed)
		Expect(meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionStalled).Message).To(ContainSubstring("checksum"))
		Expect(got.Status.VMID).To(BeZero(), "nothing was created from a file that failed its check")
	})

	It("sets a declared entrypoint over the image's, and refuses an image change under updateStrategy None", func() {
		e := newAppEnv(withImages(nil))
		app := eventuallyApp(e.app(fromImage("busybox:1.36", func(a *v1alpha1.Application) {
			a.Spec.Image.UpdateStrategy = v1alpha1.ImageUpdateNone
			a.Spec.Entrypoint = "/bin/sh -c 'sleep infinity'"
		})), "True", v1alpha1.ReasonReconciled, "120s")
		Expect(simCT(app.Status.VMID).Config["entrypoint"]).To(Equal("/bin/sh -c 'sleep infinity'"), "the declared entrypoint replaces the image's")
		patchSpec(app, `{"spec":{"image":{"reference":"busybox:1.37"}}}`)
		got := eventuallyApp(app, "False", v1alpha1.ReasonImageUpdateRefused)
		Expect(got.Status.VMID).To(Equal(app.Status.VMID))
		Expect(simCT(app.Status.VMID).Status).To(Equal("running"))
	})

	It("updates the image of a running Application by a new container that takes over both data mount points", func() {
		e := newAppEnv(withImages(nil))
		app := eventuallyApp(e.app(fromImage("alpine:3.20", func(a *v1alpha1.Application) {
			a.Spec.MountPoints = []v1alpha1.MountPoint{
				{Name: "mp0", Storage: "local-lvm", Size: ptr.To(resource.MustParse("1Gi")), Path: "/data"},
				{Name: "mp1", Storage: "local-lvm", Size: ptr.To(resource.MustParse("2Gi")), Path: "/var/lib/app"},
			}
			// Provisioning writes a marker no other run could write again
			// onto each data mount point, once: it runs again on the new
			// container and must find the markers there. The simulator
			// starts commands in the container's root, so the paths are
			// relative.
			a.Spec.Provision = &v1alpha1.Provision{Script: `for d in data var/lib/app; do [ -f $d/marker ] || echo "$d written by run $$ at $(date +%s%N)" > $d/marker; done`}
		})), "True", v1alpha1.ReasonReconciled, "120s")
		oldVMID := app.Status.VMID
		before := lxcconfig.DataVolumes(simCT(oldVMID).Config)
		Expect(before).To(HaveLen(2))
		markers := map[string]string{}
		for key, vol := range before {
			markers[key] = sim.VolumeFile(vol, "marker")
			Expect(markers[key]).To(HavePrefix(map[string]string{"mp0": "data", "mp1": "var/lib/app"}[key]+" written by run"), "provisioning wrote onto %s", vol)
		}

		patchSpec(app, `{"spec":{"image":{"reference":"alpine:3.21"}}}`)
		Eventually(func(g Gomega) {
			got := getApp(app)
			g.Expect(got.Status.Image).NotTo(BeNil())
			g.Expect(got.Status.Image.Reference).To(Equal("alpine:3.21"))
			g.Expect(got.Status.Image.Rollout).To(BeNil())
			c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal(v1alpha1.ReasonReconciled), "%s: %s", c.Reason, c.Message)
		}, "120s").Should(Succeed())
		got := getApp(app)
		Expect(got.Status.VMID).NotTo(Equal(oldVMID))
		_, oldExists := sim.Container(int(oldVMID))
		Expect(oldExists).To(BeFalse(), "the old container is gone")
		ct := simCT(got.Status.VMID)
		Expect(ct.Status).To(Equal("running"))
		after := lxcconfig.DataVolumes(ct.Config)
		Expect(after).To(HaveKey("mp0"))
		Expect(after).To(HaveKey("mp1"))
		for key, vol := range after {
			Expect(volumeExists(vol)).To(BeTrue(), "%s: %s", key, vol)
			Expect(sim.VolumeFile(vol, "marker")).To(Equal(markers[key]), "%s kept the data provisioning wrote", key)
		}
		Expect(ct.Config["mp1"]).To(ContainSubstring("mp=/var/lib/app"))
		Expect(eventReasons(app)).To(ContainElements(v1alpha1.ReasonRollingOut, v1alpha1.ReasonRolledOut))
	})

	It("removes an unused staged image after the host's unusedFor, never one in use", func() {
		e := newAppEnv(func(h *v1alpha1.ProxmoxHost) {
			withImages(nil)(h)
			h.Spec.ImageGarbageCollection = &v1alpha1.ImageGarbageCollection{Policy: v1alpha1.ImageGCRemoveUnused, UnusedFor: &metav1.Duration{Duration: time.Minute}}
		})
		app := eventuallyApp(e.app(fromImage("busybox:latest", func(a *v1alpha1.Application) { a.Spec.Node = "pve1" })), "True", v1alpha1.ReasonReconciled, "120s")
		name := app.Status.StagedImage
		vol := getStagedImage(name).Status.Volume
		touch := func() {
			si := getStagedImage(name)
			si.Annotations = map[string]string{"test/touch": fmt.Sprint(time.Now().UnixNano())}
			Expect(k8s.Update(ctx, si)).To(Succeed())
		}
		clock.Advance(2 * time.Minute)
		touch()
		Consistently(func() bool { return volumeExists(vol) }, "2s").Should(BeTrue(), "an image in use is kept")

		readySeries := map[string]string{"kind": "Application", "namespace": app.Namespace, "name": app.Name, "reason": v1alpha1.ReasonReconciled}
		Expect(metricValue("pve_operator_object_ready", readySeries)).To(Equal(1.0), "the per-object gauge says Ready")
		Expect(k8s.Delete(ctx, getApp(app))).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(getStagedImage(name).Status.LastUsed).NotTo(BeNil())
		}).Should(Succeed())
		Eventually(func() error {
			m, err := controllers.GatherMetric("pve_operator_object_ready", map[string]string{"kind": "Application", "namespace": app.Namespace, "name": app.Name})
			if err == nil && m != nil {
				err = fmt.Errorf("the deleted Application still has a ready series: %v", m)
			}
			return err
		}).Should(Succeed())
		clock.Advance(2 * time.Minute)
		touch()
		Eventually(func(g Gomega) {
			si := &v1alpha1.StagedImage{}
			err := k8s.Get(ctx, client.ObjectKey{Name: name}, si)
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the unused StagedImage is collected; it is at %+v", si.Status)
		}, "30s").Should(Succeed())
		Expect(volumeExists(vol)).To(BeFalse(), "the archive the operator pulled is removed")
	})

	It("stages an admin's StagedImage on the nodes it names, once on a shared storage, and removes on delete only what removeOnDelete allows", func() {
		e := newAppEnv(nil)
		perNode := &v1alpha1.StagedImage{
			ObjectMeta: metav1.ObjectMeta{Name: "pre-busybox-" + e.ns},
			Spec: v1alpha1.StagedImageSpec{
				HostRef: v1alpha1.LocalObjectReference{Name: e.host}, Storage: "local",
				Source: v1alpha1.StagedImageSource{OCI: "docker.io/library/busybox:1.37"}, Nodes: []string{"pve3", "pve1"},
			},
		}
		shared := &v1alpha1.StagedImage{
			ObjectMeta: metav1.ObjectMeta{Name: "pre-nginx-" + e.ns},
			Spec: v1alpha1.StagedImageSpec{
				HostRef: v1alpha1.LocalObjectReference{Name: e.host}, Storage: "templates-nfs",
				Source: v1alpha1.StagedImageSource{OCI: "docker.io/library/nginx:stable"}, RemoveOnDelete: ptr.To(false),
			},
		}
		for _, si := range []*v1alpha1.StagedImage{perNode, shared} {
			Expect(k8s.Create(ctx, si)).To(Succeed())
		}
		staged := func(name string) []v1alpha1.NodeStage {
			var got *v1alpha1.StagedImage
			Eventually(func(g Gomega) {
				got = getStagedImage(name)
				c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady)
				g.Expect(c).NotTo(BeNil())
				g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "%s: %s", c.Reason, c.Message)
			}, "60s").Should(Succeed())
			for _, n := range got.Status.Nodes {
				Expect(n.Phase).To(Equal(v1alpha1.StageStaged), "node %s", n.Node)
				Expect(n.Ours).To(BeTrue(), "node %s: the operator pulled it", n.Node)
			}
			return got.Status.Nodes
		}
		var nodes []string
		for _, n := range staged(perNode.Name) {
			nodes = append(nodes, n.Node)
		}
		Expect(nodes).To(ConsistOf("pve1", "pve3"), "only the nodes spec.nodes names")
		var pulledOn []string
		for _, t := range pullsOf("docker.io_library_busybox_1.37") {
			pulledOn = append(pulledOn, t.Node)
		}
		Expect(pulledOn).To(ConsistOf("pve1", "pve3"))
		Expect(staged(shared.Name)).To(HaveLen(1), "a shared storage is staged by one node for all")
		Expect(pullsOf("docker.io_library_nginx_stable")).To(HaveLen(1))

		sharedVol := getStagedImage(shared.Name).Status.Volume
		Expect(sharedVol).To(Equal("templates-nfs:vztmpl/docker.io_library_nginx_stable.tar"))
		for _, si := range []*v1alpha1.StagedImage{perNode, shared} {
			Expect(k8s.Delete(ctx, si)).To(Succeed())
			Eventually(func() bool {
				return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Name: si.Name}, &v1alpha1.StagedImage{}))
			}, "30s").Should(BeTrue(), "%s is deleted", si.Name)
		}
		for _, v := range sim.State().Volumes {
			Expect(v.Volid).NotTo(Equal("local:vztmpl/docker.io_library_busybox_1.37.tar"), "removeOnDelete (the default) removes the pulled file from %s", v.Node)
		}
		Expect(volumeExists(sharedVol)).To(BeTrue(), "removeOnDelete: false keeps the file")
	})

	It("stalls on a tag the registry does not have, naming the tags it has", func() {
		e := newAppEnv(withImages(nil))
		got := eventuallyApp(e.app(fromImage("alpine:3.99", func(a *v1alpha1.Application) { a.Spec.Node = "pve3" })), "False", v1alpha1.ReasonImageStagingFailed, "60s")
		msg := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionStalled).Message
		Expect(msg).To(ContainSubstring("manifest unknown"), "skopeo's words")
		Expect(msg).To(ContainSubstring("docker.io/library/alpine has tags 3.20, 3.21, latest"))
		Expect(got.Status.VMID).To(BeZero(), "no VMID is taken for an image that is not there")
	})
})
