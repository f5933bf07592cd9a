package pvesim_test

import (
	"context"
	"fmt"
	"log"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"

	"github.com/pve-operator/pve-operator/internal/pvesim"
)

// A test starts a simulator, seeds an unmanaged container, breaks something
// and drives it through go-proxmox with proper TLS verification.
func Example() {
	srv, err := pvesim.New(pvesim.DefaultOptions()) // pve1..pve3, local + local-lvm, fast tasks
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	_ = srv.AddContainer("pve1", 100, map[string]string{"hostname": "legacy", "memory": "1024"}, true)
	_ = srv.SetLock(100, "backup") // a crashed vzdump left its lock behind

	c := proxmox.NewClient(srv.URL(),
		proxmox.WithHTTPClient(srv.HTTPClient()), // trusts srv.CertPool()
		proxmox.WithAPIToken(pvesim.DefaultTokenID, pvesim.DefaultTokenSecret))
	ctx := context.Background()
	node, _ := c.Node(ctx, "pve1")
	ct, _ := node.Container(ctx, 100)
	_, err = ct.Config(ctx, proxmox.ContainerOption{Name: "cores", Value: 2})
	fmt.Println(err)

	srv.FailRequests("GET", "/cluster/resources", 1, 503, "")
	srv.StallTasks(pvesim.TaskVzdump, "100", 1)

	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = srv.WaitIdle(wctx)
	fmt.Println(srv.RequestCount("PUT /nodes/{node}/lxc/{vmid}/config"))
	// Output:
	// 500 CT is locked (backup)
	// 1
}
