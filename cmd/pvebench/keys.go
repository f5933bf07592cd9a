package main

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/testenv"
)

// benchApp is the i-th Application of the create phase, on its
// round-robin host. With -keys it
// declares ten of the container keys beyond the basic ones (issue 16), all
// of which an API token may set, so that the bound shows what the breadth
// of a real container's config costs the create path: nothing but the
// bytes of one bigger create call and, for keys PVE only takes in a config
// update, none at all.
func benchApp(c config, i int) *v1alpha1.Application {
	app := testenv.SmallApp(namespace, appName(i), hostName(c, appHost(c, i)))
	if !c.Keys {
		return app
	}
	s := &app.Spec
	s.Resources.CPULimit = ptr.To(resource.MustParse("0.5"))                                      // 1 cpulimit
	s.Resources.CPUUnits = ptr.To[int32](200)                                                     // 2 cpuunits
	s.Startup = &v1alpha1.Startup{Order: ptr.To(int32(i % 10)), UpDelaySeconds: ptr.To[int32](5)} // 3 startup
	s.Timezone = "Europe/Vienna"                                                                  // 4 timezone
	s.ConsoleMode = "shell"                                                                       // 5 cmode
	s.TTYs = ptr.To[int32](1)                                                                     // 6 tty
	s.Description = ptr.To(fmt.Sprintf("bench container %d", i))                                  // 7 description
	s.RootFS.MountOptions = []string{"noatime", "lazytime"}                                       // 8 rootfs options
	s.Network = []v1alpha1.NetworkInterface{{
		Name: "eth0", Bridge: "vmbr0", IPv4: "dhcp",
		MACAddress: benchMAC(i),                      // 9 hwaddr
		Rate:       ptr.To(resource.MustParse("50")), // 10 rate
	}}
	return app
}

// benchMAC is a locally administered unicast MAC unique to the i-th
// Application, as a DHCP reservation would pin it.
func benchMAC(i int) string {
	return fmt.Sprintf("02:00:%02X:%02X:%02X:%02X", byte(i>>24), byte(i>>16), byte(i>>8), byte(i))
}
