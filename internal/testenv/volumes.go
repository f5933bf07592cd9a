package testenv

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

// MarkerFile is the file on a data volume that MarkDataVolumes writes and
// MarkerViolations reads. A script in the container sees it as
// "<mount path>/marker" (see package pvesim's volume_data.go).
const MarkerFile = "marker"

// MarkDataVolumes writes a marker "<app>/<key>" into MarkerFile on each data
// volume of the Application's container and returns marker → Application
// name.
func MarkDataVolumes(sim *pvesim.Server, app *v1alpha1.Application) (map[string]string, error) {
	ct, ok := sim.Container(int(app.Status.VMID))
	if !ok {
		return nil, fmt.Errorf("container %d of %s does not exist", app.Status.VMID, app.Name)
	}
	out := map[string]string{}
	for key, vol := range lxcconfig.DataVolumes(ct.Config) {
		marker := app.Name + "/" + key
		if err := sim.SetVolumeFile(vol, MarkerFile, marker); err != nil {
			return nil, err
		}
		out[marker] = app.Name
	}
	return out, nil
}

// MarkerViolations checks the data-volume invariant of image updates:
// every marker (marker → Application name) is on exactly one volume, and
// that volume is attached to its Application's container.
func MarkerViolations(ctx context.Context, k8s client.Reader, sim *pvesim.Server, namespace string, markers map[string]string) []string {
	holders := map[string][]string{}
	for _, v := range sim.State().Volumes {
		if c := sim.VolumeFile(v.Volid, MarkerFile); c != "" {
			holders[c] = append(holders[c], v.Volid)
		}
	}
	var out []string
	for marker, name := range markers {
		vols := holders[marker]
		if len(vols) != 1 {
			out = append(out, fmt.Sprintf("marker %s is on %d volumes (%v), want exactly one", marker, len(vols), vols))
			continue
		}
		a := &v1alpha1.Application{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, a); err != nil {
			out = append(out, fmt.Sprintf("Application %s: %v", name, err))
			continue
		}
		ct, ok := sim.Container(int(a.Status.VMID))
		attached := false
		for _, vol := range lxcconfig.DataVolumes(ct.Config) {
			attached = attached || vol == vols[0]
		}
		if !ok || !attached {
			out = append(out, fmt.Sprintf("marker %s: volume %s is not attached to container %d of Application %s", marker, vols[0], a.Status.VMID, name))
		}
	}
	return out
}
