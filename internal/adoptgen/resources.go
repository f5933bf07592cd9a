package adoptgen

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
)

const (
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// The CRD's patterns for values copied from a config, so that a generated
// manifest is never refused by the apiserver.
var (
	nodePattern     = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$`)
	hostnamePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	tagPattern      = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9_+.-]*$`)
	timezonePattern = regexp.MustCompile(`^(host|[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*)$`)
	storagePattern  = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9._-]*$`)
	bridgePattern   = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_.-]*$`)
	macPattern      = regexp.MustCompile(`^[0-9A-Fa-f][02468aceACE](:[0-9A-Fa-f]{2}){5}$`)
	pathPattern     = regexp.MustCompile(`^/[^,;=\s]*[^/,;=\s]$`)
	fsTypePattern   = regexp.MustCompile(`^[a-zA-Z0-9_]+$`)
	searchPattern   = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$`)
	dotSegment      = regexp.MustCompile(`(^|/)[.][.]?(/|$)`)
)

func validHostname(h string) bool { return len(h) <= 63 && hostnamePattern.MatchString(h) }

// resources are cores, memory, swap, cpulimit and cpuunits.
func (b *builder) resources() {
	r := &v1alpha1.Resources{}
	b.intKey("cores", 1, 8192, &r.Cores)
	b.intKey("cpuunits", 0, 500000, &r.CPUUnits)
	r.Memory = b.mebibytes("memory", 16)
	r.Swap = b.mebibytes("swap", 0)
	if v, ok := b.value("cpulimit"); ok {
		q, err := resource.ParseQuantity(v)
		switch {
		case err != nil || q.Sign() < 0 || q.Cmp(resource.MustParse("8192")) > 0:
			b.note("cpulimit %q is not a number of cores from 0 to 8192: left as found", v)
		case q.IsZero():
			// 0 is no limit, as absent is: declaring it would delete the key.
		default:
			r.CPULimit = &q
		}
	}
	if *r != (v1alpha1.Resources{}) {
		b.spec.Resources = r
	}
}

// mebibytes reads a whole number of MiB as a binary quantity (1024 → 1Gi).
func (b *builder) mebibytes(key string, least int64) *resource.Quantity {
	v, ok := b.value(key)
	if !ok {
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < least || n > 64<<20 {
		b.note("%s %q is not a whole number of MiB the spec accepts: left as found", key, v)
		return nil
	}
	return resource.NewQuantity(n*mib, resource.BinarySI)
}

// features parses "nesting=1,keyctl=1,mount=nfs;cifs".
func (b *builder) features() {
	v, ok := b.value("features")
	if !ok || v == "" {
		// Declaring no flags would delete the key: a change.
		return
	}
	f := &v1alpha1.Features{}
	flags := map[string]*bool{"nesting": &f.Nesting, "keyctl": &f.Keyctl, "fuse": &f.Fuse, "mknod": &f.Mknod, "force_rw_sys": &f.ForceRWSys}
	for k, val := range lxcconfig.ParseProps(v) {
		if k == "mount" {
			for _, fs := range strings.Split(val, ";") {
				if !fsTypePattern.MatchString(fs) {
					b.note("features mount %q is not a list of fs types the spec accepts: features left as found", val)
					return
				}
				f.Mount = append(f.Mount, fs)
			}
			continue
		}
		p, known := flags[k]
		if !known || (val != "0" && val != "1") {
			b.note("features %q has %s=%s, which the spec cannot express: features left as found", v, k, val)
			return
		}
		*p = val == "1"
	}
	b.spec.Features = f
}

// dns is nameserver and searchdomain, declared together.
func (b *builder) dns() {
	ns, hasNS := b.value("nameserver")
	sd, hasSD := b.value("searchdomain")
	if (!hasNS || ns == "") && (!hasSD || sd == "") {
		// Declared empty, both keys would be deleted: a change.
		return
	}
	d := &v1alpha1.DNS{Nameservers: strings.Fields(ns)}
	if len(d.Nameservers) > 3 {
		b.note("more than 3 nameservers: dns left as found")
		return
	}
	for _, a := range d.Nameservers {
		if _, err := netip.ParseAddr(a); err != nil {
			b.note("nameserver %q is not an IP address: dns left as found", a)
			return
		}
	}
	if sd != "" && (len(sd) > 253 || !searchPattern.MatchString(sd)) {
		b.note("searchdomain %q is not one the spec accepts: dns left as found", sd)
		return
	}
	d.SearchDomain = sd
	b.spec.DNS = d
}

// wholeGiB parses a volume's size=, which the spec needs in whole GiB.
func wholeGiB(size string) (resource.Quantity, bool) {
	n, err := lxcconfig.ParseDiskSize(size)
	if err != nil || n < gib || n%gib != 0 || n > 128<<40 {
		return resource.Quantity{}, false
	}
	return *resource.NewQuantity(n, resource.BinarySI), true
}

// flag01 reads an optional 0/1 option; ok is false for anything else.
func flag01(p lxcconfig.Props, k string) (on, ok bool) {
	switch p[k] {
	case "", "0":
		return false, true
	case "1":
		return true, true
	}
	return false, false
}

// optBool reads a tri-state 0/1 option.
func optBool(p lxcconfig.Props, k string) (*bool, bool) {
	v, present := p[k]
	if !present {
		return nil, true
	}
	on, ok := flag01(p, k)
	return &on, ok && v != ""
}

// volumeOptions reads the options lxcconfig's volumeFlags writes.
func volumeOptions(p lxcconfig.Props) (v1alpha1.VolumeOptions, bool) {
	var o v1alpha1.VolumeOptions
	ok := [5]bool{}
	o.ReadOnly, ok[0] = flag01(p, "ro")
	o.Quota, ok[1] = flag01(p, "quota")
	o.Shared, ok[2] = flag01(p, "shared")
	o.ACL, ok[3] = optBool(p, "acl")
	o.Replicate, ok[4] = optBool(p, "replicate")
	for _, good := range ok {
		if !good {
			return o, false
		}
	}
	if m, present := p["mountoptions"]; present {
		allowed := map[string]bool{"discard": true, "lazytime": true, "noatime": true, "nodev": true, "noexec": true, "nosuid": true}
		for _, opt := range strings.Split(m, ";") {
			if !allowed[opt] {
				return o, false
			}
			o.MountOptions = append(o.MountOptions, opt)
		}
	}
	return o, true
}

// storageOf is the storage of a volume ID ("local-lvm:vm-100-disk-0").
func storageOf(volume string) (string, bool) {
	st, _, found := strings.Cut(volume, ":")
	return st, found && len(st) <= 64 && storagePattern.MatchString(st)
}
