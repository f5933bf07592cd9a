package controllers

import (
	"math"

	"k8s.io/apimachinery/pkg/api/resource"
)

// humanSize rounds bytes to a short binary quantity for kubectl's Size
// column: the largest power of 1024 that still leaves at least two digits,
// so 900,676,608 bytes read 859Mi and 1.4 GiB reads 1434Mi rather than 1Gi.
func humanSize(bytes int64) string {
	if bytes <= 0 {
		return ""
	}
	unit := int64(1)
	for unit <= math.MaxInt64/1024 && bytes >= 10*unit*1024 {
		unit *= 1024
	}
	rounded := (bytes + unit/2) / unit
	return resource.NewQuantity(rounded*unit, resource.BinarySI).String()
}
