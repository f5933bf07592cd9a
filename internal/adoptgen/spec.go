package adoptgen

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"k8s.io/utils/ptr"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
)

// ErrOwned and ErrTemplate say why a container cannot be adopted at all.
var (
	ErrOwned    = errors.New("container carries an operator ownership tag: it is managed already (or contested)")
	ErrTemplate = errors.New("container is a template: templates are never adopted")
)

// SpecFromConfig is the inverse of the operator's rendering: the adopting
// ApplicationSpec that declares every key of cfg (a container's config as
// GET .../config returns it, pending values folded in) the spec can
// express in exactly the form the operator would write it, so that the
// first reconcile of the adopting Application changes nothing but the
// ownership marking. running sets powerState, which otherwise defaults to
// Running and would start a stopped container.
//
// Keys it cannot declare faithfully are left out of the spec, which keeps
// them as found; notes say which and why, sorted. A list (network,
// mountPoints) is declared whole or not at all: a declared list removes
// what it does not name.
func SpecFromConfig(host string, vmid int, node string, cfg map[string]string, running bool) (v1alpha1.ApplicationSpec, []string, error) {
	if cfg["template"] == "1" {
		return v1alpha1.ApplicationSpec{}, nil, ErrTemplate
	}
	if _, tagged := lxcconfig.OwnerOf(lxcconfig.SplitTags(cfg["tags"])); tagged {
		return v1alpha1.ApplicationSpec{}, nil, ErrOwned
	}
	if vmid < 100 || vmid > 999999999 {
		return v1alpha1.ApplicationSpec{}, nil, fmt.Errorf("VMID %d is outside 100-999999999", vmid)
	}
	b := &builder{cfg: cfg, used: map[string]bool{"digest": true}}
	b.spec = v1alpha1.ApplicationSpec{
		HostRef: v1alpha1.LocalObjectReference{Name: host},
		VMID:    ptr.To(int32(vmid)),
		Adopt:   true,
	}
	// Declared so that the container stays where it is found; empty, the
	// operator never moves it either.
	if len(node) <= 63 && nodePattern.MatchString(node) {
		b.spec.Node = node
	}
	b.spec.PowerState = v1alpha1.PowerStateStopped
	if running {
		b.spec.PowerState = v1alpha1.PowerStateRunning
	}
	b.identity()
	b.resources()
	b.options()
	b.features()
	b.dns()
	b.network()
	b.rootFS()
	b.mountPoints()
	b.undeclared()
	sort.Strings(b.notes)
	return b.spec, b.notes, nil
}

// builder accumulates the spec, the keys it consumed and the notes.
type builder struct {
	cfg   map[string]string
	spec  v1alpha1.ApplicationSpec
	used  map[string]bool
	notes []string
}

func (b *builder) note(format string, args ...any) {
	b.notes = append(b.notes, fmt.Sprintf(format, args...))
}

// value returns a key's value and marks the key as dealt with: a key
// looked at and found undeclarable gets a note of its own, never the
// generic one of undeclared().
func (b *builder) value(key string) (string, bool) {
	v, ok := b.cfg[key]
	if ok {
		b.used[key] = true
	}
	return v, ok
}

// identity is hostname, tags, description and the create-time facts.
func (b *builder) identity() {
	if h, ok := b.value("hostname"); ok {
		if validHostname(h) {
			b.spec.Hostname = h
		} else {
			b.note("hostname %q is not a lowercase DNS label the spec accepts: it is left out, and the container keeps it until spec.hostname is set", h)
		}
	} else {
		b.note("the container has no hostname, and gets none until spec.hostname is set")
	}
	if t, ok := b.value("tags"); ok {
		b.tags(t)
	}
	if d, ok := b.value("description"); ok && strings.TrimSpace(d) != "" {
		user := userDescription(d)
		if len(user) > 8192 {
			b.note("description is longer than the spec's 8192 characters: left as found")
		} else {
			b.spec.Description = &user
		}
	}
	// PVE's default is privileged: an absent key is declared as such, so
	// that the grant the container needs shows in the manifest.
	u, _ := b.value("unprivileged")
	b.spec.Unprivileged = ptr.To(u == "1")
	if u != "1" {
		b.note("the container is privileged: the namespace needs the host's privileged grant (spec.grants[].privileged)")
	}
	b.enum("arch", &b.spec.Arch, "amd64", "i386", "arm64", "armhf", "riscv32", "riscv64")
	b.enum("ostype", &b.spec.OSType, "debian", "devuan", "ubuntu", "centos", "fedora", "opensuse", "archlinux", "alpine", "gentoo", "nixos", "unmanaged")
}

// tags declares the user's tags; the operator adds its own markers.
func (b *builder) tags(s string) {
	user := lxcconfig.UserTags(lxcconfig.SplitTags(s))
	if len(user) == 0 {
		return
	}
	for _, t := range user {
		if len(t) > 64 || !tagPattern.MatchString(t) {
			b.note("tag %q is not one the spec accepts: tags left undeclared (kept as found)", t)
			return
		}
	}
	if len(lxcconfig.NormalizeTags(user)) > 32 {
		b.note("more than 32 tags: tags left undeclared (kept as found)")
		return
	}
	b.spec.Tags = lxcconfig.NormalizeTags(user)
}

// userDescription is a description without an ownership note a previous
// Application left in it: only the text above the note is the user's.
func userDescription(d string) string {
	if i := strings.Index(d, descriptionMarker); i >= 0 {
		d = d[:i]
	}
	return strings.TrimRight(d, " \t\r\n")
}

// descriptionMarker starts lxcconfig.Description's note, up to the
// Application's name: what every note, whoever wrote it, begins with.
var descriptionMarker = strings.SplitAfterN(lxcconfig.Description("ns", "name", "uid"), " Application ", 2)[0]

// enum declares a string key whose value must be one of allowed.
func (b *builder) enum(key string, field *string, allowed ...string) {
	v, ok := b.value(key)
	if !ok {
		return
	}
	for _, a := range allowed {
		if v == a {
			*field = v
			return
		}
	}
	b.note("%s %q is not one the spec accepts: left as found", key, v)
}

// boolKey declares a 0/1 key.
func (b *builder) boolKey(key string, field **bool) {
	v, ok := b.value(key)
	if !ok {
		return
	}
	switch v {
	case "0", "1":
		*field = ptr.To(v == "1")
	default:
		b.note("%s %q is not 0 or 1: left as found", key, v)
	}
}

// intKey declares an integer key within [lo, hi].
func (b *builder) intKey(key string, lo, hi int64, field **int32) {
	v, ok := b.value(key)
	if !ok {
		return
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n < lo || n > hi {
		b.note("%s %q is not a whole number from %d to %d: left as found", key, v, lo, hi)
		return
	}
	*field = ptr.To(int32(n))
}

// options are the container-wide scalar options.
func (b *builder) options() {
	s := &b.spec
	b.boolKey("onboot", &s.StartOnBoot)
	b.boolKey("protection", &s.Protection)
	b.boolKey("console", &s.Console)
	b.boolKey("debug", &s.Debug)
	b.intKey("tty", 0, 6, &s.TTYs)
	b.enum("cmode", &s.ConsoleMode, "shell", "console", "tty")
	if tz, ok := b.value("timezone"); ok {
		if len(tz) <= 64 && timezonePattern.MatchString(tz) {
			s.Timezone = tz
		} else {
			b.note("timezone %q is not one the spec accepts: left as found", tz)
		}
	}
	if ep, ok := b.value("entrypoint"); ok {
		if ep != "" && len(ep) <= 4096 && !strings.ContainsFunc(ep, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			s.Entrypoint = ep
		} else {
			b.note("entrypoint is not one the spec accepts: left as found")
		}
	}
	if v, ok := b.value("startup"); ok {
		b.startup(v)
	}
}

// startup parses "order=1,up=30,down=60".
func (b *builder) startup(v string) {
	st := &v1alpha1.Startup{}
	fields := map[string]**int32{"order": &st.Order, "up": &st.UpDelaySeconds, "down": &st.DownTimeoutSeconds}
	for k, val := range lxcconfig.ParseProps(v) {
		f, known := fields[k]
		n, err := strconv.ParseInt(val, 10, 32)
		if !known || err != nil || n < 0 {
			b.note("startup %q has %q, which the spec cannot express: left as found", v, k)
			return
		}
		*f = ptr.To(int32(n))
	}
	if st.Order == nil && st.UpDelaySeconds == nil && st.DownTimeoutSeconds == nil {
		return
	}
	b.spec.Startup = st
}

// undeclared notes the keys nothing above declared: they stay as found.
func (b *builder) undeclared() {
	var keys []string
	for k := range b.cfg {
		if !b.used[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.note("%s: %s", k, undeclaredReason(k))
	}
}

// undeclaredReason says why a key is never declared by the generator.
func undeclaredReason(k string) string {
	switch {
	case isIndexed(k, "dev"):
		return "device passthrough is root on the node and needs a host grant: left undeclared (kept as found)"
	case k == "hookscript":
		return "a hookscript runs as root on the node and needs a host grant: left undeclared (kept as found)"
	case k == "env":
		return "the environment may hold secrets, which do not belong in a manifest: left undeclared (kept as found)"
	case isIndexed(k, "unused"):
		return "a detached volume: kept as found"
	case k == "lock":
		return "Proxmox' own lock: the operator waits it out"
	}
	return "not declarable: left as found"
}

// isIndexed reports whether key is prefix followed by digits (net0, mp12).
func isIndexed(key, prefix string) bool {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok || rest == "" {
		return false
	}
	_, err := strconv.Atoi(rest)
	return err == nil && !strings.HasPrefix(rest, "+") && !strings.HasPrefix(rest, "-")
}
