package bulkadopt_test

import (
	"fmt"

	"github.com/pve-operator/pve-operator/internal/pvesim"
)

const (
	firstVMID = 3000
	count     = 50
	// The grant and the generator's range reach beyond the fifty, over a
	// template and a container another Application owns, which the
	// generator must leave out.
	templateVMID = 3060
	ownedVMID    = 3061
	// outsideVMID is beyond the range: never generated, never touched.
	outsideVMID = 3070
	rangeEnd    = 3069
)

// handMade are the fifty containers, varied the way hand-made ones are:
// memory, cores and limits, static and DHCP NICs with VLANs, MTUs, rates
// and a second NIC, volume and bind mount points, a device, features,
// tags, boot order, descriptions, pools, a few privileged, a third stopped.
func handMade() []pvesim.ContainerSpec {
	specs := make([]pvesim.ContainerSpec, 0, count)
	for i := range count {
		vmid := firstVMID + i
		cfg := map[string]string{
			"hostname": fmt.Sprintf("legacy-%02d", i),
			"memory":   fmt.Sprint(256 * (1 + i%8)), "swap": fmt.Sprint(256 * (i % 3)), "cores": fmt.Sprint(1 + i%4),
			"rootfs":       rootfs(i, vmid),
			"net0":         nic0(i),
			"unprivileged": "1", "onboot": fmt.Sprint(i % 2),
		}
		extras(i, vmid, cfg)
		if i == 7 || i == 33 {
			cfg["unprivileged"] = "0"
		}
		sp := pvesim.ContainerSpec{Node: fmt.Sprintf("pve%d", 1+i%3), VMID: vmid, Config: cfg, Running: i%3 != 2}
		if i%10 == 6 {
			sp.Pool = "legacy"
		}
		specs = append(specs, sp)
	}
	return specs
}

func rootfs(i, vmid int) string {
	s := fmt.Sprintf("local-lvm:vm-%d-disk-0,size=%dG", vmid, 2+i%4)
	if i%6 == 0 {
		s += ",acl=1"
	}
	if i%9 == 0 {
		s += ",mountoptions=noatime"
	}
	return s
}

func nic0(i int) string {
	s := fmt.Sprintf("name=eth0,bridge=vmbr0,hwaddr=BC:24:11:30:%02X:00", i)
	if i%4 == 1 {
		s += fmt.Sprintf(",ip=10.30.%d.10/24,gw=10.30.%d.1", i, i)
	} else {
		s += ",ip=dhcp"
	}
	for _, o := range []struct {
		on   bool
		prop string
	}{{i%3 == 0, "firewall=1"}, {i%5 == 2, fmt.Sprintf("tag=%d", 100+i)}, {i%6 == 3, "mtu=1450"}, {i%7 == 4, "rate=12.5"}} {
		if o.on {
			s += "," + o.prop
		}
	}
	return s + ",type=veth"
}

// extras are the keys only some containers have.
func extras(i, vmid int, cfg map[string]string) {
	set := func(on bool, k, v string) {
		if on {
			cfg[k] = v
		}
	}
	set(i%5 == 0, "cpulimit", "1.5")
	set(i%7 == 0, "cpuunits", "2048")
	set(i%5 == 0, "net1", fmt.Sprintf("name=eth1,bridge=vmbr1,hwaddr=BC:24:11:31:%02X:00,ip=manual,type=veth", i))
	set(i%4 == 0, "mp0", fmt.Sprintf("local-lvm:vm-%d-disk-1,mp=/srv/data,backup=1,size=1G", vmid))
	set(i%10 == 3, "mp1", "/tank/share,mp=/share,ro=1")
	set(i%17 == 5, "dev0", "/dev/dri/renderD128,gid=44,mode=0660")
	set(i%3 == 0, "features", "nesting=1")
	set(i%8 == 1, "features", "keyctl=1,nesting=1")
	set(i%2 == 0, "tags", "team-a;web")
	set(i%5 == 1, "tags", "db")
	set(i%6 == 0, "startup", fmt.Sprintf("order=%d,up=5", i))
	set(i%4 == 2, "description", fmt.Sprintf("Hand-made container %d.\nAsk ops before touching it.", i))
	set(i%9 == 4, "protection", "1")
	set(i%10 == 1, "timezone", "Europe/Vienna")
	set(i%3 == 2, "ostype", "alpine")
	set(i%12 == 0, "nameserver", "1.1.1.1 9.9.9.9")
	set(i%12 == 0, "searchdomain", "example.com")
	set(i%13 == 6, "tty", "4")
}
