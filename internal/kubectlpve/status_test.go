package kubectlpve

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
)

func ready(status metav1.ConditionStatus, reason, msg string) []metav1.Condition {
	return []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: status, Reason: reason, Message: msg}}
}

func statusObjects(now time.Time) []client.Object {
	started := metav1.NewTime(now.Add(-90 * time.Second))
	done := metav1.NewTime(now.Add(-time.Hour))
	host := &v1alpha1.ProxmoxHost{ObjectMeta: metav1.ObjectMeta{Name: "pve"}}
	host.Status.Conditions = ready("False", "Unreachable", "dial tcp: connection refused")
	okApp := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team"}}
	okApp.Status.Conditions = ready("True", "Reconciled", "container 100 is running on pve1")
	okApp.Status.LastBackup = &v1alpha1.LastBackup{Name: "web-nightly", CompletionTime: &done}
	badApp := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "team"}}
	badApp.Status.Conditions = ready("False", "AdoptionNotAllowed", "ProxmoxHost \"pve\" grants namespace \"team\" no adoption")
	badApp.Status.VMID = 200
	badApp.Status.Task = &v1alpha1.TaskReference{UPID: "UPID:pve1:1:2:3:vzstart:200:op:", Type: "vzstart", Node: "pve1", StartedAt: &started}
	bk := &v1alpha1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "web-now", Namespace: "team"}}
	bk.Status.Task = &v1alpha1.TaskReference{UPID: "UPID:pve1:4:5:6:vzdump:100:op:", Type: "vzdump", Node: "pve1", StartedAt: &started}
	return []client.Object{host, okApp, badApp, bk}
}

func TestStatusShowsWhatNeedsAttentionOnOneScreen(t *testing.T) {
	now := time.Now().Truncate(time.Second) // metav1.Time keeps whole seconds
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	k8s := fake.NewClientBuilder().WithScheme(scheme).WithObjects(statusObjects(now)...).Build()
	v, err := collect(context.Background(), k8s, "team")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	v.print(&out, now)
	cases := []struct{ name, want string }{
		{"a host that is not Ready shows with its reason", "Unreachable"},
		{"an Application not Ready shows with its reason", "team/db"},
		{"its reason is shown", "AdoptionNotAllowed"},
		{"a running Application task shows", "Application team/db"},
		{"a running Backup task shows", "Backup team/web-now"},
		{"the task's age shows", "1m30s"},
		{"the last backup shows", "web-nightly"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("no %q in\n%s", tc.want, out.String())
			}
		})
	}
	if strings.Contains(strings.Split(out.String(), "RUNNING TASKS")[0], "team/web ") {
		t.Errorf("a Ready Application is listed as not Ready:\n%s", out.String())
	}
}

func TestCommandLineMistakesExitWithUsage(t *testing.T) {
	cases := []struct {
		name string
		args []string
		code int
	}{
		{"no command", nil, 2},
		{"an unknown command", []string{"frobnicate"}, 2},
		{"adopt without a host", []string{"adopt"}, 2},
		{"adopt with a bad VMID range", []string{"adopt", "--host", "pve", "--vmids", "9-1"}, 2},
		{"help", []string{"help"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := Run(context.Background(), tc.args, &out, &errOut); code != tc.code {
				t.Errorf("exit %d, want %d (%s)", code, tc.code, errOut.String())
			}
		})
	}
}
