package kubectlpve

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

// maxLastBackups keeps the view to one screen.
const maxLastBackups = 10

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var kf kubeFlags
	var all bool
	fs := flag.NewFlagSet("kubectl pve status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kf.bind(fs)
	fs.BoolVar(&all, "A", false, "Applications and Backups of every namespace.")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	k8s, ns, err := kf.client()
	if err != nil {
		return err
	}
	if all {
		ns = ""
	}
	v, err := collect(ctx, k8s, ns)
	if err != nil {
		return err
	}
	v.print(stdout, time.Now())
	return nil
}

// view is what status shows, read in three lists.
type view struct {
	hosts   []v1alpha1.ProxmoxHost
	apps    []v1alpha1.Application
	backups []v1alpha1.Backup
}

// collect reads the hosts (cluster-wide, as they are) and the Applications
// and Backups of ns ("" for all namespaces).
func collect(ctx context.Context, k8s client.Reader, ns string) (*view, error) {
	v := &view{}
	var hosts v1alpha1.ProxmoxHostList
	if err := k8s.List(ctx, &hosts); err != nil {
		return nil, fmt.Errorf("list ProxmoxHosts: %w", err)
	}
	var apps v1alpha1.ApplicationList
	if err := k8s.List(ctx, &apps, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("list Applications: %w", err)
	}
	var backups v1alpha1.BackupList
	if err := k8s.List(ctx, &backups, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("list Backups: %w", err)
	}
	v.hosts, v.apps, v.backups = hosts.Items, apps.Items, backups.Items
	sort.Slice(v.hosts, func(i, j int) bool { return v.hosts[i].Name < v.hosts[j].Name })
	sort.Slice(v.apps, func(i, j int) bool { return key(&v.apps[i]) < key(&v.apps[j]) })
	sort.Slice(v.backups, func(i, j int) bool { return key(&v.backups[i]) < key(&v.backups[j]) })
	return v, nil
}

func key(o client.Object) string { return o.GetNamespace() + "/" + o.GetName() }

func (v *view) print(w io.Writer, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	v.printHosts(tw)
	v.printNotReady(tw)
	v.printTasks(tw, now)
	v.printBackups(tw, now)
	_ = tw.Flush()
}

func (v *view) printHosts(w io.Writer) {
	fmt.Fprintln(w, "HOSTS\tREADY\tREASON\tCONTAINERS\tMESSAGE")
	for _, h := range v.hosts {
		ready, reason, msg := condition(h.Status.Conditions)
		counts := "-"
		if c := h.Status.Containers; c != nil {
			counts = fmt.Sprintf("%d managed, %d unmanaged", c.Managed, c.Unmanaged)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", h.Name, ready, reason, counts, msg)
	}
	fmt.Fprintln(w)
}

func (v *view) printNotReady(w io.Writer) {
	fmt.Fprintln(w, "APPLICATIONS NOT READY\tREADY\tREASON\tVMID\tMESSAGE")
	n := 0
	for _, a := range v.apps {
		ready, reason, msg := condition(a.Status.Conditions)
		if ready == "True" {
			continue
		}
		n++
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", key(&a), ready, reason, vmid(a.Status.VMID), msg)
	}
	if n == 0 {
		fmt.Fprintf(w, "(all %d Ready)\n", len(v.apps))
	}
	fmt.Fprintln(w)
}

// printTasks lists the Proxmox tasks the operator has in flight, as the
// objects' status records them.
func (v *view) printTasks(w io.Writer, now time.Time) {
	fmt.Fprintln(w, "RUNNING TASKS\tTYPE\tNODE\tRUNNING FOR\tUPID")
	n := 0
	line := func(what string, t *v1alpha1.TaskReference) {
		if t == nil {
			return
		}
		n++
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", what, t.Type, t.Node, since(t.StartedAt, now), t.UPID)
	}
	for i := range v.apps {
		line("Application "+key(&v.apps[i]), v.apps[i].Status.Task)
	}
	for i := range v.backups {
		line("Backup "+key(&v.backups[i]), v.backups[i].Status.Task)
	}
	if n == 0 {
		fmt.Fprintln(w, "(none)")
	}
	fmt.Fprintln(w)
}

// printBackups shows the newest completed Backup of each Application,
// newest first, and the Applications that have none.
func (v *view) printBackups(w io.Writer, now time.Time) {
	fmt.Fprintln(w, "LAST BACKUPS\tBACKUP\tCOMPLETED")
	type row struct {
		app, backup string
		at          *metav1.Time
	}
	var rows []row
	for i := range v.apps {
		if lb := v.apps[i].Status.LastBackup; lb != nil {
			rows = append(rows, row{key(&v.apps[i]), lb.Name, lb.CompletionTime})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return timeOf(rows[i].at).After(timeOf(rows[j].at)) })
	for i, r := range rows {
		if i == maxLastBackups {
			fmt.Fprintf(w, "(%d more)\n", len(rows)-i)
			break
		}
		fmt.Fprintf(w, "%s\t%s\t%s ago\n", r.app, r.backup, since(r.at, now))
	}
	if none := len(v.apps) - len(rows); none > 0 {
		fmt.Fprintf(w, "(%d Applications without a completed Backup)\n", none)
	}
}

// condition is Ready's status, reason and message (shortened to a line).
func condition(conds []metav1.Condition) (string, string, string) {
	c := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
	if c == nil {
		return "Unknown", "-", "no Ready condition yet"
	}
	msg := strings.Join(strings.Fields(c.Message), " ")
	if len(msg) > 100 {
		msg = msg[:97] + "..."
	}
	return string(c.Status), c.Reason, msg
}

func vmid(id int32) string {
	if id == 0 {
		return "-"
	}
	return fmt.Sprint(id)
}

func timeOf(t *metav1.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

func since(t *metav1.Time, now time.Time) string {
	if t == nil {
		return "?"
	}
	return now.Sub(t.Time).Round(time.Second).String()
}
