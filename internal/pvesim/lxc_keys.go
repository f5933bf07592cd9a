package pvesim

import (
	"fmt"
	"strings"
)

// Raw "lxc.*" lines pass through a container config untouched (pct appends
// them to the generated LXC config), but pve-container's parser only keeps
// the keys it knows. These tables are its verdicts, key by key.

// lxcKeysKept are the lxc.* keys the parser keeps as they are.
var lxcKeysKept = toSet(
	"lxc.apparmor.profile", "lxc.apparmor.allow_incomplete", "lxc.apparmor.allow_nesting",
	"lxc.apparmor.raw", "lxc.selinux.context", "lxc.include", "lxc.arch", "lxc.uts.name",
	"lxc.signal.halt", "lxc.signal.reboot", "lxc.signal.stop",
	"lxc.init.cmd", "lxc.init.cwd", "lxc.init.uid", "lxc.init.gid", "lxc.init.groups",
	"lxc.pty.max", "lxc.console.logfile", "lxc.console.path", "lxc.tty.max", "lxc.devtty.dir",
	"lxc.hook.autodev", "lxc.autodev", "lxc.kmsg",
	"lxc.mount.fstab", "lxc.mount.entry", "lxc.mount.auto", "lxc.rootfs.mount",
	"lxc.cap.drop", "lxc.cap.keep",
	"lxc.seccomp.profile", "lxc.seccomp.notify.proxy", "lxc.seccomp.notify.cookie",
	"lxc.idmap",
	"lxc.hook.pre-start", "lxc.hook.pre-mount", "lxc.hook.mount", "lxc.hook.start", "lxc.hook.stop",
	"lxc.hook.post-stop", "lxc.hook.clone", "lxc.hook.destroy", "lxc.hook.version",
	"lxc.log.level", "lxc.log.file", "lxc.start.auto", "lxc.start.delay", "lxc.start.order",
	"lxc.group", "lxc.environment", "lxc.environment.runtime", "lxc.environment.hooks",
	// Namespaced by CLONE_NEWIPC, hence safe inside a container.
	"lxc.sysctl.fs.mqueue", "lxc.sysctl.kernel.msgmax", "lxc.sysctl.kernel.msgmnb",
	"lxc.sysctl.kernel.msgmni", "lxc.sysctl.kernel.sem", "lxc.sysctl.kernel.shmall",
	"lxc.sysctl.kernel.shmmax", "lxc.sysctl.kernel.shmmni", "lxc.sysctl.kernel.shm_rmid_forced",
)

// lxcKeysRefused are keys PVE generates itself or does not support: the line
// is dropped with the reason as the warning.
var lxcKeysRefused = map[string]string{
	"lxc.rootfs.path":    "lxc.rootfs.path is auto generated from rootfs",
	"lxc.rootfs.options": `lxc.rootfs.options is not supported, please use mount point options in the "rootfs" key`,
}

// lxcKeysRenamed are pre-LXC-3.0 names: kept, with a warning naming the
// replacement.
var lxcKeysRenamed = map[string]string{
	"lxc.aa_profile": "lxc.apparmor.profile", "lxc.aa_allow_incomplete": "lxc.apparmor.allow_incomplete",
	"lxc.console": "lxc.console.path", "lxc.devttydir": "lxc.tty.dir",
	"lxc.haltsignal": "lxc.signal.halt", "lxc.rebootsignal": "lxc.signal.reboot", "lxc.stopsignal": "lxc.signal.stop",
	"lxc.id_map": "lxc.idmap", "lxc.init_cmd": "lxc.init.cmd", "lxc.loglevel": "lxc.log.level",
	"lxc.logfile": "lxc.log.file", "lxc.mount": "lxc.mount.fstab",
	"lxc.network.type": "lxc.net.INDEX.type", "lxc.network.flags": "lxc.net.INDEX.flags",
	"lxc.network.link": "lxc.net.INDEX.link", "lxc.network.mtu": "lxc.net.INDEX.mtu",
	"lxc.network.name": "lxc.net.INDEX.name", "lxc.network.hwaddr": "lxc.net.INDEX.hwaddr",
	"lxc.network.ipv4": "lxc.net.INDEX.ipv4.address", "lxc.network.ipv4.gateway": "lxc.net.INDEX.ipv4.gateway",
	"lxc.network.ipv6": "lxc.net.INDEX.ipv6.address", "lxc.network.ipv6.gateway": "lxc.net.INDEX.ipv6.gateway",
	"lxc.network.script.up": "lxc.net.INDEX.script.up", "lxc.network.script.down": "lxc.net.INDEX.script.down",
	"lxc.pts": "lxc.pty.max", "lxc.se_context": "lxc.selinux.context", "lxc.seccomp": "lxc.seccomp.profile",
	"lxc.tty": "lxc.tty.max", "lxc.utsname": "lxc.uts.name",
}

// lxcKeyVerdict says whether the parser keeps an lxc.* line, and what it
// warns about it. A dropped line always has a warning.
func lxcKeyVerdict(vmid int, key, line string) (keep bool, warning string) {
	switch {
	case strings.HasPrefix(key, "lxc.limit."):
		return true, fmt.Sprintf("vm %d - %s: lxc.limit.* was renamed to lxc.prlimit.*", vmid, key)
	case lxcKeysRenamed[key] != "":
		return true, fmt.Sprintf("vm %d - %s is deprecated and was renamed to %s", vmid, key, lxcKeysRenamed[key])
	case lxcKeysKept[key]:
		return true, ""
	case lxcKeysRefused[key] != "":
		return false, fmt.Sprintf("vm %d - %s: %s", vmid, key, lxcKeysRefused[key])
	case strings.HasPrefix(key, "lxc.cgroup."):
		return true, fmt.Sprintf("vm %d - %s is deprecated, this will be a hard error in the future!", vmid, key)
	case strings.HasPrefix(key, "lxc.cgroup2."), strings.HasPrefix(key, "lxc.prlimit."), strings.HasPrefix(key, "lxc.net."):
		return true, ""
	}
	return false, fmt.Sprintf("vm %d - unable to parse config: %s", vmid, line)
}

func toSet(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}
