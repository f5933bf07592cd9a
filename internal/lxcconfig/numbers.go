package lxcconfig

import (
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// decimal renders a quantity as the plain decimal number PVE's "number"
// options take ("1.5", "0.25", "12"): a Quantity prints 1.5 as "1500m",
// which PVE refuses. Three decimals are as precise as a Quantity's milli
// value, and more than PVE's cpulimit or rate ever meaningfully use.
func decimal(q resource.Quantity) string {
	m := q.MilliValue()
	s := strconv.FormatInt(m/1000, 10)
	if frac := m % 1000; frac != 0 {
		s += "." + strings.TrimRight(strconv.FormatInt(1000+frac, 10)[1:], "0")
	}
	return s
}

// sameNumber compares two of PVE's decimal numbers by value: PVE stores a
// number option as it was written, so "1.50" and "1.5" are the same limit.
func sameNumber(a, b string) bool {
	x, errA := strconv.ParseFloat(a, 64)
	y, errB := strconv.ParseFloat(b, 64)
	if errA != nil || errB != nil {
		return a == b
	}
	return x == y
}
