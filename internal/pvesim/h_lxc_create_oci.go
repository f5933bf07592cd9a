package pvesim

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// A create from an OCI archive (pve-container src/PVE/API2/LXC.pm
// create_vm, "Detected OCI archive"; src/PVE/LXC/Create.pm
// restore_oci_archive and resolve_oci_user). restore_oci_archive runs on
// the config the call's options were already written into, so what the
// image sets (entrypoint, cmode, env) replaces what the call gave; only a
// restore never looks for an OCI image.

// ociCreate is what restore_oci_archive and Setup's detection decided; the
// commit writes it over the call's options.
type ociCreate struct {
	// entrypoint is cmd2string of Entrypoint+Cmd; "" when that command is
	// empty or starts with /sbin/init, and then cmode and the networks are
	// left alone too.
	entrypoint string
	// hostManaged are the netN without a host-managed key.
	hostManaged []string
	// env is Env joined with NUL as the config file gives it back; hasEnv
	// is false for an image without Env (the call's env stays).
	env    string
	hasEnv bool
	// lxc are the raw "key: value" lines: lxc.init.uid/gid/groups,
	// lxc.init.cwd, lxc.signal.halt.
	lxc    []string
	ostype string
}

// reOCICtrlChar is restore_oci_archive's $has_ctrl_char. Its class leaves
// out \x09-\x0f, not only the tab it was meant to allow (pve-container
// f7b2a27), so a newline passes the check.
var reOCICtrlChar = regexp.MustCompile(`[\x00-\x08\x10-\x1f\x7f]`)

// ociCheckedScalar is $oci_config_get_checked_scalar.
func ociCheckedScalar(key, v string) (string, error) {
	if reOCICtrlChar.MatchString(v) {
		//nolint:staticcheck // PVE's exact text
		return "", fmt.Errorf("OCI config value for '%s' contains forbidden control characters!", key)
	}
	return v, nil
}

// ociCheckedArray is $oci_config_get_checked_array.
func ociCheckedArray(key string, vs []string) ([]string, error) {
	for _, v := range vs {
		if reOCICtrlChar.MatchString(v) {
			//nolint:staticcheck // PVE's exact text
			return nil, fmt.Errorf("OCI config array-value for '%s' contains forbidden control characters!", key)
		}
	}
	return vs, nil
}

// ociSource is archive_is_oci_format, which create_vm asks only when not
// restoring: a ".tar" volume holding oci-layout, index.json and blobs/,
// which here means one oci-registry-pull stored.
func (j *createJob) ociSource(v *volume) *ociArchive {
	if j.restore || v.oci == nil || !strings.HasSuffix(v.volid, ".tar") {
		return nil
	}
	return v.oci
}

// restoreOCI is restore_oci_archive after the extraction, checks and
// messages in its order, followed by Setup's detection on the image's
// rootfs; an error is what create_vm dies with.
func (j *createJob) restoreOCI(tr *taskRun) (*ociCreate, error) {
	c := &j.oci.config
	for _, p := range c.Volumes {
		if reOCICtrlChar.MatchString(p) {
			//nolint:staticcheck // PVE's exact text
			return nil, errors.New("OCI config data-volumes path contains forbidden control characters!")
		}
	}
	for _, p := range c.Volumes {
		tr.log("creating base directory for volume at %s", p)
	}
	m := &ociCreate{}
	if err := m.mapInit(tr, c, j.params); err != nil {
		return nil, err
	}
	if err := m.mapUserAndEnv(c); err != nil {
		return nil, err
	}
	typ, err := j.ociSetup(tr)
	if err != nil {
		return nil, err
	}
	m.ostype = typ
	return m, nil
}

// mapInit: Entrypoint followed by Cmd becomes the entrypoint unless it is
// empty or starts with /sbin/init. Such a command breaks the tty console,
// hence cmode=console, and likely manages no network itself, hence
// host-managed=1 on every netN that does not say otherwise.
func (m *ociCreate) mapInit(tr *taskRun, c *OCIImageConfig, params map[string]string) error {
	entrypoint, err := ociCheckedArray("Entrypoint", c.Entrypoint)
	if err != nil {
		return err
	}
	cmd, err := ociCheckedArray("Cmd", c.Cmd)
	if err != nil {
		return err
	}
	init := append(append([]string{}, entrypoint...), cmd...)
	if len(init) == 0 || init[0] == "/sbin/init" {
		return nil
	}
	m.entrypoint = cmd2string(init)
	// PVE walks the config hash in no set order; the simulator goes by
	// index so the log is stable.
	var nets []string
	for k := range params {
		if _, ok := indexOf(k, "net"); ok {
			nets = append(nets, k)
		}
	}
	sort.Slice(nets, func(a, b int) bool { return netIndex(nets[a]) < netIndex(nets[b]) })
	for _, k := range nets {
		ps, err := parseProp(params[k], netFormat)
		if err != nil {
			continue
		}
		if _, set := ps.keys["host-managed"]; set {
			continue
		}
		tr.log("Auto-Enabling host-managed network for network device %s.", k)
		m.hostManaged = append(m.hostManaged, k)
	}
	return nil
}

func netIndex(k string) int {
	n, _ := indexOf(k, "net")
	return n
}

// mapUserAndEnv maps User, WorkingDir, Env and StopSignal. User and
// WorkingDir are skipped when Perl reads them as false ("" or "0", so
// User "0" sets no lxc.init.uid); a missing StopSignal is SIGTERM.
func (m *ociCreate) mapUserAndEnv(c *OCIImageConfig) error {
	user, err := ociCheckedScalar("User", c.User)
	if err != nil {
		return err
	}
	if user != "" && user != "0" {
		lines, err := resolveOCIUser(c, user)
		if err != nil {
			return err
		}
		m.lxc = append(m.lxc, lines...)
	}
	cwd, err := ociCheckedScalar("WorkingDir", c.WorkingDir)
	if err != nil {
		return err
	}
	if cwd != "" && cwd != "0" {
		m.lxc = append(m.lxc, "lxc.init.cwd: "+cwd)
	}
	env, err := ociCheckedArray("Env", c.Env)
	if err != nil {
		return err
	}
	if len(env) > 0 {
		m.env, m.hasEnv = strings.Join(env, "\x00"), true
	}
	signal, err := ociCheckedScalar("StopSignal", c.StopSignal)
	if err != nil {
		return err
	}
	if signal == "" {
		signal = "SIGTERM"
	}
	m.lxc = append(m.lxc, "lxc.signal.halt: "+signal)
	return nil
}

// apply writes the mapping over the new config, which already holds the
// call's options. The caller holds s.mu.
func (m *ociCreate) apply(conf ctConf) {
	if m.entrypoint != "" {
		conf["entrypoint"] = m.entrypoint
		conf["cmode"] = "console"
		for _, k := range m.hostManaged {
			if ps, err := parseProp(conf[k], netFormat); err == nil {
				ps.keys["host-managed"] = "1"
				conf[k] = ps.print(netFormat)
			}
		}
	}
	if m.hasEnv {
		if env, ok := fileEnv(m.env); ok {
			conf["env"] = env
		} else {
			delete(conf, "env")
		}
	}
	lines := make([]string, len(m.lxc))
	for i, l := range m.lxc {
		k, v, _ := strings.Cut(l, ": ")
		lines[i] = k + ": " + rereadLXCValue(k, v)
	}
	conf[lxcConfKey] = strings.Join(lines, "\n")
	conf["ostype"] = m.ostype
}

// setupPlugins and setupAliases are PVE::LXC::Setup's $plugins and
// $plugin_alias: the os-release IDs it has a plugin for.
var (
	setupPlugins = toSet("alpine", "archlinux", "centos", "debian", "devuan", "fedora", "gentoo",
		"openeuler", "opensuse", "ubuntu", "nixos", "unmanaged")
	setupAliases = map[string]string{
		"opensuse-leap": "opensuse", "opensuse-tumbleweed": "opensuse", "opensuse-slowroll": "opensuse",
		"openEuler": "openeuler", "arch": "archlinux", "sles": "opensuse", "rocky": "centos", "almalinux": "centos",
	}
)

// ociSetup is PVE::LXC::Setup::new on the image's rootfs: ostype=unmanaged
// in the call skips detection; otherwise the detected type is what the
// plugin writes into the config, over the call's ostype, which only earns a
// warning. An unmanaged rootfs has no architecture to detect either.
func (j *createJob) ociSetup(tr *taskRun) (string, error) {
	given := j.params["ostype"]
	typ := "unmanaged"
	if given != "unmanaged" {
		id := j.oci.config.OSType
		if id == "" {
			id = osTypeFromTemplate(j.oci.repository)
		}
		typ = id
		switch {
		case id == "unmanaged":
			tr.log("/etc/os-release file not found and autodetection failed, falling back to 'unmanaged'")
		case setupAliases[id] != "":
			typ = setupAliases[id]
		case !setupPlugins[id]:
			tr.log("unknown ID '%s' in /etc/os-release file, trying fallback detection", id)
			return "", errors.New("unable to detect OS distribution")
		}
		if given != "" && given != typ {
			tr.log("got unexpected ostype (%s != %s)", typ, given)
		}
	}
	if _, ok := j.params["arch"]; !ok {
		if typ == "unmanaged" {
			tr.log("Falling back to amd64.\nUse `pct set VMID --arch ARCH` to change.")
		} else {
			tr.log("Detected container architecture: amd64")
		}
	}
	return typ, nil
}

// reOCIUser and reNumeric are resolve_oci_user's patterns. Perl's \d is
// Unicode's decimal digits on the UTF-8 strings perlmod hands over, and
// its "$" also matches before a final newline.
var (
	reOCIUser = regexp.MustCompile(`^([^:]+)(?::([^:]+))?$`)
	reNumeric = regexp.MustCompile(`^\p{Nd}+\n?$`)
)

// resolveOCIUser is resolve_oci_user over the image's /etc/passwd and
// /etc/group: User is "user[:group]", each a name or a number. A number
// is taken as it is, a name is looked up; without a group, the gid is the
// user's passwd entry's and the supplementary groups are those listing the
// user. Each value found becomes an lxc.init.uid, .gid or .groups line, so
// an unknown name sets no uid, and a known name in no group sets groups to
// "".
func resolveOCIUser(c *OCIImageConfig, userstr string) ([]string, error) {
	m := reOCIUser.FindStringSubmatch(userstr)
	if m == nil {
		return nil, errors.New("OCI config value for 'User' has an invalid format")
	}
	user, group := m[1], m[2]
	passwd, groupFile := c.passwdLines(), c.groupLines()
	var uid, username, gid, groups *string
	if reNumeric.MatchString(user) {
		uid, username = &user, lookupField(passwd, 2, user, 0)
	} else {
		username, uid = &user, lookupField(passwd, 0, user, 2)
	}
	switch {
	case group != "" && reNumeric.MatchString(group):
		gid = &group
	case group != "":
		gid = lookupField(groupFile, 0, group, 2)
	default:
		if uid != nil {
			gid = lookupField(passwd, 2, *uid, 3)
		}
		if username != nil {
			g := supplementaryGroups(groupFile, *username)
			groups = &g
		}
	}
	var lines []string
	for _, kv := range []struct {
		key string
		val *string
	}{{"lxc.init.uid", uid}, {"lxc.init.gid", gid}, {"lxc.init.groups", groups}} {
		if kv.val != nil {
			lines = append(lines, kv.key+": "+*kv.val)
		}
	}
	return lines, nil
}

// perlSplitColon is Perl's split(/:/, $line): trailing empty fields are
// dropped, so "nginx:x:101:" has no fourth field.
func perlSplitColon(line string) []string {
	f := strings.Split(line, ":")
	for len(f) > 0 && f[len(f)-1] == "" {
		f = f[:len(f)-1]
	}
	return f
}

// lookupField is resolve_oci_user's $lookup_field: the first line whose
// field match equals val gives its field ret, if it has one.
func lookupField(lines []string, match int, val string, ret int) *string {
	for _, l := range lines {
		f := perlSplitColon(l)
		if match < len(f) && f[match] == val {
			if ret < len(f) {
				return &f[ret]
			}
			return nil
		}
	}
	return nil
}

// supplementaryGroups is $get_supplementary_groups: the gids of the groups
// whose member list names the user, comma-separated.
func supplementaryGroups(lines []string, user string) string {
	var gids []string
	for _, l := range lines {
		f := perlSplitColon(l)
		if len(f) < 4 {
			continue
		}
		for _, u := range strings.Split(f[3], ",") {
			if u == user {
				gids = append(gids, f[2])
				break
			}
		}
	}
	return strings.Join(gids, ",")
}
