package testenv

import (
	"context"
	"fmt"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/pvesim"
)

// DataVolumes are a container config's data volumes by key: mount points
// backed by a storage volume (not bind mounts) and unusedN.
func DataVolumes(cfg map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range cfg {
		vol, _, _ := strings.Cut(v, ",")
		vol = strings.TrimPrefix(vol, "volume=")
		if (strings.HasPrefix(k, "mp") || strings.HasPrefix(k, "unused")) && !strings.HasPrefix(vol, "/") {
			out[k] = vol
		}
	}
	return out
}

// MarkDataVolumes writes a marker "<app>/<key>" onto each data volume of
// the Application's container and returns marker → Application name.
func MarkDataVolumes(sim *pvesim.Server, app *v1alpha1.Application) (map[string]string, error) {
	ct, ok := sim.Container(int(app.Status.VMID))
	if !ok {
		return nil, fmt.Errorf("container %d of %s does not exist", app.Status.VMID, app.Name)
	}
	out := map[string]string{}
	for key, vol := range DataVolumes(ct.Config) {
		marker := app.Name + "/" + key
		if err := sim.SetVolumeContent(vol, marker); err != nil {
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
		if c := sim.VolumeContent(v.Volid); c != "" {
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
		for _, vol := range DataVolumes(ct.Config) {
			attached = attached || vol == vols[0]
		}
		if !ok || !attached {
			out = append(out, fmt.Sprintf("marker %s: volume %s is not attached to container %d of Application %s", marker, vols[0], a.Status.VMID, name))
		}
	}
	return out
}
