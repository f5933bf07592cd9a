package controllers

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// addFinalizer puts the finalizer on obj before the first Proxmox side
// effect. added is true when it wrote obj, and the pass must end there (the
// next starts from the updated object). A conflict is the cache lagging
// behind an earlier write of ours: it is retried quietly instead of being
// logged as a "Reconciler error".
func addFinalizer(ctx context.Context, c client.Client, obj client.Object, finalizer string) (added bool, err error) {
	if !controllerutil.AddFinalizer(obj, finalizer) {
		return false, nil
	}
	if err := c.Update(ctx, obj); err != nil && !apierrors.IsConflict(err) {
		return true, err
	}
	return true, nil
}
