package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/proxmox"
)

// stager stages one StagedImage on its host during one pass.
type stager struct {
	r    *StagedImageReconciler
	si   *v1alpha1.StagedImage
	host *HostEntry
}

// stagedRecheck is how often a staged file is looked for again (one
// content listing per node): someone may have removed it.
const stagedRecheck = 10 * time.Minute

// targets are the nodes to stage on: spec.nodes, or every online node
// with the storage. A shared storage is staged once, by the first target
// that is online (preferring one that staged it already).
func (st stager) targets() []string {
	snap := st.host.Inventory.Snapshot()
	shared := false
	var nodes []string
	for _, n := range snap.Nodes {
		if !n.Online() || (len(st.si.Spec.Nodes) > 0 && !slices.Contains(st.si.Spec.Nodes, n.Name)) {
			continue
		}
		if s, ok := nodeStorage(snap, n.Name, st.si.Spec.Storage, "vztmpl"); ok {
			shared = shared || s.Shared
			nodes = append(nodes, n.Name)
		}
	}
	slices.Sort(nodes)
	if !shared || len(nodes) == 0 {
		return nodes
	}
	for _, e := range st.si.Status.Nodes {
		if slices.Contains(nodes, e.Node) {
			return []string{e.Node}
		}
	}
	return nodes[:1]
}

// stageAll stages on every target and sums up.
func (st stager) stageAll(ctx context.Context) (outcome, ctrl.Result, error) {
	targets := st.targets()
	if len(targets) == 0 {
		return stalled(v1alpha1.ReasonNoSuitableNode, fmt.Sprintf("no online node of ProxmoxHost %q has storage %q for templates (content vztmpl)%s",
			st.si.Spec.HostRef.Name, st.si.Spec.Storage, nodesNote(st.si.Spec.Nodes))), ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	wait := stagedRecheck
	var staging, failed []string
	for _, node := range targets {
		e := st.entry(node)
		w, err := st.stageOn(ctx, e)
		if err != nil {
			return outcome{}, ctrl.Result{}, err
		}
		wait = min(wait, w)
		switch e.Phase {
		case v1alpha1.StageFailed:
			failed = append(failed, fmt.Sprintf("%s: %s", node, e.Message))
		case v1alpha1.StageStaging, v1alpha1.StagePending:
			staging = append(staging, node)
		}
	}
	res := ctrl.Result{RequeueAfter: wait}
	// A failure recorded on a node is Proxmox refusing the request or the
	// source failing it: a person's matter, retried slowly all the same
	// (transient errors of the calls themselves end the pass instead).
	switch {
	case len(failed) > 0:
		return stalled(v1alpha1.ReasonImageStagingFailed, fmt.Sprintf("staging %s failed on %s; retried with backoff", st.si.Status.Volume, strings.Join(failed, "; "))), res, nil
	case len(staging) > 0:
		return progressing(v1alpha1.ReasonImageStaging, fmt.Sprintf("staging %s on %s", st.si.Status.Volume, strings.Join(staging, ", "))), res, nil
	}
	return readyOutcome(v1alpha1.ReasonStaged, fmt.Sprintf("%s is staged on %s", st.si.Status.Volume, strings.Join(targets, ", "))), res, nil
}

func nodesNote(nodes []string) string {
	if len(nodes) == 0 {
		return ""
	}
	return " among nodes " + strings.Join(nodes, ", ")
}

// entry is the status entry of node, added when missing.
func (st stager) entry(node string) *v1alpha1.NodeStage {
	for i := range st.si.Status.Nodes {
		if st.si.Status.Nodes[i].Node == node {
			return &st.si.Status.Nodes[i]
		}
	}
	st.si.Status.Nodes = append(st.si.Status.Nodes, v1alpha1.NodeStage{Node: node, Phase: v1alpha1.StagePending})
	return &st.si.Status.Nodes[len(st.si.Status.Nodes)-1]
}

// stageOn advances one node: a recorded task is polled, never waited for;
// otherwise the storage is listed and what is missing is started. It
// returns when to look again.
func (st stager) stageOn(ctx context.Context, e *v1alpha1.NodeStage) (time.Duration, error) {
	c := st.host.Client
	key := string(st.si.UID) + "/" + e.Node
	if ref, ok := st.r.started.Load(key); ok && e.Task == nil {
		t := ref.(v1alpha1.TaskReference)
		e.Task = &t
	}
	if e.Task != nil {
		defer func() {
			if e.Task == nil {
				st.r.started.Delete(key)
			}
		}()
		res, ts, err := checkTask(ctx, c, e.Task)
		if err != nil {
			return 0, err
		}
		switch res {
		case taskRunning:
			e.Phase = v1alpha1.StageStaging
			return pollAfter(e.Task, time.Now()), nil
		case taskFailed:
			st.failed(ctx, e, ts)
			return backoff(int(e.Attempts)), nil
		}
		if err := st.finished(ctx, e); err != nil {
			return 0, err
		}
	}
	if e.Phase == v1alpha1.StageFailed && e.StagedAt != nil {
		// StagedAt of a failed entry is when it failed: wait out the backoff.
		if left := e.StagedAt.Add(backoff(int(e.Attempts))).Sub(st.r.now()); left > 0 {
			return left, nil
		}
	}
	vols, err := c.StorageContent(ctx, e.Node, st.si.Spec.Storage, "vztmpl")
	if err != nil {
		return 0, err
	}
	i := slices.IndexFunc(vols, func(v proxmox.StoredVolume) bool { return v.Volid == st.si.Status.Volume })
	if i >= 0 {
		if e.Phase != v1alpha1.StageStaged {
			t := metav1.NewTime(st.r.now())
			e.Phase, e.StagedAt, e.Message, e.Attempts = v1alpha1.StageStaged, &t, "", 0
		}
		e.Size = int64(vols[i].Size)
		return stagedRecheck, nil
	}
	return st.start(ctx, e)
}

// finished notes a task that ended well: the pull's digest, and that the
// file is the operator's.
func (st stager) finished(ctx context.Context, e *v1alpha1.NodeStage) error {
	upid := e.Task.UPID
	e.Task = nil
	e.Ours = true
	if st.si.Spec.Source.OCI == "" {
		return nil
	}
	d, err := st.host.Client.PulledImageDigest(ctx, upid)
	if err != nil {
		return err
	}
	e.Digest = d
	return nil
}

// failed records a failed task with Proxmox' words. A pull or download
// that failed as a task failed for a reason in the request or at the
// source (unknown tag, denied, checksum, full disk): a person's matter,
// retried slowly in case the source is fixed.
func (st stager) failed(ctx context.Context, e *v1alpha1.NodeStage, ts proxmox.TaskStatus) {
	e.Task = nil
	e.Attempts++
	t := metav1.NewTime(st.r.now())
	e.Phase, e.StagedAt = v1alpha1.StageFailed, &t
	e.Message = ts.ExitStatus
	if why := taskFatal(ctx, st.host.Client, ts); why != "" {
		e.Message += " (" + why + ")"
		e.Message += st.knownTags(ctx, e.Node, why)
	}
	st.r.event(st.si, v1alpha1.ReasonImageStagingFailed, fmt.Sprintf("staging %s on %s failed: %s", st.si.Status.Volume, e.Node, e.Message))
}

// knownTags names the tags the registry does have when a pull failed for
// an unknown one (skopeo: "manifest unknown"), so that a typo in a tag
// is seen at once; "" when the listing fails too or is not called for.
func (st stager) knownTags(ctx context.Context, node, why string) string {
	ref := parseOCIRef(st.si.Spec.Source.OCI)
	if st.si.Spec.Source.OCI == "" || !strings.Contains(why, "manifest unknown") {
		return ""
	}
	tags, err := st.host.Client.OCITags(ctx, node, ref.repository)
	if err != nil || len(tags) == 0 {
		return ""
	}
	const most = 10
	more := ""
	if len(tags) > most {
		more = fmt.Sprintf(" and %d more", len(tags)-most)
		tags = tags[len(tags)-most:]
	}
	return fmt.Sprintf("; %s has tags %s%s", ref.repository, strings.Join(tags, ", "), more)
}

// taskFatal is the reason a failed pull's log gives (skopeo's fatal line),
// or "".
func taskFatal(ctx context.Context, c proxmox.TaskReader, ts proxmox.TaskStatus) string {
	lines, err := c.TaskLog(ctx, ts.UPID.String(), 0, 50)
	if err != nil {
		return ""
	}
	for _, l := range slices.Backward(lines) {
		if _, msg, ok := strings.Cut(l, `level=fatal msg="`); ok {
			return strings.TrimSuffix(msg, `"`)
		}
	}
	return ""
}

// start sends the pull or download and records its task.
func (st stager) start(ctx context.Context, e *v1alpha1.NodeStage) (time.Duration, error) {
	c, src, storage := st.host.Client, st.si.Spec.Source, st.si.Spec.Storage
	var upid proxmox.UPID
	var err error
	switch {
	case src.OCI != "":
		upid, err = c.PullOCIImage(ctx, e.Node, storage, src.OCI, strings.TrimSuffix(stagedFile(src), ".tar"))
	case src.Appliance != "":
		upid, err = c.DownloadAppliance(ctx, e.Node, storage, src.Appliance)
	default:
		upid, err = c.DownloadURL(ctx, e.Node, storage, proxmox.DownloadRequest{
			URL: src.URL.URL, Filename: stagedFile(src), Checksum: src.URL.Checksum, ChecksumAlgorithm: checksumAlgorithm(src.URL),
		})
	}
	switch {
	case err == nil:
		e.Task, e.Phase, e.Message = taskRef(upid, time.Now()), v1alpha1.StageStaging, ""
		st.r.started.Store(string(st.si.UID)+"/"+e.Node, *e.Task)
		return pollAfter(e.Task, time.Now()), nil
	case proxmox.IsAlreadyExists(err):
		// Someone else's file appeared since the listing: look again.
		return requeueSoon, nil
	case classifyFailure(err) == failureNeedsPerson:
		e.Attempts++
		t := metav1.NewTime(st.r.now())
		e.Phase, e.StagedAt, e.Message = v1alpha1.StageFailed, &t, err.Error()
		return backoff(int(e.Attempts)), nil
	}
	return 0, err
}

func checksumAlgorithm(d *v1alpha1.TemplateDownload) string {
	if d.ChecksumAlgorithm == "" {
		return "sha256"
	}
	return d.ChecksumAlgorithm
}

// removeOurs deletes the files the operator staged. done is false while
// a removal is still to be made or its task still runs: the object keeps
// its finalizer until every file is gone, so a removal Proxmox refuses is
// seen (in PVE's words) instead of leaving a file nobody tracks.
func (st stager) removeOurs(ctx context.Context) (outcome, ctrl.Result, bool, error) {
	for i := range st.si.Status.Nodes {
		e := &st.si.Status.Nodes[i]
		o, res, done, err := st.removeOn(ctx, e)
		if !done || err != nil {
			return o, res, false, err
		}
	}
	return outcome{}, ctrl.Result{}, true, nil
}

// removeOn removes the operator's file from one node. A pull still running
// is waited for (the file it writes is the operator's); the deletion's own
// task (imgdel) is polled, never waited for. The storage is listed before
// each delete: PVE answers a delete of a missing file with a task that
// fails, not with "not found".
func (st stager) removeOn(ctx context.Context, e *v1alpha1.NodeStage) (outcome, ctrl.Result, bool, error) {
	vol := st.si.Status.Volume
	if e.Task != nil {
		res, ts, err := checkTask(ctx, st.host.Client, e.Task)
		deletion := e.Task.Type == "imgdel"
		switch {
		case err != nil:
			return outcome{}, ctrl.Result{}, false, err
		case res == taskRunning:
			return progressing(v1alpha1.ReasonDeleting, fmt.Sprintf("waiting for task %s on %s before removing %s", e.Task.UPID, e.Node, vol)),
				ctrl.Result{RequeueAfter: pollAfter(e.Task, time.Now())}, false, nil
		case res == taskFailed && deletion:
			e.Task = nil
			return progressing(v1alpha1.ReasonDeleting, fmt.Sprintf("removing %s from %s failed: %s; retrying", vol, e.Node, taskFailure(ts))),
				ctrl.Result{RequeueAfter: 30 * time.Second}, false, nil
		case res == taskSucceeded && deletion:
			e.Task, e.Ours = nil, false
			return outcome{}, ctrl.Result{}, true, nil
		}
		// A pull that ended well wrote the operator's file.
		e.Ours = e.Ours || res == taskSucceeded
		e.Task = nil
	}
	if !e.Ours {
		return outcome{}, ctrl.Result{}, true, nil
	}
	vols, err := st.host.Client.StorageContent(ctx, e.Node, st.si.Spec.Storage, "vztmpl")
	if err != nil {
		return outcome{}, ctrl.Result{}, false, err
	}
	if !slices.ContainsFunc(vols, func(v proxmox.StoredVolume) bool { return v.Volid == vol }) {
		e.Ours = false
		return outcome{}, ctrl.Result{}, true, nil
	}
	return st.deleteOn(ctx, e)
}

// deleteOn sends the delete of the operator's file on one node.
func (st stager) deleteOn(ctx context.Context, e *v1alpha1.NodeStage) (outcome, ctrl.Result, bool, error) {
	vol := st.si.Status.Volume
	upid, err := st.host.Client.DeleteVolume(ctx, e.Node, st.si.Spec.Storage, vol)
	switch {
	case proxmox.IsNotFound(err):
		e.Ours = false
		return outcome{}, ctrl.Result{}, true, nil
	case proxmox.IsOutcomeUnknown(err):
		return outcome{}, ctrl.Result{RequeueAfter: 2 * taskPoll}, false, nil
	case err != nil:
		return progressing(v1alpha1.ReasonDeleting, fmt.Sprintf("removing %s from %s: %s", vol, e.Node, err)),
			ctrl.Result{RequeueAfter: 10 * time.Second}, false, nil
	case upid.IsZero():
		e.Ours = false
		return outcome{}, ctrl.Result{}, true, nil
	}
	e.Task = taskRef(upid, time.Now())
	return progressing(v1alpha1.ReasonDeleting, fmt.Sprintf("removing %s from %s (task %s)", vol, e.Node, upid)),
		ctrl.Result{RequeueAfter: pollAfter(e.Task, time.Now())}, false, nil
}

// stagedOn is the entry that makes the image usable on node, if staged:
// the node's own, or any for a shared storage.
func stagedOn(si *v1alpha1.StagedImage, node string, shared bool) (*v1alpha1.NodeStage, bool) {
	for i := range si.Status.Nodes {
		e := &si.Status.Nodes[i]
		if e.Node == node || shared && e.Phase == v1alpha1.StageStaged {
			return e, e.Phase == v1alpha1.StageStaged
		}
	}
	return nil, false
}
