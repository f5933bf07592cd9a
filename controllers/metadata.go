package controllers

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// patchMeta applies change to obj and writes only what it changed, as a
// merge patch carrying obj's resourceVersion. Never an Update: the cache
// drops fields the operator does not read (managedFields, the last-applied
// annotation), and an Update of such a copy would erase them on the server.
// The resourceVersion makes a concurrent write a conflict, so a finalizer
// list replaced by the patch cannot drop someone else's entry.
func patchMeta(ctx context.Context, c client.Client, obj client.Object, change func()) error {
	before, ok := obj.DeepCopyObject().(client.Object)
	if !ok {
		return nil
	}
	change()
	return c.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
}

// removeFinalizer takes finalizer off obj once its cleanup is done; an
// object already gone is fine.
func removeFinalizer(ctx context.Context, c client.Client, obj client.Object, finalizer string) error {
	if !controllerutil.ContainsFinalizer(obj, finalizer) {
		return nil
	}
	return client.IgnoreNotFound(patchMeta(ctx, c, obj, func() { controllerutil.RemoveFinalizer(obj, finalizer) }))
}

// addFinalizer puts the finalizer on obj before the first Proxmox side
// effect. added is true when it wrote obj, and the pass must end there (the
// next starts from the updated object). A conflict is the cache lagging
// behind an earlier write of ours: it is retried quietly instead of being
// logged as a "Reconciler error".
func addFinalizer(ctx context.Context, c client.Client, obj client.Object, finalizer string) (added bool, err error) {
	if controllerutil.ContainsFinalizer(obj, finalizer) {
		return false, nil
	}
	err = patchMeta(ctx, c, obj, func() { controllerutil.AddFinalizer(obj, finalizer) })
	if err != nil && !apierrors.IsConflict(err) {
		return true, err
	}
	return true, nil
}
