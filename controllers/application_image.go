package controllers

import (
	"context"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// staged is what a create makes the container from once staging is done.
type staged struct {
	// ostemplate is the volume to create from.
	ostemplate string
	// digest of an OCI image, when its pull reported one.
	digest string
}

// stageSource makes sure what the Application is made from is on node:
// its image, or a template that comes from a URL or the appliance index.
// ok is false while it is not (the outcome says why); a template that
// needs no staging is returned as declared.
func (r *ApplicationReconciler) stageSource(ctx context.Context, s *appScope, node string) (staged, outcome, bool, error) {
	app := s.app
	src, storage, needed := sourceOf(app, s.tenancy)
	if !needed {
		return staged{ostemplate: app.Spec.Template}, outcome{}, true, nil
	}
	if o, ok := s.tenancy.imageAllowed(src, storage); !ok {
		return staged{}, o, false, nil
	}
	si, err := r.stagedImageFor(ctx, s.host.Name, storage, src, node)
	if err != nil {
		return staged{}, outcome{}, false, err
	}
	app.Status.StagedImage = si.Name
	st, _ := nodeStorage(s.host.Inventory.Snapshot(), node, storage, "vztmpl")
	e, ok := stagedOn(si, node, st.Shared)
	if !ok {
		return staged{}, stagingWait(si, node), false, nil
	}
	if img := app.Spec.Image; img != nil {
		if want := parseOCIRef(img.Reference).digest; want != "" && want != e.Digest {
			return staged{}, stalled(v1alpha1.ReasonImageDigestMismatch, fmt.Sprintf(
				"%s on node %s holds image %s, not the %s that spec.image.reference pins (Proxmox pulls by tag, and the tag points elsewhere now or the file predates the operator); change the reference or remove the file",
				si.Status.Volume, e.Node, digestOrUnknown(e.Digest), want)), false, nil
		}
	}
	return staged{ostemplate: si.Status.Volume, digest: e.Digest}, outcome{}, true, nil
}

func digestOrUnknown(d string) string {
	if d == "" {
		return "of unknown digest"
	}
	return d
}

// stagingWait is an Application's verdict while its StagedImage is not
// staged on node: the StagedImage's own words, Stalled when it is.
func stagingWait(si *v1alpha1.StagedImage, node string) outcome {
	if c := meta.FindStatusCondition(si.Status.Conditions, v1alpha1.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue {
		return stalled(v1alpha1.ReasonImageStagingFailed, fmt.Sprintf("StagedImage %s: %s", si.Name, c.Message))
	}
	msg := fmt.Sprintf("waiting for StagedImage %s to stage %s on node %s", si.Name, stagedVolume(si.Spec.Storage, si.Spec.Source), node)
	for _, e := range si.Status.Nodes {
		if e.Node == node && e.Task != nil {
			msg += fmt.Sprintf(" (task %s)", e.Task.UPID)
		}
	}
	return progressing(v1alpha1.ReasonImageStaging, msg)
}

// stagedImageFor returns the StagedImage for src on the host's storage,
// created when missing and told about node. Every Application asking for
// the same source meets in the same object, so the image is pulled once.
func (r *ApplicationReconciler) stagedImageFor(ctx context.Context, host, storage string, src v1alpha1.StagedImageSource, node string) (*v1alpha1.StagedImage, error) {
	name := stagedImageName(host, storage, src)
	si := &v1alpha1.StagedImage{}
	err := r.Get(ctx, client.ObjectKey{Name: name}, si)
	if apierrors.IsNotFound(err) {
		si = &v1alpha1.StagedImage{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{LabelOnDemand: "true", LabelHost: dnsLabelPart(host, 63)}},
			Spec:       v1alpha1.StagedImageSpec{HostRef: v1alpha1.LocalObjectReference{Name: host}, Source: src, Storage: storage, Nodes: []string{node}},
		}
		if err = r.Create(ctx, si); apierrors.IsAlreadyExists(err) {
			err = r.Get(ctx, client.ObjectKey{Name: name}, si)
		}
	}
	if err != nil || slices.Contains(si.Spec.Nodes, node) || len(si.Spec.Nodes) == 0 {
		return si, err
	}
	before := si.DeepCopy()
	si.Spec.Nodes = append(si.Spec.Nodes, node)
	slices.Sort(si.Spec.Nodes)
	return si, r.Patch(ctx, si, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
}

// recordImage notes in status what an image-sourced container is made
// from, when its create is sent.
func recordImage(app *v1alpha1.Application, from staged) {
	if app.Spec.Image == nil {
		return
	}
	app.Status.Image = &v1alpha1.ImageStatus{Reference: app.Spec.Image.Reference, Digest: from.digest, Volume: from.ostemplate}
}

// stagingNode is the node a staged create goes to: the one chosen when
// staging began, while it still qualifies, so that a pull is not started
// on every node that happens to have the most free memory in turn.
func stagingNode(s *appScope) (string, outcome) {
	app := s.app
	if n := app.Status.Node; n != "" && app.Status.VMID == 0 && (app.Spec.Node == "" || app.Spec.Node == n) {
		for _, node := range s.host.Inventory.Snapshot().Nodes {
			if node.Name == n && node.Online() {
				return n, outcome{}
			}
		}
	}
	return pickNode(s.host, app)
}

// stagingRecheck is how often an Application waiting for staging looks
// again without being woken by its StagedImage.
const stagingRecheck = 30 * time.Second
