package manager

import (
	"k8s.io/apimachinery/pkg/api/meta"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// lastAppliedAnnotation is where client-side `kubectl apply` (and Argo CD,
// which applies that way by default) keeps a full JSON copy of what was
// applied: as large as the spec itself, and never read by the operator.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// trimForCache drops from every cached object what the operator never reads:
// managedFields and the last-applied copy of the spec. At 10,000 Applications
// they are the larger part of what the informers hold. It is safe only
// because every metadata write of ours is a patch computed between two cached
// copies (see patchMeta in controllers): an Update of a trimmed copy would
// erase the annotation on the server.
func trimForCache() toolscache.TransformFunc {
	stripManaged := cache.TransformStripManagedFields()
	return func(in any) (any, error) {
		out, err := stripManaged(in)
		if err != nil {
			return out, err
		}
		if obj, err := meta.Accessor(out); err == nil {
			if a := obj.GetAnnotations(); a[lastAppliedAnnotation] != "" {
				delete(a, lastAppliedAnnotation)
				obj.SetAnnotations(a)
			}
		}
		return out, nil
	}
}
