package lxcconfig

import (
	"sort"
	"strconv"
	"strings"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/pveparams"
)

// Hostname is the hostname the Application gives a container it makes:
// spec.hostname, else metadata.name.
func Hostname(app *v1alpha1.Application) string {
	if app.Spec.Hostname != "" {
		return app.Spec.Hostname
	}
	return app.Name
}

// ManagesHostname reports whether the container's hostname is converged:
// when the spec declares one, or when the operator made the container
// (create, clone, restore) and so chose its name. An adopted container
// keeps the name it came with, since only declared fields converge on it.
// spec.adopt is immutable, which makes it the record of who made the
// container that survives a restart (and a lost status).
func ManagesHostname(app *v1alpha1.Application) bool {
	return app.Spec.Hostname != "" || !Adopted(app)
}

// Adopted reports whether the Application took over a container it did not
// make.
func Adopted(app *v1alpha1.Application) bool {
	return app.Spec.Adopt || app.Status.Adopted
}

// ClaimedHostname is the hostname the Application holds on its host, the
// one no other Application there may use: the one it converges, or else
// its adopted container's own as last read (status.config). It is "" until
// that first read, when the Application claims no name yet.
func ClaimedHostname(app *v1alpha1.Application) string {
	if ManagesHostname(app) {
		return Hostname(app)
	}
	return app.Status.Config["hostname"]
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
	p = append(p, identityParams(app, keys["tags"])...)
	// Always sent, because PVE changed its default in 9.0.
	p.Add("unprivileged", boolStr(app.Spec.Unprivileged == nil || *app.Spec.Unprivileged))
	if rfs := app.Spec.RootFS; rfs != nil {
		p.Add("rootfs", rootFSParam(rfs))
	}
	for _, k := range sortedKeys(keys) {
		if identityKeys[k] || keys[k] == "" {
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
	return append(identityParams(app, declaredKeys(app, nil)["tags"]), sshKeyParams(app)...)
}

// identityKeys are sent first, by identityParams.
var identityKeys = map[string]bool{"hostname": true, "description": true, "tags": true}

// identityParams are hostname, description and tags: what makes a container
// findable as app's. tags is the rendered tags key. A container the
// operator makes is always named, adopted or not: a replacement (an image
// rollout) has no name of its own to keep.
func identityParams(app *v1alpha1.Application, tags string) pveparams.List {
	return pveparams.List{
		{Key: "hostname", Value: Hostname(app)},
		{Key: "description", Value: DesiredDescription(app)},
		{Key: "tags", Value: tags},
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

// declaredKeys returns the scalar, NIC and device keys the spec manages, in
// the form Proxmox stores them; "" means the key is to be removed. observed
// (may be nil) supplies what the operator must keep from the existing
// config: NIC MAC addresses and, when spec.tags is omitted, existing tags.
// A field the spec omits renders no key at all: it is left as found.
func declaredKeys(app *v1alpha1.Application, observed map[string]string) map[string]string {
	s := app.Spec
	keys := map[string]string{"tags": JoinTags(desiredTags(app, observed))}
	if ManagesHostname(app) {
		keys["hostname"] = Hostname(app)
	}
	if s.Description != nil {
		keys["description"] = DesiredDescription(app)
	}
	resourceKeys(keys, s.Resources)
	optionKeys(keys, s)
	if f := s.Features; f != nil {
		keys["features"] = featuresValue(f)
	}
	if d := s.DNS; d != nil {
		keys["nameserver"] = strings.Join(d.Nameservers, " ")
		keys["searchdomain"] = d.SearchDomain
	}
	for _, n := range s.Network {
		key := netKey(n.Name)
		keys[key] = netProps(n, ParseProps(observed[key]), s.Image != nil).String()
	}
	for _, d := range s.Devices {
		keys[d.Name] = deviceProps(d).String()
	}
	return keys
}

func resourceKeys(keys map[string]string, r *v1alpha1.Resources) {
	if r == nil {
		return
	}
	if r.Cores != nil {
		keys["cores"] = strconv.Itoa(int(*r.Cores))
	}
	if r.Memory != nil {
		keys["memory"] = strconv.FormatInt(r.Memory.Value()/mib, 10)
	}
	if r.Swap != nil {
		keys["swap"] = strconv.FormatInt(r.Swap.Value()/mib, 10)
	}
	if r.CPULimit != nil {
		// 0 is PVE's default, no limit: the key is removed rather than
		// written, so that absent and 0 never differ.
		keys["cpulimit"] = ""
		if !r.CPULimit.IsZero() {
			keys["cpulimit"] = decimal(*r.CPULimit)
		}
	}
	if r.CPUUnits != nil {
		keys["cpuunits"] = strconv.Itoa(int(*r.CPUUnits))
	}
}

// optionKeys are the container-wide scalar options.
func optionKeys(keys map[string]string, s v1alpha1.ApplicationSpec) {
	for key, v := range map[string]*bool{"onboot": s.StartOnBoot, "protection": s.Protection, "console": s.Console, "debug": s.Debug} {
		if v != nil {
			keys[key] = boolStr(*v)
		}
	}
	for key, v := range map[string]string{"hookscript": s.Hookscript, "timezone": s.Timezone, "ostype": s.OSType, "arch": s.Arch, "cmode": s.ConsoleMode, "entrypoint": s.Entrypoint} {
		if v != "" {
			keys[key] = v
		}
	}
	if s.TTYs != nil {
		keys["tty"] = strconv.Itoa(int(*s.TTYs))
	}
	if s.Startup != nil {
		keys["startup"] = startupValue(s.Startup)
	}
}

// featuresValue is the features option: every flag is the spec's once
// features is declared.
func featuresValue(f *v1alpha1.Features) string {
	p := Props{}
	for name, on := range map[string]bool{"nesting": f.Nesting, "keyctl": f.Keyctl, "fuse": f.Fuse, "mknod": f.Mknod, "force_rw_sys": f.ForceRWSys} {
		setFlag(p, name, on)
	}
	if len(f.Mount) > 0 {
		p["mount"] = sortedList(joinList(f.Mount))
	}
	return p.String()
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

func setIf(p Props, k, v string) {
	if v != "" {
		p[k] = v
	}
}

// setFlag writes a boolean PVE defaults to off: present only when on.
func setFlag(p Props, k string, on bool) {
	if on {
		p[k] = "1"
	}
}

// setBool writes a tri-state boolean: absent leaves PVE's default.
func setBool(p Props, k string, v *bool) {
	if v != nil {
		p[k] = boolStr(*v)
	}
}

func joinList(items []string) string { return strings.Join(items, ";") }

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
