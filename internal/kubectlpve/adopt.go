package kubectlpve

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/adoptgen"
)

type adoptFlags struct {
	kube            kubeFlags
	host            string
	node, pool, tag string
	vmids           string
	dryRun          bool
	outDir          string
}

func parseAdopt(args []string, stderr io.Writer) (*adoptFlags, error) {
	f := &adoptFlags{}
	fs := flag.NewFlagSet("kubectl pve adopt", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.kube.bind(fs)
	fs.StringVar(&f.host, "host", "", "The ProxmoxHost whose unmanaged containers to adopt (required).")
	fs.StringVar(&f.node, "node", "", "Only containers on this node.")
	fs.StringVar(&f.pool, "pool", "", "Only members of this Proxmox pool.")
	fs.StringVar(&f.tag, "tag", "", "Only containers carrying this tag (any case).")
	fs.StringVar(&f.vmids, "vmids", "", "Only VMIDs in this range, e.g. 100-199, or one VMID.")
	fs.BoolVar(&f.dryRun, "dry-run", false, "Print, per container, what the operator's first reconcile would change instead of the manifests.")
	fs.StringVar(&f.outDir, "o", "", "Write one <name>.yaml per Application into this directory instead of one stream to stdout.")
	if err := fs.Parse(args); err != nil {
		return nil, usageError(err.Error())
	}
	if f.host == "" {
		return nil, usageError("--host is required")
	}
	if fs.NArg() > 0 {
		return nil, usageError(fmt.Sprintf("unexpected arguments %v", fs.Args()))
	}
	return f, nil
}

func runAdopt(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseAdopt(args, stderr)
	if err != nil {
		return err
	}
	filter := adoptgen.Filter{Node: f.node, Pool: f.pool, Tag: f.tag}
	if f.vmids != "" {
		if filter.VMIDFrom, filter.VMIDTo, err = adoptgen.ParseVMIDRange(f.vmids); err != nil {
			return usageError(err.Error())
		}
	}
	k8s, ns, err := f.kube.client()
	if err != nil {
		return err
	}
	pve, host, err := adoptgen.HostClient(ctx, k8s, f.host)
	if err != nil {
		return err
	}
	defer pve.Close()
	taken, claimed, err := existing(ctx, k8s, ns, f.host)
	if err != nil {
		return err
	}
	rs, err := adoptgen.Generate(ctx, pve, adoptgen.Options{Host: f.host, Namespace: ns, Filter: filter, Taken: taken})
	if err != nil {
		return err
	}
	rs = dropClaimed(rs, claimed, stderr)
	checkGrants(ctx, k8s, host, ns, rs, stderr)
	if f.dryRun {
		return printPlans(stdout, rs)
	}
	return writeManifests(stdout, stderr, f.outDir, rs)
}

// existing returns the Application names taken in ns, and the VMIDs of
// the host that an Application there already names (one still waiting for
// its grant leaves its container untagged, so the listing cannot tell).
func existing(ctx context.Context, k8s client.Client, ns, host string) (map[string]bool, map[int]string, error) {
	var apps v1alpha1.ApplicationList
	if err := k8s.List(ctx, &apps, client.InNamespace(ns)); err != nil {
		return nil, nil, fmt.Errorf("list Applications in %s: %w", ns, err)
	}
	taken, claimed := map[string]bool{}, map[int]string{}
	for _, a := range apps.Items {
		taken[a.Name] = true
		if a.Spec.HostRef.Name == host && a.Spec.VMID != nil {
			claimed[int(*a.Spec.VMID)] = a.Name
		}
	}
	return taken, claimed, nil
}

func dropClaimed(rs []adoptgen.Result, claimed map[int]string, stderr io.Writer) []adoptgen.Result {
	out := rs[:0]
	for _, r := range rs {
		if name, ok := claimed[int(*r.App.Spec.VMID)]; ok {
			fmt.Fprintf(stderr, "skipping container %d: Application %s already names it\n", *r.App.Spec.VMID, name)
			continue
		}
		out = append(out, r)
	}
	return out
}

// checkGrants notes what the operator would stall on for want of a grant.
// Reading the namespace (for its labels) needs get on it: without, the
// check is skipped with a word, as the operator judges anyway.
func checkGrants(ctx context.Context, k8s client.Client, host *v1alpha1.ProxmoxHost, ns string, rs []adoptgen.Result, stderr io.Writer) {
	nsObj := &corev1.Namespace{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: ns}, nsObj); err != nil {
		fmt.Fprintf(stderr, "not checking the host's grants: cannot read namespace %s: %v\n", ns, err)
		return
	}
	adoptgen.GrantNotes(host, nsObj, rs)
}

// printPlans is the dry run: per container, the Application it would
// become and what the first reconcile would write.
func printPlans(w io.Writer, rs []adoptgen.Result) error {
	changing := 0
	for _, r := range rs {
		a := r.App
		fmt.Fprintf(w, "%s/%s  container %d on %s (%s)\n", a.Namespace, a.Name, *a.Spec.VMID, r.Summary.Node, strings.ToLower(string(a.Spec.PowerState)))
		for _, l := range r.Plan.Lines(r.Config) {
			fmt.Fprintln(w, l)
		}
		if r.Plan.Empty() && r.Plan.Invalid == "" {
			fmt.Fprintln(w, "  = no change beyond the ownership marking")
		} else {
			changing++
		}
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  # %s\n", n)
		}
	}
	fmt.Fprintf(w, "%d containers, %d with changes beyond the ownership marking (marked !)\n", len(rs), changing)
	return nil
}

func writeManifests(stdout, stderr io.Writer, dir string, rs []adoptgen.Result) error {
	if dir == "" {
		if err := adoptgen.WriteStream(stdout, rs); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "%d Applications written\n", len(rs))
		return nil
	}
	files, err := adoptgen.WriteDir(dir, rs)
	fmt.Fprintf(stderr, "%d Applications written to %s\n", len(files), dir)
	return err
}
