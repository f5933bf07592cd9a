package proxmox

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// PoolManager changes which resource pool a guest is in. A guest is in at
// most one pool (user.cfg maps each guest to one). Membership shows in the
// cluster listing (ContainerSummary.Pool), so no read is needed here.
type PoolManager interface {
	// JoinPool puts vmid into pool, moving it out of the pool it is in.
	// Being a member already is success.
	JoinPool(ctx context.Context, pool string, vmid int) error
	// LeavePool takes vmid out of pool. Not being a member is success.
	LeavePool(ctx context.Context, pool string, vmid int) error
}

// JoinPool is PUT /pools with allow-move (PVE 9 refuses to move a guest
// between pools without it, and then also needs Pool.Allocate on the pool
// it leaves).
func (c *APIClient) JoinPool(ctx context.Context, pool string, vmid int) error {
	body := map[string]any{"poolid": pool, "vms": strconv.Itoa(vmid), "allow-move": 1}
	err := c.do(ctx, request{method: http.MethodPut, path: "/pools", body: body})
	if err != nil && !poolSays(err, "is already a pool member") {
		return fmt.Errorf("put container %d into pool %s: %w", vmid, pool, err)
	}
	return nil
}

// LeavePool is PUT /pools with delete.
func (c *APIClient) LeavePool(ctx context.Context, pool string, vmid int) error {
	body := map[string]any{"poolid": pool, "vms": strconv.Itoa(vmid), "delete": 1}
	err := c.do(ctx, request{method: http.MethodPut, path: "/pools", body: body})
	if err != nil && !poolSays(err, "is not a pool member") {
		return fmt.Errorf("take container %d out of pool %s: %w", vmid, pool, err)
	}
	return nil
}

// poolSays reports update_pool's plain die with text (pve-manager
// PVE/API2/Pool.pm): the membership already is what was asked for.
func poolSays(err error, text string) bool {
	apiErr, plain := plainDie(err)
	return plain && strings.Contains(apiErr.Message, text)
}
