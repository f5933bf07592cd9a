package lxcconfig

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/pveparams"
)

// Hostname is the container's hostname: spec.hostname, else metadata.name.
func Hostname(app *v1alpha1.Application) string {
	if app.Spec.Hostname != "" {
		return app.Spec.Hostname
	}
	return app.Name
}

// CreateParams builds the parameters of POST /nodes/{node}/lxc for an
// Application created from spec.template, in the order they are sent. The
// VMID and the root password are not among them: the client adds the VMID
// it is called with, and the password travels in a field of its own so that
// it is never logged with the parameters. The ownership tag and description
// go into this same call so that a crash right after it cannot leak an
// unowned container.
func CreateParams(app *v1alpha1.Application) pveparams.List {
	keys := declaredKeys(app, nil)
	p := pveparams.List{{Key: "ostemplate", Value: app.Spec.Template}}
	p = append(p, identityParams(app, keys)...)
	// Always sent, because PVE changed its default in 9.0.
	p.Add("unprivileged", boolStr(app.Spec.Unprivileged == nil || *app.Spec.Unprivileged))
	if rfs := app.Spec.RootFS; rfs != nil {
		p.Add("rootfs", fmt.Sprintf("%s:%d", rfs.Storage, rfs.Size.Value()/gib))
	}
	for _, k := range sortedKeys(keys) {
		if k == "hostname" || k == "tags" || keys[k] == "" {
			continue
		}
		p.Add(k, keys[k])
	}
	for _, mp := range app.Spec.MountPoints {
		p.Add(mp.Name, newMountPoint(mp).String())
	}
	return append(p, sshKeyParams(app)...)
}

// RestoreParams are the parameters a restore of a backup into app's new
// container passes over the archive's config, in the order they are sent:
// who the container is and who owns it, and the keys to log in with. The
// rest comes from the archive and is converged afterwards; the root
// password, like on create, travels apart.
func RestoreParams(app *v1alpha1.Application) pveparams.List {
	return append(identityParams(app, declaredKeys(app, nil)), sshKeyParams(app)...)
}

// identityParams are hostname, description and tags: what makes a container
// findable as app's. keys are app's declared keys, which render hostname and
// tags.
func identityParams(app *v1alpha1.Application, keys map[string]string) pveparams.List {
	return pveparams.List{
		{Key: "hostname", Value: keys["hostname"]},
		{Key: "description", Value: Description(app.Namespace, app.Name, string(app.UID))},
		{Key: "tags", Value: keys["tags"]},
	}
}

// sshKeyParams are the root login keys, which PVE only takes at create
// (and restore) time.
func sshKeyParams(app *v1alpha1.Application) pveparams.List {
	if len(app.Spec.SSHPublicKeys) == 0 {
		return nil
	}
	return pveparams.List{{Key: "ssh-public-keys", Value: strings.Join(app.Spec.SSHPublicKeys, "\n")}}
}

// declaredKeys returns the scalar and NIC keys the spec manages, in the form
// Proxmox stores them. observed (may be nil) supplies what the operator must
// keep from the existing config: NIC MAC addresses, unmanaged feature flags
// and, when spec.tags is omitted, existing tags.
func declaredKeys(app *v1alpha1.Application, observed map[string]string) map[string]string {
	s := app.Spec
	keys := map[string]string{
		"hostname": Hostname(app),
		"tags":     JoinTags(desiredTags(app, observed)),
	}
	if r := s.Resources; r != nil {
		if r.Cores != nil {
			keys["cores"] = strconv.Itoa(int(*r.Cores))
		}
		if r.Memory != nil {
			keys["memory"] = strconv.FormatInt(r.Memory.Value()/mib, 10)
		}
		if r.Swap != nil {
			keys["swap"] = strconv.FormatInt(r.Swap.Value()/mib, 10)
		}
	}
	if s.StartOnBoot != nil {
		keys["onboot"] = boolStr(*s.StartOnBoot)
	}
	if s.Protection != nil {
		keys["protection"] = boolStr(*s.Protection)
	}
	if f := s.Features; f != nil {
		p := ParseProps(observed["features"])
		for name, on := range map[string]bool{"nesting": f.Nesting, "keyctl": f.Keyctl, "fuse": f.Fuse} {
			if on {
				p[name] = "1"
			} else {
				delete(p, name)
			}
		}
		keys["features"] = p.String()
	}
	if d := s.DNS; d != nil {
		keys["nameserver"] = strings.Join(d.Nameservers, " ")
		keys["searchdomain"] = d.SearchDomain
	}
	for _, n := range s.Network {
		key := netKey(n.Name)
		keys[key] = netProps(n, ParseProps(observed[key])).String()
	}
	return keys
}

// desiredTags is the spec's tags (or, when omitted, the observed ones) plus
// the operator's own.
func desiredTags(app *v1alpha1.Application, observed map[string]string) []string {
	tags := app.Spec.Tags
	if tags == nil {
		tags = SplitTags(observed["tags"])
	}
	return WithOwner(tags, string(app.UID))
}

// netKey maps an interface name (eth3) to its Proxmox key (net3).
func netKey(ifname string) string { return "net" + strings.TrimPrefix(ifname, "eth") }

// managedNetProps are the NIC properties the spec controls; others (hwaddr,
// type, rate, link_down) are kept as Proxmox has them.
var managedNetProps = []string{"name", "bridge", "ip", "gw", "ip6", "gw6", "tag", "firewall", "mtu"}

func netProps(n v1alpha1.NetworkInterface, observed Props) Props {
	p := Props{}
	for k, v := range observed {
		p[k] = v
	}
	for _, k := range managedNetProps {
		delete(p, k)
	}
	p["name"] = n.Name
	p["bridge"] = n.Bridge
	if p["bridge"] == "" {
		p["bridge"] = "vmbr0"
	}
	setIf(p, "ip", n.IPv4)
	setIf(p, "gw", n.Gateway)
	setIf(p, "ip6", n.IPv6)
	setIf(p, "gw6", n.Gateway6)
	if n.VLAN != nil {
		p["tag"] = strconv.Itoa(int(*n.VLAN))
	}
	if n.Firewall {
		p["firewall"] = "1"
	}
	if n.MTU != nil {
		p["mtu"] = strconv.Itoa(int(*n.MTU))
	}
	if _, ok := p["type"]; !ok {
		p["type"] = "veth"
	}
	return p
}

func newMountPoint(mp v1alpha1.MountPoint) Props {
	p := Props{"": fmt.Sprintf("%s:%d", mp.Storage, mp.Size.Value()/gib), "mp": mp.Path}
	mountFlags(p, mp)
	return p
}

func mountFlags(p Props, mp v1alpha1.MountPoint) {
	p["mp"] = mp.Path
	delete(p, "backup")
	delete(p, "ro")
	if mp.Backup {
		p["backup"] = "1"
	}
	if mp.ReadOnly {
		p["ro"] = "1"
	}
}

func setIf(p Props, k, v string) {
	if v != "" {
		p[k] = v
	}
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
