package pveschema_test

import (
	"strings"
	"testing"

	"github.com/pve-operator/pve-operator/internal/pvesim/pveschema"
)

// formatCase is one named format with values PVE's validator accepts and
// values it refuses, each refusal with the die message PVE gives.
type formatCase struct {
	format string
	valid  []string
	// invalid maps a refused value to its message; "" checks only that
	// the value is refused.
	invalid map[string]string
}

// formatCases covers every named format of the schema file (a test below
// checks that) and the formats they are built from.
var formatCases = []formatCase{
	{"pve-configid", []string{"snap1", "a_b-c", "Before"}, map[string]string{"1abc": "invalid configuration ID '1abc'\n", "a": "invalid configuration ID 'a'\n"}},
	{"pve-configid-list", []string{"a1,b2", "a1;b2 c3", ""}, map[string]string{"a1,1b": "invalid configuration ID '1b'\n"}},
	{"pve-storage-id", []string{"local", "local-lvm", "nfs.backup"}, map[string]string{
		"a": "storage ID 'a' cannot be shorter than 2 characters\n", "lo cal": "storage ID 'lo cal' contains illegal characters\n", "local-": ""}},
	{"pve-storage-id-list", []string{"local,local-lvm", ""}, map[string]string{"local,x": "storage ID 'x' cannot be shorter than 2 characters\n"}},
	{"pve-bridge-id-list", []string{"vmbr0,vmbr1"}, map[string]string{"vmbr0,vm/br": "invalid bridge ID 'vm/br'\n"}},
	{"pve-vmid", []string{"100", "999999999"}, map[string]string{"99": "value does not look like a valid VM ID\n", "0100": "", "1000000000": ""}},
	{"pve-vmid-list", []string{"100,101;102 103"}, map[string]string{"100,abc": "value does not look like a valid VM ID\n"}},
	{"pve-node", []string{"pve1", "a", "node-2"}, map[string]string{"pve.example.com": "value does not look like a valid node name\n", "-pve": ""}},
	{"storage-pair-list", []string{"local:local-lvm", "1", "local", "nfs:zfs,local:local-lvm"}, map[string]string{
		"a:local": "entry 'a:local' contains invalid ID - storage ID 'a' cannot be shorter than 2 characters\n\n\n"}},
	{"bridge-pair-list", []string{"vmbr0:vmbr1", "1"}, map[string]string{"vm/br": "entry 'vm/br' contains invalid ID - invalid bridge ID 'vm/br'\n\n\n"}},
	{"mac-addr", []string{"BC:24:11:00:00:01", "02:00:00:00:00:ff"}, map[string]string{"01:00:5E:00:00:01": "value does not look like a valid unicast MAC address\n", "BC:24:11:00:00": ""}},
	{"ipv4", []string{"10.0.0.1", "255.255.255.255"}, map[string]string{"10.0.0.256": "value does not look like a valid IPv4 address\n", "010.0.0.1": ""}},
	{"ipv6", []string{"fe80::1", "::", "2001:db8::10.0.0.1"}, map[string]string{"fe80:::1": "value does not look like a valid IPv6 address\n", "10.0.0.1": ""}},
	{"ip", []string{"10.0.0.1", "fd00::1"}, map[string]string{"abc": "value does not look like a valid IP address\n"}},
	{"ipv4mask", []string{"255.255.255.0", "0.0.0.0", "255.255.255.255"}, map[string]string{"255.0.255.0": "value does not look like a valid IP netmask\n", "255.255.255": ""}},
	{"CIDRv4", []string{"10.0.0.0/8", "10.0.0.1/32"}, map[string]string{"10.0.0.0/7": "value does not look like a valid IPv4 CIDR network\n", "10.0.0.0": ""}},
	{"CIDRv6", []string{"fd00::/8", "fd00::1/128"}, map[string]string{"fd00::/129": "value does not look like a valid IPv6 CIDR network\n", "fd00::/7": ""}},
	{"CIDR", []string{"10.0.0.0/8", "fd00::/64"}, map[string]string{"10.0.0.1": "value does not look like a valid CIDR network\n"}},
	{"pve-ipv4-config", []string{"dhcp", "manual", "10.0.0.2/24"}, map[string]string{"auto": "value does not look like a valid ipv4 network configuration\n", "10.0.0.2": ""}},
	{"pve-ipv6-config", []string{"auto", "dhcp", "manual", "fd00::2/64"}, map[string]string{"slaac": "value does not look like a valid ipv6 network configuration\n"}},
	{"email", []string{"root@example.com"}, map[string]string{"root@": "value does not look like a valid email address\n"}},
	{"email-or-username-list", []string{"root@example.com,admin", "a.b@c"}, map[string]string{"root@example.com,a/b": "value does not look like a valid email address or user name\n"}},
	{"dns-name", []string{"web1", "web1.example.com"}, map[string]string{"web_1": "value does not look like a valid DNS name\n", "-web": "", "web.": ""}},
	{"dns-name-list", []string{"example.com lab.example.com"}, map[string]string{"example.com,ex_ample.com": "value does not look like a valid DNS name\n"}},
	{"pve-iface", []string{"eth0", "vmbr0.10", "bond0:1"}, map[string]string{"0eth": "invalid network interface name '0eth'\n", "e": ""}},
	{"pve-iface-list", []string{"eth0 eth1"}, map[string]string{"eth0,e": "invalid network interface name 'e'\n"}},
	{"pve-vlan-id-or-range-list", []string{"10", "2-4094", "10,20-30", "5-0"}, map[string]string{
		"1": "invalid VLAN tag '1'\n", "10-5": "VLAN range must go from lower to higher tag '10-5'\n",
		"a": "invalid VLAN configuration 'a'\n", "2-4095": "invalid VLAN tag '4095'\n"}},
	{"address", []string{"10.0.0.1", "pve.example.com"}, map[string]string{"a_b": "value does not look like a valid address: a_b\n"}},
	{"disk-size", []string{"8G", "1.5T", "1024", "4GiB"}, map[string]string{"8 G": "value does not look like a valid disk size: 8 G\n", "8g": ""}},
	{"pve-startup-order", []string{"order=1,up=30,down=60", "3", "up=5"}, map[string]string{"0": "unable to parse startup options\n", "first": ""}},
	{"pve-tag-list", []string{"k8s;prod", "a.b+c", "_x"}, map[string]string{"ok,-x": "invalid characters in tag\n"}},
	{"pve-task-status-type-list", []string{"ok,error", "WARNING"}, map[string]string{"ok,running": "invalid status 'running'\n"}},
	{"proxmox-remote", []string{"host=pve2,apitoken=PVEAPIToken=root@pam!t=s", "host=10.0.0.2,port=8006,apitoken=x"}, map[string]string{
		"apitoken=x":                       "format error\nhost: property is missing and it is not optional\n",
		"host=a,apitoken=x,ip=1":           "invalid key in comma-separated list property: ip\n",
		"host=a,apitoken=x,fingerprint=zz": "format error\nfingerprint: value does not match the regex pattern\n"}},
	{"lxc-ip-with-ll-iface-list", []string{"10.0.0.1", "fe80::1%eth0 10.0.0.2"}, map[string]string{"fe80::1%": "value does not look like a valid IP address\n"}},
	{"pve-ct-timezone", []string{"host", "UTC", "Europe/Vienna"}, map[string]string{"Mars/Base": "invalid time zone 'Mars/Base'\n"}},
	{"pve-lxc-mp-string", []string{"/mnt/data", "relative", "/mnt/..data"}, map[string]string{
		"/mnt/../etc": "/mnt/../etc contains illegal character sequences\n", "../x": "", "/mnt/.": ""}},
	{"pve-lxc-dev-string", []string{"/dev/ttyUSB0", "/dev/dri/card0"}, map[string]string{
		"/dev/../etc/shadow": "/dev/../etc/shadow is not a valid device path\n", "/tmp/x": "/tmp/x is not a valid device path\n"}},
	{"pve-storage-content", []string{"rootdir", "import", "none"}, map[string]string{"vm": "invalid content type 'vm'\n"}},
	{"pve-storage-content-list", []string{"rootdir,vztmpl"}, map[string]string{"rootdir,vm": "invalid content type 'vm'\n"}},
	{"pve-volume-id", []string{"local:vztmpl/debian.tar.zst", "local-lvm:vm-100-disk-0"}, map[string]string{"vztmpl/debian": "unable to parse volume ID 'vztmpl/debian'\n"}},
	{"prune-backups", []string{"keep-last=3,keep-daily=7", "keep-all=1", "keep-all=yes,keep-last=0"}, map[string]string{
		"keep-all=1,keep-last=3": "keep-all cannot be set together with other options.\n",
		"keep-last=-1":           "format error\nkeep-last: value must have a minimum value of 0\n",
		"keep-forever=1":         "invalid key in comma-separated list property: keep-forever\n"}},
	{"backup-fleecing", []string{"0", "1,storage=local-lvm", "enabled=yes,storage=local"}, map[string]string{
		"1": "'storage' parameter is required when 'enabled' is set\n", "enabled=1,storage=x": ""}},
	{"backup-performance", []string{"max-workers=16", "pbs-entries-max=2000000"}, map[string]string{
		"max-workers=257": "format error\nmax-workers: value must have a maximum value of 256\n", "16": ""}},
	{"pve-day-of-week-list", []string{"mon,tue", "sun"}, map[string]string{"mon,Tue": "invalid day 'Tue'\n", "monday": ""}},
	{"pve-calendar-event", []string{"daily", "*:0/15", "mon..fri 02:30", "sat *-1..7 03:00", "2024-06-01 00:00:00", "*-*-1"}, map[string]string{
		"  ": "invalid calendar event '  ' - unable to parse calendar event - event is empty\n\n", "every day": "", "25:00": "", "mon..fri 02:30 extra": ""}},
	{"IPorCIDR", []string{"10.0.0.1", "10.0.0.0/24", "10.0.0.5/24", "fd00::/8"}, map[string]string{
		"10.0.0.1/33": "Prefix length 33 is longer than IP address (32)\n", "host": "value does not look like a valid IP address or CIDR network\n",
		"10.0.0.1/0": "Invalid prefix 00001010000000000000000000000001/0\n"}},
	{"IPorCIDRorAlias", []string{"dc/myalias", "guest/x1", "myalias", "10.0.0.1"}, map[string]string{"dc/1x": "value does not look like a valid IP address or CIDR network\n"}},
	{"pve-fw-addr-spec", []string{"+myset", "dc/alias1", "10.0.0.1,10.0.0.2", "10.0.0.1-10.0.0.9", "fd00::/64", ""}, map[string]string{
		"10.0.0.1,fd00::1":           "detected mixed ipv4/ipv6 addresses in address list '10.0.0.1,fd00::1'\n",
		"10.0.0.1-10.0.0.9,10.0.1.1": "you can't use a range in a list\n",
		"10.0.0.1,":                  "extraneous commas in list\n",
		"300.0.0.1":                  "invalid IP address: Invalid quad in IP address 300.0.0.1 - 300\n",
		"10.0.0.9-10.0.0.1":          "invalid IP address: Begin address is greater than End address 10.0.0.9 - 10.0.0.1\n"}},
	{"pve-fw-sport-spec", []string{"22", "1024:2048", "80,443"}, map[string]string{
		"70000": "invalid port '70000'\n", "2048:1024": "backwards range '2048:1024' not allowed, did you mean '1024:2048'?\n",
		"echo-request": "invalid port 'echo-request'\n"}},
	{"pve-fw-dport-spec", []string{"echo-request", "80,443"}, map[string]string{"echo-request,80": "ICMP ports not allowed in port range\n"}},
	{"pve-fw-protocol-spec", []string{"tcp", "6", "icmpv6"}, map[string]string{"tcpx": "unknown protocol 'tcpx'\n"}},
	{"pve-fw-icmp-type-spec", []string{"echo-request", "neighbor-solicitation", ""}, map[string]string{"ping": "invalid icmp-type value 'ping'\n"}},
	{"pve-ha-resource-id-list", []string{"ct:100,vm:101"}, map[string]string{"ct:100,100": "value does not look like a valid ha resource id\n"}},
	{"pve-ha-resource-or-vm-id", []string{"ct:100", "100"}, map[string]string{"CT:100": "value does not look like a valid ha resource id\n"}},
	{"pve-ha-node-list", []string{"pve1", "pve1:2,pve2:1"}, map[string]string{"pve1:x": "value does not look like a valid ha node\n"}},
	{"pve-poolid", []string{"prod", "a/b/c"}, map[string]string{
		"a/b/c/d": "pool name 'a/b/c/d' nested too deeply (max levels = 3)\n", "a b": "pool name 'a b' contains invalid characters\n"}},
	{"pve-priv-list", []string{"VM.Audit,Sys.Audit"}, map[string]string{"VM.Audit,VM.Monitor": "invalid privilege 'VM.Monitor'\n"}},
	{"pve-realm", []string{"pam", "pve", "my-ldap"}, map[string]string{"1x": "value does not look like a valid realm\n"}},
}

func TestNamedFormats(t *testing.T) {
	for _, fc := range formatCases {
		for _, v := range fc.valid {
			t.Run(fc.format+" accepts "+v, func(t *testing.T) {
				if err := pveschema.CheckFormat(fc.format, v, ""); err != nil {
					t.Fatalf("refused: %q", err)
				}
			})
		}
		for v, want := range fc.invalid {
			t.Run(fc.format+" refuses "+v, func(t *testing.T) {
				err := pveschema.CheckFormat(fc.format, v, "")
				if err == nil {
					t.Fatal("accepted")
				}
				if want != "" && err.Error() != want {
					t.Fatalf("message %q, want %q", err.Error(), want)
				}
			})
		}
	}
}

// TestEveryFormatOfTheFileIsImplementedAndTested fails when the schema
// file names a format that no Go validator implements or that
// formatCases does not exercise.
func TestEveryFormatOfTheFileIsImplementedAndTested(t *testing.T) {
	tested := map[string]bool{}
	for _, fc := range formatCases {
		tested[fc.format] = true
		tested[strings.TrimSuffix(fc.format, "-list")+"-list"] = true
	}
	for _, m := range pveschema.Methods() {
		walkProps(m, func(name string, p *pveschema.Prop) {
			if p.Format == "" {
				return
			}
			if !pveschema.Registered(p.Format) {
				t.Errorf("%s %s %s: format %q is not implemented", m.Method, m.Path, name, p.Format)
			}
			if !tested[p.Format] && !tested[p.Format+"-list"] {
				t.Errorf("%s %s %s: format %q has no test cases", m.Method, m.Path, name, p.Format)
			}
		})
	}
}

// walkProps calls f for every parameter and property-string key of m.
func walkProps(m *pveschema.Method, f func(string, *pveschema.Prop)) {
	var walk func(string, *pveschema.Prop)
	walk = func(name string, p *pveschema.Prop) {
		f(name, p)
		for k, sub := range p.Sub {
			walk(name+"."+k, sub)
		}
		if p.Items != nil {
			walk(name+"[]", p.Items)
		}
	}
	for name, p := range m.Props {
		walk(name, p)
	}
	for _, ix := range m.Indexed {
		walk(ix.Prefix+"[n]", ix.Prop)
	}
}
