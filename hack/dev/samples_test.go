package main

import (
	"os"
	"path/filepath"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

func readSample(t *testing.T, name string, into any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// The samples are applied together by docs/getting-started.md against make
// dev; what ties them together is checked here, beside the walkthrough.
func TestSamplesWorkTogether(t *testing.T) {
	var app, adopt v1alpha1.Application
	var schedule v1alpha1.BackupSchedule
	var backup v1alpha1.Backup
	var restore v1alpha1.Restore
	readSample(t, "proxmox_v1alpha1_application.yaml", &app)
	readSample(t, "proxmox_v1alpha1_application_adopt.yaml", &adopt)
	readSample(t, "proxmox_v1alpha1_backupschedule.yaml", &schedule)
	readSample(t, "proxmox_v1alpha1_backup.yaml", &backup)
	readSample(t, "proxmox_v1alpha1_restore.yaml", &restore)

	selector, err := metav1.LabelSelectorAsSelector(schedule.Spec.ApplicationSelector)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"the BackupSchedule selects the Application", selector.Matches(labels.Set(app.Labels))},
		{"the Backup backs up the Application", backup.Spec.ApplicationRef.Name == app.Name},
		{"the Restore restores the Backup", restore.Spec.BackupRef.Name == backup.Name},
		{"the adopt sample takes the container make dev seeds", adopt.Spec.VMID != nil && *adopt.Spec.VMID == adoptVMID},
		{"both Applications use make dev's host", app.Spec.HostRef.Name == hostName && adopt.Spec.HostRef.Name == hostName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.ok {
				t.Error("it does not")
			}
		})
	}
}
